"""A thread-safe ``cuda.shared.array`` for numba-cuda's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``).

The simulator runs each CUDA thread of a block as a Python thread. Its
``FakeCUDAShared.array`` (numba_cuda ``simulator/kernelapi.py``) keys a block's shared arrays by
the caller's source file and line, and looks the key up and creates the array without a lock:
two simulated threads that reach the same ``cuda.shared.array`` line together can both miss the
lookup and each get an array of its own. The day kernel's ``sacc``/``sreg`` sums then lose the
additions of some threads (about 4% of golden-case runs under the simulator had one wrong day).

A lock around the original cannot fix it: the original takes the key from its caller's stack
frame, which would then be the wrapper (every shared array would alias). :func:`install` replaces
the method with one that takes the same key from its own caller's frame and looks up and creates
under a lock. Only the simulator is touched; on a GPU, shared memory is the hardware's.
"""

from __future__ import annotations

import sys
import threading

import numpy as np

_LOCK = threading.Lock()


def _shared_array(self, shape, dtype, alignment=None):
    """``cuda.shared.array`` under the simulator: one array per (block launch, source line), made once."""
    if alignment is not None or shape == 0:
        # alignment: the simulator refuses it; shape 0: dynamic shared memory, one buffer, no lookup
        return _ORIGINAL(self, shape, dtype, alignment)
    from numba.core import types
    from numba.np import numpy_support

    if isinstance(dtype, types.Type):
        dtype = numpy_support.as_dtype(dtype)
    caller = sys._getframe(1)
    key = (caller.f_code.co_filename, caller.f_lineno)  # the original's key: (file, line) of the call
    with _LOCK:
        res = self._allocations.get(key)
        if res is None:
            res = np.empty(shape, dtype)
            self._allocations[key] = res
    return res


_shared_array.credsim_locked = True
_ORIGINAL = None


def install() -> bool:
    """Replace the simulator's ``FakeCUDAShared.array`` (idempotent). Returns True if it is installed
    now; False when the simulator's module is not there (no numba-cuda)."""
    global _ORIGINAL
    try:
        from numba.cuda.simulator import kernelapi
    except ImportError:
        return False
    cls = kernelapi.FakeCUDAShared
    if getattr(cls.array, "credsim_locked", False):
        return True
    _ORIGINAL = cls.array
    cls.array = _shared_array
    return True


def uninstall() -> None:
    """Put the simulator's own method back (for the test that shows the race)."""
    from numba.cuda.simulator import kernelapi

    if _ORIGINAL is not None and getattr(kernelapi.FakeCUDAShared.array, "credsim_locked", False):
        kernelapi.FakeCUDAShared.array = _ORIGINAL
