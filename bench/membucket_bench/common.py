"""Helpers shared by benchmarks: percentiles, a random embedder, a moto S3 server subprocess."""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import numpy as np
from membucket.embed.base import normalize

__all__ = ["percentiles", "RandomEmbedder", "moto_server"]


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    a = np.asarray(samples_ms, dtype=np.float64)
    return {"p50": round(float(np.percentile(a, 50)), 3), "p95": round(float(np.percentile(a, 95)), 3), "n": len(a)}


class RandomEmbedder:
    """Unit vectors derived from a hash of the text: benchmarks measure the engine, not a model."""

    def __init__(self, dim: int = 384) -> None:
        self.dim = dim
        self.id = f"bench/random-{dim}"

    def embed(self, texts):
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            seed = int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "little")
            out[i] = np.random.default_rng(seed).standard_normal(self.dim)
        return normalize(out)


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """moto's S3 server in its own process (a real HTTP endpoint that does not share our GIL), its
    conditional PUTs made atomic as S3's are (``moto_atomic``)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "membucket_bench.moto_atomic", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
