"""Connecting to a Ray cluster for indexing: ``local`` starts one on this machine (and stops
it after the run), ``auto`` joins the cluster this machine belongs to (``ray start`` was run
here), anything else is a cluster address (``HOST:6379`` or ``ray://HOST:10001``). Ray is an
optional extra, imported only here and in the workers, when a run asks for it."""

from __future__ import annotations

import logging
import os
import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Iterator

from searchengine.errors import ClusterUnavailableError, InvalidInputError

log = logging.getLogger(__name__)

INSTALL_HINT = "install it with: pip install 'searchengine[ray]' (or pip install 'ray[data]==2.60.0')"
LOCAL, AUTO = "local", "auto"


@dataclass(frozen=True)
class Resources:
    """What the cluster has (``ray.cluster_resources()``), and how long connecting took."""

    cpus: float
    gpus: float
    connect_seconds: float
    started_here: bool  # a local cluster this run started (and stops)


def import_ray() -> ModuleType:
    """``ray`` with Ray Data, or a typed error that says how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401  (the pipeline runs on Ray Data)
    except ImportError as exc:
        raise ClusterUnavailableError(f"indexing with --ray needs Ray, which is not installed ({exc}); "
                                      f"{INSTALL_HINT}") from exc
    return ray


def check_address(address: str) -> str:
    """``address`` cleaned, or a typed error at once: a malformed one, or one nothing
    answers at (Ray itself retries a dead address for minutes)."""
    address = (address or "").strip()
    if not address:
        raise InvalidInputError("--ray needs local, auto or a cluster address (HOST:PORT or ray://HOST:PORT)")
    if address not in (LOCAL, AUTO):
        _check_reachable(address)
    return address


def local_cpus() -> int:
    """The CPUs this process may use (its affinity, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@contextmanager
def connected(address: str, *, num_cpus: int | None = None) -> Iterator[Resources]:
    """Be connected to the cluster named by ``address`` for the block. A Ray session this
    process already has (a test's, a benchmark's, a notebook's) is used as it is and left
    running; a ``local`` cluster started here is shut down afterwards.

    No ``runtime_env`` is set: the workers of a local cluster inherit this process's
    environment (PYTHONPATH, SEARCHENGINE_*, HF_HUB_OFFLINE), and one would make Ray start
    fresh worker processes for it (about 5 s more before the first batch). The nodes of a
    real cluster run their own installed searchengine."""
    address = check_address(address)
    ray = import_ray()
    _quiet_ray_data()
    t0 = time.perf_counter()
    started = False
    if not ray.is_initialized():
        kwargs: dict = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
                            configure_logging=True)
        try:
            if address == LOCAL:
                ray.init(num_cpus=num_cpus or local_cpus(), **kwargs)
            else:
                ray.init(address=address, **kwargs)
        except Exception as exc:  # ConnectionError, RuntimeError, ValueError: all mean "no cluster"
            raise ClusterUnavailableError(f"cannot {'start a local' if address == LOCAL else 'connect to the'} "
                                          f"Ray cluster ({address}): {type(exc).__name__}: {exc}") from exc
        started = True
    resources = ray.cluster_resources()
    found = Resources(cpus=float(resources.get("CPU", 0)), gpus=float(resources.get("GPU", 0)),
                      connect_seconds=time.perf_counter() - t0, started_here=started and address == LOCAL)
    log.info("Ray cluster %s: %.0f CPUs, %.0f GPUs (connected in %.1fs)", address, found.cpus, found.gpus,
             found.connect_seconds)
    try:
        yield found
    finally:
        if started:
            ray.shutdown()


def _check_reachable(address: str, timeout: float = 10.0) -> None:
    """A TCP connection to the address, or a typed error within ``timeout`` seconds."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        raise InvalidInputError(f"--ray {address!r}: give local, auto, HOST:PORT or ray://HOST:PORT")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ClusterUnavailableError(f"no Ray cluster answers at {address}: {exc.strerror or exc}") from exc


def _quiet_ray_data() -> None:
    """No Ray Data progress bars or per-dataset statistics on the terminal: the run draws its
    own bar."""
    from ray.data import DataContext

    logging.getLogger("ray.data").setLevel(logging.WARNING)
    logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)  # "progress bars disabled"
    ctx = DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.enable_operator_progress_bars = False
    ctx.enable_auto_log_stats = False
    ctx.verbose_stats_logs = False
