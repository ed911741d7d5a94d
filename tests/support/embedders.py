"""A small deterministic embedder for engine and ops tests (the real model is tested in tests/embed).

Bag of hashed words and word bigrams: texts sharing words score high, unrelated texts near 0,
so duplicate detection and ranking behave like a real model's on simple sentences.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np
from membucket.embed.base import normalize


class HashEmbedder:
    def __init__(self, dim: int = 64, id: str = "test/hash-64") -> None:
        self.dim = dim
        self.id = id
        self.calls = 0

    def _vec(self, text: str) -> np.ndarray:
        words = re.findall(r"\w+", text.lower())
        v = np.zeros(self.dim, dtype=np.float32)
        for tok in words + [a + " " + b for a, b in zip(words, words[1:])]:
            h = int.from_bytes(hashlib.blake2b(tok.encode(), digest_size=8).digest(), "little")
            v[h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
        if not v.any():
            v[0] = 1.0
        return v

    def embed(self, texts):
        self.calls += 1
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return normalize(np.stack([self._vec(t) for t in texts]))
