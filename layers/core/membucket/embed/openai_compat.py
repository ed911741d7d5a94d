"""Embeddings from any OpenAI-compatible endpoint (OpenAI, Azure, Ollama, vLLM, LM Studio, gateways).

Configured only by the operator (settings / env / secret), never by an API caller: a caller-set
base URL would let anyone make the server fetch arbitrary URLs. The key is passed to the client
and nowhere else: it is not stored in the bucket, returned by the API or logged.
Provider failures (after the client's own retries) become ServiceUnavailable (503), never a 500.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

import numpy as np

from ..errors import ServiceUnavailable
from .base import normalize

__all__ = ["OpenAIEmbedder"]


class OpenAIEmbedder:
    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        dimensions: int | None = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        batch_size: int = 256,
    ) -> None:
        from openai import OpenAI

        # Local servers (Ollama, vLLM) need no key, but the client insists on one.
        # OPENAI_API_KEY is where Lambda puts the key it reads from Secrets Manager (membucket.aws).
        self._client = OpenAI(base_url=base_url, api_key=api_key or os.environ.get("OPENAI_API_KEY") or "not-needed", timeout=timeout, max_retries=max_retries)
        self.model = model
        self.dimensions = dimensions
        self.batch_size = batch_size
        self.id = f"openai/{model}" + (f"@{dimensions}" if dimensions else "")
        self._dim = dimensions
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        """Known from settings, or learned once from the provider (the namespace records it)."""
        if self._dim is None:
            with self._lock:
                if self._dim is None:
                    self._dim = int(self._request(["dimension probe"]).shape[1])
        return self._dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [self._request(list(texts[i : i + self.batch_size])) for i in range(0, len(texts), self.batch_size)]
        return normalize(np.concatenate(parts))

    def _request(self, texts: list[str]) -> np.ndarray:
        import openai

        try:
            resp = self._client.embeddings.create(
                model=self.model, input=texts, dimensions=self.dimensions or openai.omit,  # None/0: not sent
            )
        except openai.OpenAIError as exc:
            raise ServiceUnavailable(f"embedding provider failed: {type(exc).__name__}", provider="openai-compatible") from exc
        rows = sorted(resp.data, key=lambda d: d.index)
        if len(rows) != len(texts):
            raise ServiceUnavailable(f"embedding provider returned {len(rows)} vectors for {len(texts)} texts")
        return np.asarray([r.embedding for r in rows], dtype=np.float32)
