"""Editing an export bundle's zip the way a damaged or hand-edited file would arrive."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable


def rezip(data: bytes, change: Callable[[dict[str, bytes]], None]) -> bytes:
    """The zip ``data`` with its members (name -> bytes) passed through ``change`` first."""
    src = zipfile.ZipFile(io.BytesIO(data))
    files = {n: src.read(n) for n in src.namelist()}
    change(files)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for n, b in files.items():
            zf.writestr(n, b)
    return out.getvalue()
