"""The Flink cluster in pods (k8s/flink.yaml, a gs:// root on the object store pod) against the in-process
runner, cold runs with nothing cached (issue #42 items 2 and 3).

    make bench-pods                           # both measures below; brings the cluster up and down if not up
    python bench/pods.py                      # Fashion-MNIST 70k, 1 epoch: three runs, phases of the pods run
    python bench/pods.py --scale 700000       # scale-out: the pods with one slot per step, then two
    python bench/pods.py --scale 700000 --slots 1    # one run: where its cores go, no ratio

The 70k measure runs in-process on a local root, in-process on a gs:// root of the same object store, and on
the pods on a gs:// root: the pods' ratio is read against in-process on the same kind of root (the bucket's
own cost is the second run against the first), each Beam step's phases come from the pods' logs
(bench/flink_phases.py), and the peak memory of every container is sampled. The scale measure builds
Fashion-MNIST 10x (bench/scale.py, 700k images) and runs the pipeline on the pods twice, with
--parallelism=1 and =2, a few training steps, as tasks (`begin`, then each step up to the evaluator alone):
each Beam step's records per second from its Flink job's running time, and the ratio of two slots to one
(goal >= 1.7x).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
from bench.flink import BEAM_STEPS  # noqa: E402
from bench.harness import cpu_flags, cpu_ticks, record, stolen, verdict  # noqa: E402
from bench.pods_run import pods_phases, run, run_as_tasks, sidecar_starts  # noqa: E402

STEPS_TO_EVALUATOR = ("ingest", "statistics", "transform", "validator", "trainer", "evaluator")


def seventy_k(args, cluster, env: dict, tmp: str) -> None:
    bucket = f"gs://{cluster.BUCKET}/bench-{uuid.uuid4().hex[:8]}"
    ticks = cpu_ticks()
    local = run(os.path.join(tmp, "direct"), "direct", args.dataset, env, f"{tmp}/direct.sqlite")
    on_gs = run(f"{bucket}/direct", "direct", args.dataset, env, f"{tmp}/direct-gs.sqlite")
    pods = run(f"{bucket}/pods", "flink-pods", args.dataset, env, f"{tmp}/pods.sqlite", sample_pods=True)
    phases = pods_phases(pods, env, tmp)
    print(f"\n{args.dataset}, 1 epoch, cold, on {cpu_flags()}; {stolen(ticks)}")
    print(f"  {'step':<16}{'direct s':>10}{'direct gs s':>12}{'pods gs s':>11}{'pods/gs':>9}")
    for step in pods["steps"]:
        d, g, p = local["steps"][step], on_gs["steps"][step], pods["steps"][step]
        mark = " (Beam)" if step in BEAM_STEPS else ""
        print(f"  {step:<16}{d:>10.1f}{g:>12.1f}{p:>11.1f}{(p / g if g > 0.05 else float('nan')):>9.2f}{mark}")
    ratio, bucket_cost = pods["wall"] / on_gs["wall"], on_gs["wall"] / local["wall"]
    print(f"  {'whole run':<16}{local['wall']:>10.1f}{on_gs['wall']:>12.1f}{pods['wall']:>11.1f}{ratio:>9.2f}")
    print(f"  accuracy: direct {local['accuracy']:.4f}, direct on gs {on_gs['accuracy']:.4f}, pods {pods['accuracy']:.4f}")
    print(f"  SDK workers handed out by the two sidecars: {sidecar_starts(cluster, env, pods['since'])}")
    print(f"  peak memory (GB): driver {pods['peak']['driver']:.2f}, every container summed {pods['peak']['containers']:.2f}")
    from bench.flink_phases import table
    print(f"\nphases of the pods run {pods['run_id']} (s; bench/flink_phases.py):\n{table(phases)}")
    for step in BEAM_STEPS:
        fixed = pods["steps"][step] - on_gs["steps"][step]
        print(f"  {step}: fixed cost on the pods {fixed:.1f} s against in-process on the same root")
    record("pods.py", f"{args.dataset}, 1 epoch, cold: the whole run on the pods {ratio:.2f}x in-process on the same "
           f"gs:// root ({pods['wall']:.1f} against {on_gs['wall']:.1f} s)", verdict("<= 1.5", ratio))
    record("pods.py", f"the gs:// root's own cost: in-process on gs:// {bucket_cost:.2f}x in-process on a local root "
           f"({on_gs['wall']:.1f} against {local['wall']:.1f} s)", "none; context")


def scale(args, cluster, env: dict, tmp: str) -> None:
    from bench.scale import make_datasets
    from data.registry import DATASETS
    from pipeline import artifacts as af
    folder = make_datasets([args.scale])[args.scale]
    config = os.path.join(tmp, "pipeline.yaml")
    import yaml
    base = yaml.safe_load(open(os.path.join(REPO, "pipeline.yaml")))
    base["data"].setdefault("datasets", {})["scaled"] = {
        "format": "idx", "path": folder, "class_names": list(DATASETS["fashion_mnist"].class_names)}
    with open(config, "w") as f:
        yaml.safe_dump(base, f)
    extra = ["--config", config, "--set", "trainer.steps_per_epoch=20", "--set", "trainer.max_steps=null",
             "--set", "trainer.early_stopping=null", "--set", "evaluator.min_accuracy=0.0",
             "--set", f"validation.expectations={tmp}/expectations.yaml"]
    ticks = cpu_ticks()
    runs = {}
    for slots in args.slots:   # each Beam step alone (as tasks): statistics beside transform would share the cores
        runs[slots] = run_as_tasks(f"gs://{cluster.BUCKET}/scale-{slots}-{uuid.uuid4().hex[:6]}", "flink-pods",
                                   "scaled", env, f"{tmp}/scale-{slots}.sqlite", STEPS_TO_EVALUATOR,
                                   extra=extra + ["--set", f"beam.extra_args=[--parallelism={slots}]"])
        runs[slots]["phases"] = pods_phases(runs[slots], env, tmp)
        # the object store pod keeps its objects in memory: 700k images' artifacts are several GB
        af.discard(runs[slots]["root"])
    print(f"\n{args.scale} images on the pods on {cpu_flags()}; {stolen(ticks)}")
    for slots in args.slots:
        cores_busy(runs[slots], slots)
    if args.slots != [1, 2]:
        return
    print(f"  {'step':<12}{'records':>9}{'1 slot s':>10}{'2 slots s':>11}{'1 slot /s':>11}{'2 slots /s':>12}{'ratio':>7}"
          f"{'wall 1':>8}{'wall 2':>8}{'TMs 2':>7}")
    ratios = {}
    for step in BEAM_STEPS:
        n = runs[1]["records"][step]
        one, two = (runs[s]["phases"][step]["running"] for s in (1, 2))
        ratios[step] = one / two
        print(f"  {step:<12}{n:>9}{one:>10.1f}{two:>11.1f}{n / one:>11.0f}{n / two:>12.0f}{ratios[step]:>7.2f}"
              f"{runs[1]['steps'][step]:>8.1f}{runs[2]['steps'][step]:>8.1f}{runs[2]['phases'][step]['taskmanagers']:>7}")
    print("  (seconds: the Flink job's RUNNING to FINISHED; wall: the whole step, fixed cost included; TMs 2: the "
          "TaskManager pods the two-slot job's subtasks ran in)")
    projection(runs, ratios)
    record("pods.py", f"{args.scale} images on the pods, two slots against one, records/s per Beam step: "
           + ", ".join(f"{s} {r:.2f}x" for s, r in ratios.items()), verdict(">= 1.7", min(ratios.values())))


def cores_busy(result: dict, slots: int) -> None:
    """Each Beam step's cores in use, by where: CPU seconds over the step's wall (this machine has 2)."""
    from bench.pods_run import GROUPS
    labels = ["driver"] + [label for _, label in GROUPS]
    print(f"  {slots} slot(s): cores busy during each step (CPU seconds / wall)")
    print("  " + f"{'step':<12}" + "".join(f"{label:>16}" for label in labels) + f"{'all':>8}")
    for step in BEAM_STEPS:
        c = result["cpu"][step]
        print("  " + f"{step:<12}" + "".join(f"{c[label] / c['wall']:>16.2f}" for label in labels)
              + f"{sum(c[label] for label in labels) / c['wall']:>8.2f}")


def projection(runs: dict, ratios: dict, machines=(1, 2, 4, 8, 16)) -> None:
    """A projection, not a measure: each Beam step's seconds on N one-slot machines = its fixed cost (the
    two-slot run's wall less its job's running time) + its one-slot running time / speed-up(N), where every
    slot after the first adds what the second added (speed-up(N) = 1 + (N - 1) * (ratio - 1))."""
    print("\n  projection of the four Beam steps' seconds on N machines of one slot each (not measured):")
    print("  " + "".join(f"{'N=' + str(n):>9}" for n in machines))
    totals = []
    for n in machines:
        total = 0.0
        for step, ratio in ratios.items():
            one, two = runs[1]["phases"][step]["running"], runs[2]["phases"][step]["running"]
            fixed = runs[2]["steps"][step] - two
            total += fixed + one / max(1 + (n - 1) * (ratio - 1), min(1.0, ratio))   # no gain: flat
        totals.append(total)
    print("  " + "".join(f"{t:>9.0f}" for t in totals))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--scale", type=int, help="images (bench/scale.py builds them): the scale-out measure")
    parser.add_argument("--slots", default="1,2", type=lambda v: [int(n) for n in v.split(",")],
                        help="the scale measure's runs, by slots per step; the ratio only with 1,2")
    args = parser.parse_args()
    from cli.config import load_config
    from ops import cluster
    from ops.worker_image import podman_env
    cfg = load_config(os.path.join(REPO, "pipeline.yaml"))
    started = not cluster.status_overview(cfg)
    if started:
        cluster.up(cfg)
    env = {**os.environ, **podman_env(cfg.worker), **cluster.env()}
    os.environ.update(cluster.env())   # this process reads the pods' summaries from the bucket too
    tmp = tempfile.mkdtemp(prefix="bench_pods_", dir=os.path.join(REPO, "build"))
    try:
        (scale if args.scale else seventy_k)(args, cluster, env, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if started:
            cluster.down(cfg)


if __name__ == "__main__":
    main()
