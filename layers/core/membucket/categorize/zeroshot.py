"""Offline zero-shot categories: cosine of a memory's vector against averaged prototype vectors.

The memory's vector is already computed by ``add``/``update``, so categorizing costs one small
matrix product (n_categories x dim). Prototype vectors are embedded once per embedder id and
cached for the process and, given a ``cache_dir``, on disk: embedding the ~80 prototype texts
would otherwise cost a one-shot ``membucket add`` more than its own embedding. User-defined
categories (``ops.categories``) are scored the same way from their name and description.

Rule: keep the categories scoring at least ``threshold`` and within ``margin`` of the best one,
at most ``top_k`` of them. The defaults were tuned on the tune half of
``tests/data/categories_labelled.jsonl`` (see ``membucket bench categories`` and bench/README.md).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..embed.base import Embedder
from .prototypes import PROTOTYPES

__all__ = ["ZeroShotCategorizer", "CategoryDef", "THRESHOLD", "MARGIN", "TOP_K"]

# Tuned on the tune half of the labelled set with all-MiniLM-L6-v2 (bench/results/categories.json).
THRESHOLD = 0.18
MARGIN = 0.08
TOP_K = 2


@dataclass(frozen=True)
class CategoryDef:
    """A user-defined category: its name and a short description of what belongs in it."""

    name: str
    description: str

    def texts(self) -> tuple[str, ...]:
        return (f"{self.name}: {self.description}", self.description)


_CACHE: dict[tuple[str, tuple[tuple[str, ...], ...]], np.ndarray] = {}
_CACHE_LOCK = threading.Lock()


def _unit(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float32)
    norms = np.linalg.norm(m, axis=-1, keepdims=True)
    return m / np.where(norms == 0, 1, norms)


_DISK_KEEP = 64  # prototype files kept per cache directory (user-defined sets add one each)


def _disk_path(cache_dir: str | os.PathLike[str], key: tuple[str, tuple[tuple[str, ...], ...]], dim: int) -> Path:
    digest = hashlib.sha256(json.dumps([key[0], dim, key[1]]).encode()).hexdigest()[:32]
    return Path(cache_dir) / "prototypes" / f"{digest}.npy"


def _read_disk(path: Path, groups: int, dim: int) -> np.ndarray | None:
    try:
        matrix = np.load(path, allow_pickle=False)
    except (OSError, ValueError):  # absent, or torn by a crash: embed again
        return None
    return matrix if matrix.shape == (groups, dim) and matrix.dtype == np.float32 else None


def _write_disk(path: Path, matrix: np.ndarray) -> None:
    """Best effort (a cache): written whole, then renamed, so a reader never sees half a file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.{threading.get_ident()}.tmp")
        with open(tmp, "wb") as f:
            np.save(f, matrix, allow_pickle=False)
        os.replace(tmp, path)
        files = sorted(path.parent.glob("*.npy"), key=lambda p: p.stat().st_mtime)
        for old in files[:-_DISK_KEEP]:
            old.unlink(missing_ok=True)
    except OSError:
        pass


def prototype_matrix(
    embedder: Embedder, groups: Sequence[Sequence[str]], cache_dir: str | os.PathLike[str] | None = None
) -> np.ndarray:
    """One unit vector per group of texts (the normalized mean of their embeddings), cached per
    embedder id and texts: in the process, and under ``cache_dir/prototypes`` when given."""
    key = (embedder.id, tuple(tuple(g) for g in groups))
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
    if hit is not None:
        return hit
    path = _disk_path(cache_dir, key, embedder.dim) if cache_dir is not None else None
    matrix = _read_disk(path, len(groups), embedder.dim) if path is not None else None
    if matrix is None:
        matrix = _embed_groups(embedder, groups)
        if path is not None:
            _write_disk(path, matrix)
    with _CACHE_LOCK:
        if len(_CACHE) > 256:  # user-defined sets change rarely; bound it anyway
            _CACHE.clear()
        _CACHE[key] = matrix
    return matrix


def _embed_groups(embedder: Embedder, groups: Sequence[Sequence[str]]) -> np.ndarray:
    flat = [t for g in groups for t in g]
    vectors = _unit(embedder.embed(flat)) if flat else np.zeros((0, embedder.dim), np.float32)
    rows, i = [], 0
    for g in groups:
        rows.append(vectors[i:i + len(g)].mean(axis=0))
        i += len(g)
    return _unit(np.stack(rows)) if rows else np.zeros((0, embedder.dim), np.float32)


class ZeroShotCategorizer:
    """``(text, vector) -> categories`` without a model call: a Categorizer for ``Context``."""

    supports_custom = True  # accepts ``custom=`` user-defined categories (ops.categorize passes them)

    def __init__(
        self,
        embedder: Embedder,
        prototypes: Mapping[str, Sequence[str]] = PROTOTYPES,
        *,
        threshold: float = THRESHOLD,
        margin: float = MARGIN,
        top_k: int = TOP_K,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.embedder, self.cache_dir = embedder, cache_dir
        self.prototypes = {k: tuple(v) for k, v in prototypes.items()}
        self.threshold, self.margin, self.top_k = threshold, margin, top_k

    def scores(self, vectors: np.ndarray, custom: Sequence[CategoryDef] = ()) -> tuple[list[str], np.ndarray]:
        """(category names, cosine matrix n_vectors x n_categories); custom names replace defaults of the same name."""
        names = list(self.prototypes)
        groups = [self.prototypes[n] for n in names]
        for d in custom:
            if d.name in names:
                groups[names.index(d.name)] = d.texts()
            else:
                names.append(d.name)
                groups.append(d.texts())
        matrix = prototype_matrix(self.embedder, groups, self.cache_dir)
        return names, _unit(np.atleast_2d(vectors)) @ matrix.T

    def pick(self, names: Sequence[str], row: np.ndarray) -> list[str]:
        """The categories one score row earns under the threshold / margin / top-k rule."""
        order = np.argsort(-row, kind="stable")[: self.top_k]
        best = float(row[order[0]]) if len(order) else 0.0
        return [names[i] for i in order if row[i] >= self.threshold and row[i] >= best - self.margin]

    def categorize_many(self, vectors: np.ndarray, custom: Sequence[CategoryDef] = ()) -> list[list[str]]:
        names, s = self.scores(vectors, custom)
        return [self.pick(names, row) for row in s]

    def __call__(self, text: str, vector: np.ndarray, custom: Sequence[CategoryDef] = ()) -> list[str]:
        return self.categorize_many(np.asarray(vector).reshape(1, -1), custom)[0]
