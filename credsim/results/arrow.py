"""Arrow arrays and tables of a run's integer tables, made without importing pandas.

``pa.array``, ``pa.table`` and ``pa.scalar`` ask pandas whether their input is a pandas object,
which imports pandas: about 0.4 s on a quiet machine (1 s under load) of every ``credsim run``,
whose tables are NumPy integer arrays and a few strings (docs/performance.md, "The whole
process"). These helpers build the very same arrays from buffers, and :func:`frame_table` the
very table ``pa.Table.from_pandas(pd.DataFrame(columns), preserve_index=False)`` makes, its
pandas metadata included, so the Parquet files are byte-identical to those written through pandas
(tests/test_results.py checks both against pandas).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa

_EPOCH = datetime(1970, 1, 1)


def int_array(values, dtype=None) -> "pa.Array":
    """A 1-d NumPy integer (or float) column as an Arrow array of the same type (``dtype``: convert first)."""
    import pyarrow as pa

    col = np.ascontiguousarray(values, dtype)
    if col.ndim != 1 or col.dtype.kind not in "iuf":
        raise TypeError(f"int_array: expected a 1-d numeric column, got {col.dtype} of shape {col.shape}")
    return pa.Array.from_buffers(pa.from_numpy_dtype(col.dtype), len(col), [None, pa.py_buffer(col)])


def string_array(texts: list[str], large: bool = False) -> "pa.Array":
    """Python strings as an Arrow ``string`` (or ``large_string``) array."""
    import pyarrow as pa

    data = [t.encode("utf-8") for t in texts]
    offsets = np.zeros(len(data) + 1, np.int64 if large else np.int32)
    offsets[1:] = np.cumsum(np.fromiter(map(len, data), np.int64, len(data)))
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(data))]
    return pa.Array.from_buffers(pa.large_string() if large else pa.string(), len(data), buffers)


def repeat_string(text: str, n: int) -> "pa.Array":
    """``text`` ``n`` times, as an Arrow ``string`` array (from buffers, not ``take``: the first
    compute function costs the import of pyarrow.compute, 0.1 to 0.2 s)."""
    import pyarrow as pa

    data = text.encode("utf-8")
    if len(data) * n >= 2**31:  # past a string array's 32-bit offsets: let Arrow say so
        return string_array([text]).take(int_array(np.zeros(n, np.int32)))
    offsets = np.arange(n + 1, dtype=np.int32) * np.int32(len(data))
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data * n)])


def take_strings(texts: list[str], index: np.ndarray) -> "pa.Array":
    """``[texts[i] for i in index]`` as an Arrow ``string`` array (without a compute function, as above)."""
    return string_array([texts[i] for i in np.asarray(index).tolist()])


def value_array(value, arrow_type=None) -> "pa.Array":
    """One Python value as a 1-row Arrow array of the type ``pa.array([value], arrow_type)`` gives it:
    str, bool, int (int64 unless ``arrow_type``), float and naive datetime (timestamp[us]); anything
    else (None included) goes through ``pa.array``."""
    import pyarrow as pa

    if isinstance(value, str) and arrow_type in (None, pa.string()):
        return string_array([value])
    if isinstance(value, bool) and arrow_type in (None, pa.bool_()):
        return pa.Array.from_buffers(pa.bool_(), 1, [None, pa.py_buffer(np.array([1 if value else 0], np.uint8))])
    if isinstance(value, int) and not isinstance(value, bool):
        dtype = np.int64 if arrow_type is None else arrow_type.to_pandas_dtype()
        if np.dtype(dtype).kind in "iu" and np.iinfo(dtype).min <= value <= np.iinfo(dtype).max:
            return int_array(np.array([value], dtype))
    if isinstance(value, float) and arrow_type in (None, pa.float64()):
        return int_array(np.array([value], np.float64))
    if isinstance(value, datetime) and value.tzinfo is None and arrow_type is None:
        micros = (value - _EPOCH) // timedelta(microseconds=1)
        return pa.Array.from_buffers(pa.timestamp("us"), 1, [None, pa.py_buffer(np.array([micros], np.int64))])
    return pa.array([value], arrow_type)


def frame_table(columns: dict) -> "pa.Table":
    """``pa.Table.from_pandas(pd.DataFrame(columns), preserve_index=False)`` for columns that are 1-d
    NumPy integer arrays or lists of str (pandas 3 stores those as ``large_string``), without pandas
    (but for an empty list of str, which pandas makes a float64 column: that goes through pandas)."""
    import pyarrow as pa

    if any(isinstance(col, list) and not col for col in columns.values()):  # pandas makes an empty one float64
        import pandas as pd

        return pa.Table.from_pandas(pd.DataFrame(columns), preserve_index=False)
    arrays, described = [], []
    for name, col in columns.items():
        if isinstance(col, list):
            arrays.append(string_array(col, large=True))
            pandas_type, numpy_type = "object", "str"
        else:
            arrays.append(int_array(col))
            pandas_type = numpy_type = str(np.asarray(col).dtype)
        described.append(
            {"name": name, "field_name": name, "pandas_type": pandas_type, "numpy_type": numpy_type, "metadata": None}
        )
    meta = {
        "index_columns": [],
        "column_indexes": [],
        "columns": described,
        "attributes": {},
        "creator": {"library": "pyarrow", "version": pa.__version__},
        "pandas_version": _pandas_version(),
    }
    return pa.Table.from_arrays(arrays, names=list(columns), metadata={b"pandas": json.dumps(meta).encode("utf-8")})


def _pandas_version() -> str:
    """The installed pandas's version, read from its package metadata (importing pandas is what this avoids)."""
    from importlib.metadata import version

    return version("pandas")
