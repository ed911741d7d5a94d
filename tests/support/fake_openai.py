"""A local OpenAI-compatible HTTP server for model-path tests: the real ``openai`` client talks to it.

Embeddings are deterministic (hashed words, like tests/support/embedders.py), so similar texts
get similar vectors. ``fail_next`` answers that many requests with 500; ``delay`` sleeps before
answering (timeouts). Every request body is recorded, with its headers.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Iterator

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from .embedders import HashEmbedder
from .live import live_server


@dataclass
class FakeOpenAI:
    dim: int = 48
    fail_next: int = 0
    delay: float = 0.0
    requests: list[dict] = field(default_factory=list)
    headers: list[dict] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()
        embedder = HashEmbedder(dim=self.dim)

        @app.post("/v1/embeddings")
        async def embeddings(request: Request):
            body = await request.json()
            self.requests.append(body)
            self.headers.append(dict(request.headers))
            if self.delay:
                await asyncio.sleep(self.delay)
            if self.fail_next > 0:
                self.fail_next -= 1
                return JSONResponse({"error": {"message": "boom", "type": "server_error"}}, status_code=500)
            texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
            vectors = embedder.embed(texts)
            data = [{"object": "embedding", "index": i, "embedding": v.tolist()} for i, v in reversed(list(enumerate(vectors)))]
            return {"object": "list", "model": body["model"], "data": data, "usage": {"prompt_tokens": 1, "total_tokens": 1}}

        return app


@contextlib.contextmanager
def fake_openai(**kw) -> Iterator[tuple[str, FakeOpenAI]]:
    fake = FakeOpenAI(**kw)
    with live_server(fake.app()) as url:
        yield f"{url}/v1", fake
