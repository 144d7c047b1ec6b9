"""Pictures for the report without any plotting library: PNG digits, SVG curves, an HTML heatmap."""
from __future__ import annotations

import base64
import html
import struct
import zlib


def png_data_uri(gray: bytes, width: int = 28, height: int = 28) -> str:
    """An 8-bit grayscale image as a data: URI (PNG written by hand: signature, IHDR, IDAT, IEND)."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + gray[r * width:(r + 1) * width] for r in range(height))
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))
    return "data:image/png;base64," + base64.b64encode(png).decode()


def line_chart(series: dict[str, list[float]], title: str, width: int = 420, height: int = 200,
               x_label: str = "epoch", xs: dict[str, list[int]] | None = None, x_count: int | None = None,
               markers: bool = False) -> str:
    """An inline SVG of one or more series over an index (epochs, bins, rows). xs: each series' positions
    on a shared axis of x_count places (default: 0, 1, ...); markers: a dot per point (a one-point series
    is no line)."""
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
    values = [v for s in series.values() for v in s]
    if not values:
        return ""
    lo, hi = min(values), max(values)
    hi = hi if hi > lo else lo + 1
    n = x_count or max(len(s) for s in series.values())
    pad = 30

    def xy(i, v):
        x = pad + (width - 2 * pad) * (i / max(n - 1, 1))
        y = height - pad - (height - 2 * pad) * (v - lo) / (hi - lo)
        return f"{x:.1f},{y:.1f}"

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">',
             f'<text x="{pad}" y="16" font-size="12">{html.escape(title)}</text>',
             f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#999"/>',
             f'<text x="2" y="{pad + 4}" font-size="10">{hi:.3g}</text>',
             f'<text x="2" y="{height - pad}" font-size="10">{lo:.3g}</text>',
             f'<text x="{width - pad - 50}" y="16" font-size="10">{html.escape(x_label)}s: {n}</text>']
    legend_x = pad
    for k, (name, s) in enumerate(series.items()):
        color = colors[k % len(colors)]
        at = list(zip((xs or {}).get(name, range(len(s))), s))
        points = " ".join(xy(i, v) for i, v in at)
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{points}"/>')
        if markers:
            parts += [f'<circle cx="{xy(i, v).split(",")[0]}" cy="{xy(i, v).split(",")[1]}" r="3" fill="{color}"/>'
                      for i, v in at]
        parts.append(f'<text x="{legend_x}" y="{height - 8}" font-size="10" fill="{color}">{html.escape(name)}</text>')
        legend_x += max(110, 6 * len(name) + 20)   # long names (fashion_mnist (test)) must not overlap
    return "".join(parts) + "</svg>"


def bar_chart(groups: dict[str, list[float]], categories: list[str], title: str, width: int = 560,
              height: int = 200) -> str:
    """Grouped bars: one group per category, one bar per series (e.g. label shares per split)."""
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
    hi = max((v for s in groups.values() for v in s), default=0) or 1
    pad, n, k = 30, len(categories), max(len(groups), 1)
    slot = (width - 2 * pad) / max(n, 1)
    bar = slot * 0.8 / k
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">',
             f'<text x="{pad}" y="16" font-size="12">{html.escape(title)}</text>',
             f'<text x="2" y="{pad + 4}" font-size="10">{hi:.3g}</text>',
             f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#999"/>']
    for j, (name, values) in enumerate(groups.items()):
        color = colors[j % len(colors)]
        for i, v in enumerate(values):
            h = (height - 2 * pad) * v / hi
            x = pad + i * slot + slot * 0.1 + j * bar
            parts.append(f'<rect x="{x:.1f}" y="{height - pad - h:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{color}">'
                         f'<title>{html.escape(name)} {html.escape(categories[i])}: {v:.3f}</title></rect>')
        parts.append(f'<text x="{pad + 90 * j}" y="{height - 4}" font-size="10" fill="{color}">{html.escape(name)}</text>')
    for i, c in enumerate(categories):
        parts.append(f'<text x="{pad + i * slot + slot * 0.3:.1f}" y="{height - pad + 12}" font-size="10">{html.escape(c)}</text>')
    return "".join(parts) + "</svg>"


def confusion_heatmap(matrix: list[list[int]], names: list[str]) -> str:
    """Rows: true class; columns: predicted. Cells shaded by their share of the row."""
    head = "".join(f'<th title="{html.escape(n)}">{i}</th>' for i, n in enumerate(names))
    rows = []
    for t, row in enumerate(matrix):
        total = max(sum(row), 1)
        cells = []
        for p, n in enumerate(row):
            share = n / total
            color = f"rgba(40,160,80,{share:.2f})" if t == p else f"rgba(220,50,50,{min(1.0, 3 * share):.2f})"
            cells.append(f'<td class="num" style="background:{color}" title="true {html.escape(names[t])}, '
                         f'predicted {html.escape(names[p])}: {n}">{n}</td>')
        name = names[t] if names[t] == str(t) else f"{t} {names[t]}"
        rows.append(f"<tr><th>{html.escape(name)}</th>{''.join(cells)}</tr>")
    return f'<table class="confusion"><tr><th>true \\ predicted</th>{head}</tr>{"".join(rows)}</table>'


def interval_chart(rows: list[tuple[str, float, list | None]], title: str, family: str, width: int = 460,
                   lo: float | None = None) -> str:
    """One row per slice: a dot at its accuracy and a line over its 95% interval, on one shared axis
    from `lo` (default: the lowest interval bound) to 1. rows: (label, accuracy, [lower, upper])."""
    rows = [r for r in rows if r[1] is not None]
    if not rows:
        return ""
    lo = min([r[2][0] if r[2] else r[1] for r in rows] + ([lo] if lo is not None else [])) if lo is None else lo
    lo = max(0.0, min(lo, 0.999))
    left, pad, step = 150, 10, 16
    height = 34 + step * len(rows)
    x = lambda v: left + (width - left - pad) * (v - lo) / (1 - lo)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="slice-chart" data-family="{html.escape(family)}" '
             f'width="{width}" height="{height}" role="img">',
             f'<text x="4" y="14" font-size="12">{html.escape(title)}</text>',
             f'<text x="{left}" y="{height - 4}" font-size="10">{lo:.3f}</text>',
             f'<text x="{width - pad - 8}" y="{height - 4}" font-size="10">1</text>']
    for i, (label, acc, ci) in enumerate(rows):
        y = 28 + i * step
        parts.append(f'<text x="4" y="{y + 4}" font-size="10">{html.escape(label[:26])}</text>')
        if ci:
            parts.append(f'<line x1="{x(ci[0]):.1f}" y1="{y}" x2="{x(ci[1]):.1f}" y2="{y}" stroke="#888" '
                         f'stroke-width="2"/>')
        parts.append(f'<circle cx="{x(acc):.1f}" cy="{y}" r="3.5" fill="#1f77b4"><title>{html.escape(label)}: '
                     f'{acc:.4f}{f" ({ci[0]:.3f}-{ci[1]:.3f})" if ci else ""}</title></circle>')
    return "".join(parts) + "</svg>"
