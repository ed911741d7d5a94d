"""The FAISS index of searchable (active) memories: derived from DuckDB, rebuildable at any time.

``IndexIDMap2(IndexFlatIP)`` over unit vectors gives exact cosine search and deletion by id;
ids are the memories' integer ``vid``. Filters are applied exactly with an id selector.
"""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from ..settings import Settings

__all__ = ["VectorIndex", "set_search_threads"]

_threads: int | None = None  # what this process set; None until the first index or Membucket


def set_search_threads(n: int) -> None:
    """Let FAISS use ``n`` OpenMP threads per search (``Settings.faiss_threads``; process-wide).

    One (the default) suits one query at a time: OpenMP's fork/join costs more than it saves
    (100k x 384 flat scan: 5.5 ms on one thread, 14.6 ms on two). Batch work (rebuilds) is
    BLAS-bound and unaffected.
    """
    global _threads
    if n != _threads:
        faiss.omp_set_num_threads(n)
        _threads = n


class VectorIndex:
    def __init__(self, dim: int, index: faiss.Index | None = None) -> None:
        if _threads is None:  # first index of a process that built no Membucket: read the setting
            set_search_threads(Settings().faiss_threads)
        self.dim = dim
        self.index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    def add(self, vids: np.ndarray, vectors: np.ndarray) -> None:
        if len(vids) == 0:
            return
        self.index.add_with_ids(
            np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim),
            np.ascontiguousarray(vids, dtype=np.int64),
        )

    def remove(self, vids: np.ndarray | list[int] | int) -> None:
        ids = np.ascontiguousarray(np.atleast_1d(np.asarray(vids, dtype=np.int64)))
        if len(ids):
            self.index.remove_ids(faiss.IDSelectorBatch(ids))

    def ids(self) -> np.ndarray:
        if self.size == 0:
            return np.empty(0, dtype=np.int64)
        ids: np.ndarray = faiss.vector_to_array(self.index.id_map)  # type: ignore[attr-defined]  # IndexIDMap2 member, absent from faiss stubs
        return ids.astype(np.int64)

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, vids) among all entries, or only among ``allowed`` vids (exact, not over-fetched)."""
        if self.size == 0 or k <= 0 or (allowed is not None and len(allowed) == 0):
            return np.empty(0, dtype=np.float32), np.empty(0, dtype=np.int64)
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(1, self.dim)
        k = min(k, self.size if allowed is None else len(allowed))
        if allowed is None:
            scores, ids = self.index.search(q, k)
        else:
            sel = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
            scores, ids = self.index.search(q, k, params=faiss.SearchParameters(sel=sel))  # type: ignore[call-arg]  # swig kwarg, absent from faiss stubs
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]

    def serialize(self) -> bytes:
        return faiss.serialize_index(self.index).tobytes()

    @classmethod
    def read(cls, path: str | Path, dim: int) -> VectorIndex:
        index = faiss.read_index(str(path))
        if index.d != dim:
            raise ValueError(f"index dimension {index.d} != namespace dimension {dim}")
        return cls(dim, index)

    @classmethod
    def deserialize(cls, data: bytes, dim: int) -> VectorIndex:
        index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
        if index.d != dim:
            raise ValueError(f"index dimension {index.d} != namespace dimension {dim}")
        return cls(dim, index)
