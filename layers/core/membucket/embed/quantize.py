"""Smaller all-MiniLM-L6-v2 weight files (fp16, int8) and the loader that reads any of them back as fp32.

Why: a Lambda container downloads the model from the bucket on its first embed; the fp32 file
is 91 MB, the int8 one 23 MB (fp16: 45 MB). The forward pass stays fp32 (``minilm``): a
converted file is only smaller storage, widened once at load. ``bench/README.md`` ("Model
precision") has the LoCoMo recall of each; fp32 stays selectable (``Settings.model_precision``).

Formats (safetensors, self-describing through the metadata key ``membucket_precision``):

- ``fp16``: every floating tensor of two dimensions stored as float16; vectors (biases,
  LayerNorm) stay float32 (a few KB).
- ``int8``: symmetric per-row ("per output channel") int8 for every 2-D tensor, with its float32
  row scales in ``<name>.int8_scale``: ``w = q * scale[:, None]``. A Linear weight is stored
  (out, in), so a row is an output channel; an embedding table's row is one token.

Conversion happens at build time (``infra/publish_model.py``, the benchmarks), never at run time.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # s3_model names WEIGHTS_FILES at init; numpy comes with the model, on first embed
    import numpy as np

__all__ = ["PRECISIONS", "WEIGHTS_FILES", "convert", "load_weights", "quantize_int8"]

PRECISIONS = ("fp32", "fp16", "int8")
WEIGHTS_FILES = {"fp32": "model.safetensors", "fp16": "model.fp16.safetensors", "int8": "model.int8.safetensors"}
SCALE_SUFFIX = ".int8_scale"
META_KEY = "membucket_precision"


def quantize_int8(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-row int8: (q, scale) with ``q * scale[:, None]`` ~ ``w``; an all-zero row gets scale 1."""
    import numpy as np

    w = np.asarray(w, dtype=np.float32)
    peak = np.abs(w).max(axis=1)
    scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    q = np.clip(np.rint(w / scale[:, None]), -127, 127).astype(np.int8)
    return q, scale


def convert(src: Path | str, dest: Path | str, precision: str) -> Path:
    """Write ``src`` (an fp32 safetensors file) as ``precision`` into ``dest``; return ``dest``."""
    import numpy as np
    from safetensors.numpy import load_file, save_file

    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    tensors = load_file(str(src))
    out: dict[str, np.ndarray] = {}
    for name, t in tensors.items():
        floating = np.issubdtype(t.dtype, np.floating)
        if not floating or t.ndim != 2 or precision == "fp32":
            out[name] = t
        elif precision == "fp16":
            out[name] = t.astype(np.float16)
        else:
            out[name], out[name + SCALE_SUFFIX] = quantize_int8(t)
    dest = Path(dest)
    save_file(out, str(dest), metadata={META_KEY: precision})
    return dest


def load_weights(path: Path | str) -> dict[str, np.ndarray]:
    """Every tensor of a weights file as float32 (int8 rows rescaled, fp16 widened), scale tensors consumed."""
    import numpy as np

    from .mapped import load_mapped

    raw = load_mapped(path)
    out: dict[str, np.ndarray] = {}
    for name, t in raw.items():
        if name.endswith(SCALE_SUFFIX):
            continue
        scale = raw.get(name + SCALE_SUFFIX)
        if scale is not None:
            w = t.astype(np.float32)
            w *= scale[:, None]
            out[name] = w
        elif np.issubdtype(t.dtype, np.floating) and t.dtype != np.float32:
            out[name] = t.astype(np.float32)
        else:
            out[name] = t
    return out
