"""A local OpenAI-compatible HTTP server for model-path tests: the real ``openai`` client talks to it.

Embeddings are deterministic (hashed words, like tests/support/embedders.py), so similar texts
get similar vectors. ``fail_next`` answers that many requests with 500; ``delay`` sleeps before
answering (timeouts). Every request body is recorded, with its headers.

Chat completions (``/v1/chat/completions``) answer structured-output requests (``response_format``
json_schema, or json_object with the schema in the prompt) deterministically, by schema name:

- ``categories``: taxonomy names for keywords in the text (capitalized, as models do), else the
  ``#tags`` in the text as new categories, unnormalized.
- ``facts``: one fact per sentence, its first word as the subject; greetings are skipped.
- ``decisions``: per fact, the existing memory sharing most words: same words -> NONE, "no longer"
  -> DELETE, half the words -> UPDATE, else ADD.

``chat_raw`` sends whole response bodies as they are (odd providers). ``chat_script`` answers the next requests with the given content first (a dict is sent as JSON, a
string as is: invalid JSON, code fences). ``chat_fail_next`` / ``chat_delay`` fail or slow chat only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

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
    chat_fail_next: int = 0
    chat_delay: float = 0.0
    chat_script: list = field(default_factory=list)
    chat_requests: list[dict] = field(default_factory=list)
    chat_raw: list[dict] = field(default_factory=list)  # whole response bodies, sent as they are (odd providers)

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

        @app.post("/v1/chat/completions")
        async def chat(request: Request):
            body = await request.json()
            self.chat_requests.append(body)
            self.headers.append(dict(request.headers))
            if self.chat_delay:
                await asyncio.sleep(self.chat_delay)
            if self.chat_fail_next > 0:
                self.chat_fail_next -= 1
                return JSONResponse({"error": {"message": "boom", "type": "server_error"}}, status_code=500)
            if self.chat_raw:
                return JSONResponse(self.chat_raw.pop(0))
            if self.chat_script:
                answer = self.chat_script.pop(0)
                content = answer if isinstance(answer, str) else json.dumps(answer)
            else:
                content = json.dumps(default_answer(body))
            return {
                "id": f"chatcmpl-{len(self.chat_requests)}", "object": "chat.completion", "created": 0, "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }

        return app


KEYWORDS = {
    "Health": {"insulin", "allergic", "doctor", "diabetes", "peanuts", "medicine", "gym"},
    "Travel": {"flight", "trip", "paris", "travel", "tokyo", "hotel"},
    "Work": {"work", "job", "team", "office", "manager", "phd"},
    "Preferences": {"likes", "prefers", "favorite", "loves", "tea", "coffee"},
    "Relationships": {"sister", "brother", "wife", "husband", "friend", "married"},
    "Finance": {"bank", "salary", "money", "budget"},
}
GREETINGS = ("hi", "hello", "thanks", "thank", "bye")


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9']+", text.lower()))


def schema_name(body: dict) -> str:
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        return fmt["json_schema"]["name"]
    system = body["messages"][0]["content"]
    return next(n for n in ("decisions", "facts", "categories") if f'"properties": {{"{n}"' in system)


def default_answer(body: dict) -> dict:
    name = schema_name(body)
    user = body["messages"][-1]["content"]
    if name == "categories":
        words = _words(user)
        found = [c for c, keys in KEYWORDS.items() if words & keys]
        return {"categories": found or re.findall(r"#(\S+)", user)}
    if name == "facts":
        facts = []
        for sentence in re.split(r"[.;!?\n]+", user):
            sentence = sentence.strip()
            if sentence and sentence.split()[0].lower().strip(",") not in GREETINGS:
                facts.append({"subject": sentence.split()[0], "fact": sentence})
        return {"facts": facts}
    doc = json.loads(user)
    decisions = []
    for fact in doc["new_facts"]:
        fw = _words(fact["text"])
        best, score = None, 0.0
        for mem in doc["existing_memories"]:
            mw = _words(mem["text"])
            jaccard = len(fw & mw) / max(1, len(fw | mw))
            if jaccard > score:
                best, score = mem, jaccard
        if best is not None and score >= 0.99:
            decisions.append({"fact": fact["fact"], "event": "NONE", "id": best["id"], "text": ""})
        elif best is not None and "no longer" in fact["text"] and score >= 0.2:
            decisions.append({"fact": fact["fact"], "event": "DELETE", "id": best["id"], "text": ""})
        elif best is not None and score >= 0.4:
            decisions.append({"fact": fact["fact"], "event": "UPDATE", "id": best["id"], "text": fact["text"]})
        else:
            decisions.append({"fact": fact["fact"], "event": "ADD", "id": "", "text": fact["text"]})
    return {"decisions": decisions}


@contextlib.contextmanager
def fake_openai(**kw) -> Iterator[tuple[str, FakeOpenAI]]:
    fake = FakeOpenAI(**kw)
    with live_server(fake.app()) as url:
        yield f"{url}/v1", fake
