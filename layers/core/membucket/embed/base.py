"""The embedder seam: text in, L2-normalized float32 vectors out.

A namespace records the ``id`` and ``dim`` of the embedder that wrote it; a query or write with
another embedder is refused, so vectors of different models never mix in one index.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:  # numpy is imported where vectors are made, not by whoever names the seam
    import numpy as np

__all__ = ["Embedder", "EmbedderUnavailable", "normalize"]


class EmbedderUnavailable(RuntimeError):
    """The embedder cannot run here (weights or a dependency missing); the message says how to fix it.

    A distinct type so callers can tell "not installed" from a bug and report the fix to the user.
    """


@runtime_checkable
class Embedder(Protocol):
    @property
    def id(self) -> str:
        """Stable identifier that travels with the data, e.g. "local/all-MiniLM-L6-v2"."""
        ...

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return an (n, dim) float32 array of unit-length rows, one per text, in order."""
        ...


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Scale rows to unit length (zero rows stay zero) as float32, C-contiguous."""
    import numpy as np

    v = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(v / norms, dtype=np.float32)
