"""What a run needs around it on a runner profile that is not in-process Beam: a reachable Flink cluster, the
warm SDK worker pool its TaskManagers call, the podman service of the DOCKER environment, and a pipeline root
the workers can read. The core's runner receives one of these (pipeline/runner.py `Services`) and never
names Flink or podman itself.

    from ops.services import for_runner; run(cfg, beam_args, dag, services=for_runner(beam_args))
"""
from __future__ import annotations

import contextlib

from ops import podman_service, workers
from pipeline.runner import Services


class ClusterServices(Services):
    """Flink (local processes or pods) and Dataflow: checked before the first step, served during the run."""

    def __init__(self, beam_args):
        self.beam_args = list(beam_args)

    def prepare(self, cfg):
        workers.preflight(self.beam_args)   # a missing cluster fails now, in seconds, not in the first Beam step
        cfg = workers.root_for_workers(cfg, self.beam_args)
        podman_service.preflight(cfg, self.beam_args)
        return cfg

    @contextlib.contextmanager
    def serving(self, cfg):
        with workers.worker_pool(cfg, self.beam_args) as pool, podman_service.sweeper(cfg, self.beam_args):
            yield workers.watchdog(self.beam_args, pool)


def for_runner(beam_args) -> Services:
    """The services of the runner the Beam flags name: none for the in-process runners."""
    return Services() if workers.local_runner(beam_args) else ClusterServices(beam_args)
