"""The Ray session and the pool of idle shard actors that later runs reuse."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Iterable
from typing import Any

from credsim.backends.ray.shard import ShardWorker
from credsim.errors import CredsimError
from credsim.backends.base import default_threads

#: Idle shard actors kept per device kind for the next run in this process (start-up is seconds).
POOL_SIZE = 16


# --- Ray session and actor pool -------------------------------------------------------------------


def ensure_ray(num_cpus: int | None = None):
    """The ``ray`` module, initialised: connected to ``$RAY_ADDRESS`` if set, else a local instance."""
    try:
        import ray
    except ModuleNotFoundError:
        raise CredsimError("backend: ray is not installed (pip install 'credsim[ray]')") from None
    if not ray.is_initialized():
        quiet = {"logging_level": logging.ERROR, "log_to_driver": True, "ignore_reinit_error": True}
        address = os.environ.get("RAY_ADDRESS")
        # ray.init replaces the SIGTERM handler with one that exits at once; a run that asked to stop
        # cleanly on SIGTERM (checkpoint first: credsim.reliability.checkpoint) keeps its own
        keep = signal.getsignal(signal.SIGTERM) if threading.current_thread() is threading.main_thread() else None
        try:
            if address:
                ray.init(address=address, **quiet)
            else:
                ray.init(num_cpus=num_cpus or default_threads(), include_dashboard=False, **quiet)
        except Exception as err:  # noqa: BLE001 - connection refused, bad address, ...: one line
            where = f"the cluster at RAY_ADDRESS={address}" if address else "a local Ray instance"
            raise CredsimError(f"ray: cannot start {where}: {str(err).splitlines()[0]}") from None
        finally:
            if callable(keep) and signal.getsignal(signal.SIGTERM) is not keep:
                signal.signal(signal.SIGTERM, keep)
    return ray


POOL: dict = {"job": None, "idle": {}}


def _job_id(ray) -> str:
    return ray.get_runtime_context().get_job_id()


def acquire(ray, k: int, device: str) -> list:
    if POOL["job"] != _job_id(ray):  # a new Ray session: old handles are dead
        POOL["job"], POOL["idle"] = _job_id(ray), {}
    idle = POOL["idle"].setdefault(device, [])
    take = _answering(ray, [idle.pop() for _ in range(min(k, len(idle)))])
    opts = {"scheduling_strategy": "SPREAD", "max_restarts": 0, "max_task_retries": 0}
    if device == "cuda":
        opts["num_gpus"] = 1
    cls = ray.remote(ShardWorker).options(**opts)
    return take + [cls.remote() for _ in range(k - len(take))]


def _answering(ray, actors: list, timeout: float = 60.0) -> list:
    """The pooled actors that still answer; the others (a process that died while idle: killed,
    out of memory, its node gone) are dropped, and fresh actors take their place."""
    live = []
    for a, ref in [(a, a.alive.remote()) for a in actors]:
        try:
            ray.get(ref, timeout=timeout)
            live.append(a)
        except Exception:  # noqa: BLE001 - dead, unreachable or silent: never reuse it
            try:
                ray.kill(a, no_restart=True)
            except Exception:  # noqa: BLE001 - already gone
                pass
    return live


def release(ray, actors: list, device: str) -> None:
    if not ray.is_initialized() or POOL["job"] != _job_id(ray):
        return
    idle = POOL["idle"].setdefault(device, [])
    for a in actors:
        if len(idle) < POOL_SIZE:
            a.release.remote()
            idle.append(a)
        else:
            ray.kill(a, no_restart=True)


def shutdown_pool() -> None:
    """Kill the idle shard actors of this process (``ray.shutdown`` does it too)."""
    import ray

    if ray.is_initialized():
        for actors in POOL["idle"].values():
            for a in actors:
                ray.kill(a, no_restart=True)
    POOL["idle"] = {}


def error_reason(err: Exception) -> str:
    text = str(err)
    if "ray.kill" in text:
        return "the actor was killed (ray.kill)"
    for hint in ("out of memory", "OOM", "SIGKILL", "SIGSEGV", "node", "exited", "died"):
        for line in text.splitlines():
            if hint in line:
                return " ".join(line.split())[:200]
    return " ".join(text.split())[:200] or type(err).__name__


# --- tasks: submit, wait, hand each result on -----------------------------------------------------


def run_tasks(
    ray,
    fn: Callable,
    items: Iterable,
    args: Callable[[Any], tuple],
    finished: Callable[[Any, Any], None],
    *,
    prefix: str,
    label: Callable[[Any], str],
    lost_label: Callable[[Any], str] | None = None,
    num_cpus: int = 1,
    timeout: float | None = None,
) -> None:
    """Run ``fn(*args(item))`` as one Ray task per item (``num_cpus`` each, retried once if its worker
    dies) and call ``finished(item, result)`` here, in the driver, as each task finishes (in the order
    they finish, one at a time).

    Every failure is one line: a task that raised is ``"{prefix}: {label(item)} failed: WHY"`` (a
    CredsimError's own text, else the first line of Ray's), a task Ray lost (its worker or node gone)
    ``"{prefix}: {lost_label(item)} was lost: WHY"``, and with a ``timeout`` (seconds) no task finishing
    within it ``"{prefix}: no run finished within T s (CREDSIM_RAY_TIMEOUT)"``. On any error or
    interrupt (a KeyboardInterrupt, or whatever ``finished`` raises) the tasks not handed on yet are
    cancelled before it propagates; what ``finished`` did for the earlier ones stays done."""
    from ray.exceptions import RayError, RayTaskError

    task = ray.remote(num_cpus=num_cpus, max_retries=1)(fn)
    index: dict = {}
    pending: list = []
    try:
        for item in items:
            ref = task.remote(*args(item))
            index[ref] = item
            pending.append(ref)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1, timeout=timeout)
            if not ready:
                raise CredsimError(f"{prefix}: no run finished within {timeout:.0f} s (CREDSIM_RAY_TIMEOUT)")
            item = index[ready[0]]
            try:
                result = ray.get(ready[0])
            except RayTaskError as err:
                cause = getattr(err, "cause", None)
                text = str(cause) if isinstance(cause, CredsimError) else str(err).splitlines()[0]
                raise CredsimError(f"{prefix}: {label(item)} failed: {text}") from None
            except RayError as err:
                lost = (lost_label or label)(item)
                raise CredsimError(f"{prefix}: {lost} was lost: {str(err).splitlines()[0]}") from None
            finished(item, result)
    except BaseException:
        for ref in pending:
            ray.cancel(ref, force=True)
        raise
