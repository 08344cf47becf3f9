"""The kernel's arguments are declared once (credsim/kernel/args.py): each kernel's signature lists
exactly the declared names in the declared order, and the state and table groups match the state
fields and the plan's tables they are read from."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import numpy as np

from credsim.backends.base import AUX_FIELDS, STATE_FIELDS
from credsim.kernel import args as A

KERNEL = Path(__file__).resolve().parents[1] / "credsim" / "kernel"


def _params(path: Path, function: str) -> list[str]:
    """The parameter names of ``function`` as written in the source (nested definitions included)."""
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.FunctionDef) and node.name == function:
            return [a.arg for a in node.args.args]
    raise AssertionError(f"{function} not found in {path}")


def test_cpu_run_day_signature_is_the_declared_one():
    from credsim.kernel import cpu

    assert list(inspect.signature(cpu.run_day.py_func).parameters) == A.names(A.CPU_DAY_ARGS)
    assert _params(KERNEL / "cpu.py", "run_day") == A.names(A.CPU_DAY_ARGS)
    # the chunk function takes the same arguments, with its chunk index first and its rows last
    chunk = _params(KERNEL / "cpu.py", "_run_chunk")
    assert chunk[1:-3] == A.names(A.CPU_DAY_ARGS)[:-3] and chunk[-3:] == ["row", "rrow", "panel"]


def test_cuda_kernel_signatures_are_the_declared_ones():
    """Read from cuda_kernels.py's source: the kernels are defined only where numba-cuda imports."""
    for name, declared in A.KERNEL_ARGS.items():
        assert _params(KERNEL / "cuda_kernels.py", name) == A.names(declared), name


def test_init_state_takes_the_state_group():
    params = _params(KERNEL / "cpu.py", "init_state")
    assert params[2 : 2 + len(A.STATE_ARGS)] == A.names(A.STATE_ARGS)


def test_state_args_are_the_state_fields_with_their_dtypes():
    fields = {**STATE_FIELDS, **AUX_FIELDS}
    assert A.names(A.STATE_ARGS) == list(fields)
    for name, ty in A.STATE_ARGS:
        if name != "aux":  # aux is int8 (a dummy) or uint8: a format field
            assert ty == f"{np.dtype(fields[name]).name}[::1]", name
    assert {v["aux"] for v in A.VARIANTS.values()} == {"int8", np.dtype(AUX_FIELDS["aux"]).name}


def test_table_args_are_a_policys_tables_in_order():
    from credsim.plan import compile_plan
    from credsim.scenario import load

    plan = compile_plan(load("baseline")[1], 100, 1)
    pol = plan.policies[0]
    got = A.table_args(pol)
    assert [a is b for a, b in zip(got, (pol.ip, pol.beh, pol.chan, pol.act))] == [True] * 4
    assert A.signature(A.KERNEL_ARGS["reset_kernel"]) == "void(int64[::1], int64)"
