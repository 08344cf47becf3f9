"""The backends by name: a lazy registry. Asking for one imports it (numba-cuda, Ray) only then.

``make_backend(plan, "cpu" | "cuda" | "ray", ...)`` builds one for the whole population;
:func:`unavailable` says in one line what a backend lacks here (None if it can run). The interface
and the state every backend owns: :mod:`credsim.backends.base`. To add a backend: write a class
with the methods of :class:`credsim.backends.base.Backend`, add its name to :data:`NAMES` and a
branch to :func:`make_backend` and :func:`unavailable` (see docs/architecture.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from credsim.backends.base import Backend
from credsim.errors import CredsimError

if TYPE_CHECKING:
    from credsim.plan import Plan

#: Every backend, by the name ``--backend`` takes.
NAMES = ("cpu", "cuda", "ray")


def unavailable(name: str) -> str | None:
    """Why backend ``name`` cannot run here, in one line (what is missing), or None if it can."""
    if name == "cpu":
        return None
    if name == "cuda":
        from credsim.kernel.cuda_compat import unavailable_reason

        return unavailable_reason()
    if name == "ray":
        try:
            import ray  # noqa: F401
        except ImportError as err:
            return f"ray could not be imported ({err}); install credsim[ray]"
        return None
    return f"unknown backend {name!r} (choose from {', '.join(NAMES)})"


def make_backend(plan: Plan, name: str, threads: int | None = None, shards: int = 1) -> Backend:
    """A backend ``name`` for the whole population; CredsimError (one line) if it is unknown or missing."""
    if name == "ray":
        try:
            from credsim.backends.ray.driver import RayBackend
        except ImportError as err:
            raise CredsimError(f"backend: ray is not available: {err}") from None

        return RayBackend(plan, shards=shards, threads=threads)
    if name == "cpu":
        from credsim.backends.cpu import CpuBackend

        return CpuBackend(plan, threads=threads)
    if name == "cuda":
        from credsim.backends.cuda import CudaBackend

        return CudaBackend(plan)
    raise CredsimError(f"backend: unknown backend {name!r} (choose from {', '.join(NAMES)})")
