"""Offline zero-shot categories: cosine of a memory's vector against averaged prototype vectors.

The memory's vector is already computed by ``add``/``update``, so categorizing costs one small
matrix product (n_categories x dim). Prototype vectors are embedded once per embedder id and
cached for the process. User-defined categories (``ops.categories``) are scored the same way from
their name and description.

Rule: keep the categories scoring at least ``threshold`` and within ``margin`` of the best one,
at most ``top_k`` of them. The defaults were tuned on the tune half of
``tests/data/categories_labelled.jsonl`` (see ``membucket bench categories`` and bench/README.md).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

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


def prototype_matrix(embedder: Embedder, groups: Sequence[Sequence[str]]) -> np.ndarray:
    """One unit vector per group of texts (the normalized mean of their embeddings), cached per embedder id."""
    key = (embedder.id, tuple(tuple(g) for g in groups))
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
    if hit is not None:
        return hit
    flat = [t for g in groups for t in g]
    vectors = _unit(embedder.embed(flat)) if flat else np.zeros((0, embedder.dim), np.float32)
    rows, i = [], 0
    for g in groups:
        rows.append(vectors[i:i + len(g)].mean(axis=0))
        i += len(g)
    matrix = _unit(np.stack(rows)) if rows else np.zeros((0, embedder.dim), np.float32)
    with _CACHE_LOCK:
        if len(_CACHE) > 256:  # user-defined sets change rarely; bound it anyway
            _CACHE.clear()
        _CACHE[key] = matrix
    return matrix


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
    ) -> None:
        self.embedder = embedder
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
        matrix = prototype_matrix(self.embedder, groups)
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
