"""``load_mapped`` reads a safetensors file as ``safetensors`` does, without copying it."""

from __future__ import annotations

import numpy as np
import pytest
from membucket.embed.mapped import load_mapped
from safetensors.numpy import load_file, save_file


def test_same_arrays_as_safetensors_for_every_dtype_read_only(tmp_path):
    rng = np.random.default_rng(0)
    tensors = {
        "w32": rng.standard_normal((7, 5)).astype(np.float32),
        "w16": rng.standard_normal((3, 4)).astype(np.float16),
        "q8": rng.integers(-128, 127, (2, 9), dtype=np.int8),
        "ids": np.arange(5, dtype=np.int64),
        "scalar": np.array(1.5, dtype=np.float32),
    }
    path = tmp_path / "m.safetensors"
    save_file(tensors, str(path), metadata={"format": "np"})
    mapped, read = load_mapped(path), load_file(str(path))
    assert mapped.keys() == read.keys() == tensors.keys()
    for name, want in tensors.items():
        got = mapped[name]
        assert got.dtype == want.dtype and got.shape == want.shape and np.array_equal(got, want), name
        assert not got.flags.writeable
        with pytest.raises(ValueError):
            got[...] = 0


def test_an_unknown_dtype_is_named(tmp_path):
    path = tmp_path / "m.safetensors"
    save_file({"x": np.zeros(2, np.float32)}, str(path))
    raw = path.read_bytes().replace(b'"F32"', b'"F8_"', 1)
    path.write_bytes(raw)
    with pytest.raises(ValueError, match="F8_"):
        load_mapped(path)
