#!/usr/bin/env bash
# credsim on one NVIDIA GPU (H100/H200): docking on the golden cases (tests/golden), then essay at
# N = 1e8 and 1.4e9 for 20 days each: per-day ms, agent-steps/s, achieved memory bandwidth against
# a device-to-device copy measured here, device bytes per agent. A few minutes; no network; installs
# nothing. Works with credsim pip-installed or not (the repo root goes on PYTHONPATH).
#
#   benchmarks/gpu.sh                          # everything
#   benchmarks/gpu.sh --sizes 1e8 --days 5     # options of benchmarks/gpu_bench.py (--help)
#   PYTHON=/path/to/python benchmarks/gpu.sh   # a given interpreter
#
# Needs numpy, numba, numba-cuda and pydantic (stops with a clear message if one is missing);
# not pandas, pyarrow, typer, rich or duckdb. numba 0.68.0 with numpy >= 2.5 is handled by the
# np.row_stack shim in credsim/kernel/cuda.py. The lent GPU machines' image has no pydantic and no
# network: run benchmarks/gpu_wheels.sh here first (it fills .whl/, git-ignored) and carry `.whl`;
# this script then installs those wheels into /tmp/site before anything else.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
unset NUMBA_ENABLE_CUDASIM

if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi

# First interpreter that has numba: $PYTHON, then the system's, then a local .venv.
PY=""
for cand in ${PYTHON:-} python3 python .venv/bin/python; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c "import numba" >/dev/null 2>&1; then
        PY=$cand
        break
    fi
done
if [ -z "$PY" ]; then
    echo "gpu.sh: no Python with numba found (set PYTHON=/path/to/python)" >&2
    exit 2
fi

command -v nvidia-smi >/dev/null 2>&1 &&
    nvidia-smi --query-gpu=name,memory.total,memory.used,clocks.max.sm,driver_version --format=csv,noheader || true
echo "python: $(command -v "$PY")"
exec timeout "${GPU_BENCH_TIMEOUT:-540}" "$PY" -u benchmarks/gpu_bench.py "$@"
