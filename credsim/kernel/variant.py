"""The compile-time switch between the two day kernels: CSM-1, and CSM-1 with CSM-2 and the panel.

A kernel is compiled once per combination of its argument types. The dtype of the ``aux`` array
selects, at compile time, whether CSM-2's and the panel's code is in the kernel at all: uint8
(the extra state, or a one-byte dummy) when a scenario uses a CSM-2 mechanism or a run keeps a
panel; an int8 one-byte dummy otherwise. In a CSM-1 run without a panel the switch is a constant
False and the compiler drops that code: CSM-1 runs the code it ran before CSM-2 existed. So there
are two compiled kernels, never more (each compiled once, then loaded from numba's cache).
"""

import numpy as np
from numba.core import types
from numba.extending import overload


def extended(aux):
    """Is the extended kernel (CSM-2 and the panel) compiled in, i.e. is ``aux`` uint8? Plain Python
    under the CUDA simulator."""
    return aux.dtype == np.uint8


@overload(extended, inline="always")
def _extended(aux):
    on = aux.dtype == types.uint8
    return lambda aux: on
