"""Read a ``.safetensors`` file as read-only numpy arrays over one memory map, without copying it.

``safetensors.numpy.load_file`` reads the whole file (91 MB for all-MiniLM-L6-v2) into fresh
arrays. Mapped, a one-shot command pays only for the pages it touches: the 47 MB word-embedding
table is read a few rows at a time, and processes on one machine share the page cache. The format
is an 8-byte little-endian header length, a JSON header (name -> dtype, shape, data_offsets) and
the raw little-endian tensors.
"""

from __future__ import annotations

import json
import mmap
import os
import struct

import numpy as np

__all__ = ["load_mapped"]

_DTYPES = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?",
}


def load_mapped(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Every tensor in ``path`` as a read-only array backed by the file (the map lives as long as they do)."""
    with open(path, "rb") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(header_len))
        mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    base = 8 + header_len
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] not in _DTYPES:
            raise ValueError(f"{path}: tensor {name} has dtype {info['dtype']}, which this reader does not know")
        start, end = info["data_offsets"]
        dtype = np.dtype(_DTYPES[info["dtype"]])
        count = (end - start) // dtype.itemsize
        tensors[name] = np.frombuffer(mapped, dtype=dtype, count=count, offset=base + start).reshape(info["shape"])
    return tensors
