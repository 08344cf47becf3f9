"""The day kernel's arguments, declared once: names, numba types and order.

The kernels themselves keep flat positional arguments (numba compiles one specialisation per
argument type, and a tuple of arrays would cost the CPU kernel its no-refcount chunk calls); host
code passes the groups below by name (``state_args``, ``table_args``), the CUDA module builds
its explicit PTX signatures from :data:`KERNEL_ARGS`, and ``tests/test_kernel_args.py`` checks
that each kernel's signature lists exactly these names in this order.
"""

from __future__ import annotations

#: Each agent's state arrays, in kernel order (``{aux}``: int8 for the CSM-1 kernel, uint8 for the
#: extended one; see kernel/variant.py). Their dtypes are those of credsim.backends.base.STATE_FIELDS.
STATE_ARGS = (
    ("own", "int16[::1]"),
    ("flags", "uint8[::1]"),
    ("since", "uint16[::1]"),
    ("stress", "uint8[::1]"),
    ("aux", "{aux}[::1]"),
)
#: A policy's tables (credsim.plan.Policy attributes of the same names), in kernel order.
TABLE_ARGS = (("ip", "int64[::1]"), ("beh", "int64[:, ::1]"), ("chan", "int64[:, ::1]"), ("act", "int64[:, ::1]"))
#: The region layout and the contact offsets (credsim.population.Layout, credsim.plan.Plan.amod).
LAYOUT_ARGS = (("reg_start", "int64[::1]"), ("reg_size", "int64[::1]"), ("amod", "int64[:, ::1]"))
#: The day's inputs, before the state.
DAY_ARGS = (
    ("t", "int64"),
    ("threshold", "int64"),
    ("key", "uint64"),
    ("hist_on", "boolean"),
    ("lo", "int64"),
    ("hi", "int64"),
)

#: credsim.kernel.cpu.run_day: chunks of pairs in a prange, one accumulator row per chunk.
CPU_DAY_ARGS = (
    *DAY_ARGS,
    ("chunk", "int64"),
    *STATE_ARGS,
    ("halo", "uint8[::1]"),
    *TABLE_ARGS,
    *LAYOUT_ARGS,
    ("acc", "int64[:, ::1]"),
    ("racc", "int64[:, ::1]"),
    ("panel", "int16[:, ::1]"),
)

#: The CUDA kernels (credsim.backends.cuda), for the launches and ``compile_ptx``'s signatures.
KERNEL_ARGS = {
    "day_kernel": (
        *DAY_ARGS,
        ("pairs_per_block", "int64"),
        ("n_cols", "int64"),
        ("n_reg", "int64"),
        *STATE_ARGS,
        ("halo", "uint8[::1]"),
        *TABLE_ARGS,
        *LAYOUT_ARGS,
        ("out", "int64[::1]"),
        ("panel", "int16[:, ::1]"),
    ),
    "init_kernel": (
        ("lo", "int64"),
        ("hi", "int64"),
        *STATE_ARGS,
        ("root1", "uint64"),
        ("root2", "uint64"),
        ("married_thr", "int64"),
        ("ip", "int64[::1]"),
    ),
    "sum_public0_kernel": (
        ("lo", "int64"),
        ("hi", "int64"),
        ("own", "int16[::1]"),
        ("flags", "uint8[::1]"),
        ("ip", "int64[::1]"),
        ("out", "int64[::1]"),
    ),
    "reset_kernel": (("out", "int64[::1]"), ("n_cols", "int64")),
}
#: The compiled variants (kernel/variant.py's compile-time switch, the dtype of aux): CSM-1 and extended.
VARIANTS = {"": {"aux": "int8"}, "_extended": {"aux": "uint8"}}


def names(args) -> list[str]:
    """The names of a group of declared arguments, in order."""
    return [name for name, _ in args]


def state_args(holder) -> tuple:
    """The state arrays of ``holder`` (attributes named as in :data:`STATE_ARGS`), in kernel order."""
    return tuple(getattr(holder, name) for name, _ in STATE_ARGS)


def table_args(policy) -> tuple:
    """A policy's tables (attributes named as in :data:`TABLE_ARGS`), in kernel order."""
    return tuple(getattr(policy, name) for name, _ in TABLE_ARGS)


def signature(args, **types) -> str:
    """A numba signature string ``void(...)`` of declared arguments, ``{aux}`` filled from ``types``."""
    return f"void({', '.join(ty.format(**types) for _, ty in args)})"
