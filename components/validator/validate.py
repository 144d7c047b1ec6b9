"""Statistics + expectations -> anomalies: which split, which statistic, expected vs found.

Each anomaly is {"split", "statistic", "expected", "found", "message"}; an empty list means valid.
Some rules hold whatever the expectations say, because no trusted run can make them right (ABSOLUTE):
a split of only empty images, a label missing from train, a split that is largely a copy of another.
"""
from __future__ import annotations

from components.validator.expectations import Expectations, label_shares, linf, pixel_shares

LEAK_SHARE = 0.05   # duplicates above this share of the smaller split: that split is (partly) a copy
ABSOLUTE = ("every image of a split empty", "a label missing from train",
            f"more than {LEAK_SHARE:.0%} of a split's images also in another split")


def _a(split, statistic, expected, found, message) -> dict:
    return {"split": split, "statistic": statistic, "expected": expected, "found": found,
            "message": f"{split}: {message}"}


def _labels(name, s, exp):
    out = []
    counts, wanted = s.get("labels", {}), [str(k) for k in exp.labels]
    label_range = f"{min(exp.labels)}..{max(exp.labels)}" if exp.labels else "none"
    missing = [k for k in wanted if not counts.get(k)]
    if missing and (name == "train" or s["count"] >= exp.every_label_from):
        out.append(_a(name, "labels", f"every label in {label_range}", f"no record of label {', '.join(missing)}",
                      f"label {', '.join(missing)} missing (0 of {s['count']} records); expected every label in {label_range}"))
    extra = {k: n for k, n in counts.items() if k not in wanted}
    if extra:
        found = ", ".join(f"{k} ({n} records)" for k, n in sorted(extra.items()))
        out.append(_a(name, "labels", f"only labels {label_range}", found,
                      f"labels outside {label_range}: {found}"))
    present = [counts.get(k, 0) for k in wanted]
    if present and min(present) > 0:
        ratio = max(present) / min(present)
        if ratio > exp.max_class_imbalance:
            most, least = wanted[present.index(max(present))], wanted[present.index(min(present))]
            out.append(_a(name, "class_imbalance", f"<= {exp.max_class_imbalance}", round(ratio, 3),
                          f"class imbalance {ratio:.1f}x (label {most}: {max(present)} records, label {least}: "
                          f"{min(present)}); expected at most {exp.max_class_imbalance}x"))
    return out


def _split(name, s, exp):
    n = s.get("count", 0)
    out = []
    floor = exp.min_count.get(name)
    if floor is not None and n < floor:
        out.append(_a(name, "count", f">= {floor}", n, f"{n} records; expected at least {floor}"))
    if not n:
        return out
    out += _labels(name, s, exp)
    shape = (s["shape"]["rows"], s["shape"]["width"])
    if any(lo != want or hi != want for (lo, hi), want in zip(shape, exp.image_shape)):
        out.append(_a(name, "image_shape", list(exp.image_shape), [list(shape[0]), list(shape[1])],
                      f"image rows {shape[0]}, width {shape[1]}; expected {exp.image_shape[0]}x{exp.image_shape[1]}"))
    lo, hi = s["pixel_range"]
    if lo < exp.intensity_range[0] or hi > exp.intensity_range[1]:
        out.append(_a(name, "intensity_range", list(exp.intensity_range), [lo, hi],
                      f"pixel values span [{lo:g}, {hi:g}]; expected within [{exp.intensity_range[0]:g}, {exp.intensity_range[1]:g}]"))
    for key, bound, what in (("empty", exp.max_empty_fraction, "empty (no pixel above 0)"),
                             ("saturated", exp.max_saturated_fraction, "saturated (>= 90% of pixels at 255)")):
        share = s.get(key, 0) / n
        if share > bound:
            out.append(_a(name, f"{key}_fraction", f"<= {bound}", round(share, 4),
                          f"{share:.1%} of images are {what} ({s.get(key, 0)} of {n}); expected at most {bound:.1%}"))
    return out


def _drift(name, a, b, versus, exp):
    out = []
    if not a.get("count") or not b.get("count"):
        return out
    d = linf(label_shares(a, exp.labels), label_shares(b, exp.labels))
    if d > exp.max_label_drift:
        out.append(_a(name, "label_drift", f"<= {exp.max_label_drift}", round(d, 4),
                      f"label distribution drifts {d:.3f} (L-inf of label shares) from {versus}; "
                      f"expected at most {exp.max_label_drift}"))
    pa, pb = pixel_shares(a), pixel_shares(b)
    d = linf(pa, pb) if len(pa) == len(pb) else 1.0
    if d > exp.max_intensity_drift:
        out.append(_a(name, "intensity_drift", f"<= {exp.max_intensity_drift}", round(d, 4),
                      f"intensity histogram drifts {d:.3f} (L-inf of 16-bin shares) from {versus}; "
                      f"expected at most {exp.max_intensity_drift}"))
    return out


def drift(stats: dict, previous: dict | None, labels) -> dict:
    """{split: {'label': L-inf of label shares, 'intensity': L-inf of pixel shares}} against the previous
    accepted run's statistics, whether or not a bound is crossed (the report shows it)."""
    out = {}
    for name, s in stats["splits"].items():
        b = (previous or {}).get("splits", {}).get(name)
        if b and s.get("count") and b.get("count"):
            pa, pb = pixel_shares(s), pixel_shares(b)
            out[name] = {"label": round(linf(label_shares(s, labels), label_shares(b, labels)), 4),
                         "intensity": round(linf(pa, pb), 4) if len(pa) == len(pb) else 1.0}
    return out


def anomalies(stats: dict, exp: Expectations, previous: dict | None = None) -> list[dict]:
    """previous: the statistics of the last accepted run on this dataset, if any."""
    splits = stats["splits"]
    out = []
    if stats.get("malformed", {}).get("count"):
        m = stats["malformed"]
        out.append(_a("all", "malformed", 0, m["count"], f"{m['count']} records do not parse, e.g. {m['examples'][:1]}"))
    for name in exp.min_count:
        if name not in splits:
            out.append(_a(name, "count", f">= {exp.min_count[name]}", "no such split", "split missing"))
    for name, s in splits.items():
        out += _split(name, s, exp)
        if name != "train" and "train" in splits:
            out += _drift(name, s, splits["train"], "train", exp)
        if previous and name in previous.get("splits", {}):
            out += _drift(name, s, previous["splits"][name], "the previous accepted run", exp)
    out += _absolute(stats)
    for pair, n in sorted(stats.get("cross_split_duplicates", {}).items()):
        if n > exp.max_cross_split_duplicates:
            a, b = pair.split("~")
            out.append(_a(pair, "cross_split_duplicates", f"<= {exp.max_cross_split_duplicates}", n,
                          f"{n} images appear in both {a} and {b} (identical pixels: {a} data leaks into {b} or back); "
                          f"expected at most {exp.max_cross_split_duplicates}"))
    return out


def _absolute(stats: dict) -> list[dict]:
    """The rules of ABSOLUTE that no expectations file can bound (train's labels are checked in _labels)."""
    splits, out = stats["splits"], []
    for name, s in splits.items():
        if s.get("count") and s.get("empty", 0) == s["count"]:
            out.append(_a(name, "all_empty", "images with ink", f"{s['count']} of {s['count']} empty",
                          f"every image is empty (all {s['count']} have no pixel above 0); expected images with ink"))
    for pair, n in sorted(stats.get("cross_split_duplicates", {}).items()):
        a, b = pair.split("~")
        smaller = min(splits.get(a, {}).get("count", 0), splits.get(b, {}).get("count", 0))
        if smaller and n > LEAK_SHARE * smaller:
            out.append(_a(pair, "split_leak", f"<= {LEAK_SHARE:.0%} of the smaller split", n,
                          f"{n} of the {smaller} images of the smaller of {a} and {b} are in both: one split "
                          f"leaks into the other; expected at most {LEAK_SHARE:.0%}, whatever the expectations"))
    return out
