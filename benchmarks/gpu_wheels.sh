#!/usr/bin/env bash
# Fetch, here, the pure-Python dependencies that benchmarks/gpu.sh needs and the lent GPU machines
# lack (their image: Python 3.12, x86-64, numba + numba-cuda present, no pydantic, no network).
# Then call the device tool with carry [".whl"]; gpu.sh installs them into /tmp/site.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qxF "/.whl/" .git/info/exclude 2>/dev/null || echo "/.whl/" >> .git/info/exclude
mkdir -p .whl
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl pydantic==2.14.3 pydantic-core==2.50.4 annotated-types==0.7.0 typing-inspection==0.4.5 tomli-w==1.2.0
ls -1 .whl
