"""Whether the CUDA backend can run here: numba-cuda imported (or its simulator under
``NUMBA_ENABLE_CUDASIM=1``), with numpy's ``row_stack`` shim applied first, and a GPU present.
Importing this module never fails; :func:`unavailable_reason` says, in one line, why not.
"""

from __future__ import annotations

import os

import numpy as np


def _numpy_shim() -> None:
    """numpy 2.5 removed ``np.row_stack`` (an alias of ``np.vstack``); numba 0.68.0's CUDA import
    path still references it, so on the GPU machines' image (numba 0.68.0 + numpy 2.5.2) importing
    numba.cuda failed with AttributeError. Restore the alias before the import; a no-op wherever
    numpy still has it."""
    if not hasattr(np, "row_stack"):
        np.row_stack = np.vstack


#: numba reads NUMBA_ENABLE_CUDASIM once, when numba.cuda is first imported.
SIMULATOR = os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")

_IMPORT_ERROR: str | None = None
try:
    _numpy_shim()
    from numba import cuda  # numba-cuda (or the simulator under NUMBA_ENABLE_CUDASIM=1)

    # what numba.cuda actually loaded (the variable may have changed since its first import)
    SIMULATOR = "simulator" in getattr(cuda.jit, "__module__", "")
except Exception as err:  # noqa: BLE001 - any import failure means: no CUDA backend here
    cuda = None
    _IMPORT_ERROR = f"{type(err).__name__}: {err}".splitlines()[0]

def unavailable_reason() -> str | None:
    """Why the CUDA backend cannot run here (one line), or None if it can."""
    if cuda is None:
        return f"numba-cuda could not be imported ({_IMPORT_ERROR}); install credsim[cuda]"
    try:
        if not cuda.is_available():
            return "no CUDA GPU or driver found (set NUMBA_ENABLE_CUDASIM=1 to run on numba's CUDA simulator)"
    except Exception as err:  # noqa: BLE001
        return f"CUDA driver error ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})"
    return None
