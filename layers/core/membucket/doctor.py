"""``membucket doctor``: the effective configuration and live checks of store, conditional writes, embedder, LLM."""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

from pydantic import SecretStr

from .client import Membucket
from .store import IF_ABSENT, LocalStore, PreconditionFailed, PutCondition
from .store.dirfs import describe as describe_filesystem

__all__ = ["run_checks"]


def _config(mb: Membucket) -> dict[str, Any]:
    """Every setting as in effect; secrets (``SecretStr`` fields) masked, by type and not by name.

    ``endpoint_url`` shows the endpoint boto3 will use when only ``AWS_ENDPOINT_URL_S3`` or
    ``AWS_ENDPOINT_URL`` names it.
    """
    out: dict[str, Any] = {}
    for name, value in mb.settings.model_dump().items():
        out[name] = ("***" if value.get_secret_value() else "") if isinstance(value, SecretStr) else value
    if not out["endpoint_url"]:
        out["endpoint_url"] = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None
    return out


def _check(name: str, fn) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        detail = fn()
        return {"check": name, "ok": True, "ms": round((time.perf_counter() - start) * 1000, 1), "detail": detail}
    except Exception as exc:  # a doctor reports, it does not crash
        return {"check": name, "ok": False, "error": f"{type(exc).__name__}: {exc}"}


def run_checks(mb: Membucket) -> dict[str, Any]:
    store = mb.store
    probe = f"_doctor/{uuid.uuid4().hex}"

    def read_write():
        etag = store.put(probe, b"probe")
        assert store.get(probe).body == b"probe", "read-after-write returned other bytes"
        return {"url": store.url, "etag": etag}

    def conditional():
        key = probe + "-cond"
        try:
            store.put(key, b"1", IF_ABSENT)
            try:
                store.put(key, b"2", IF_ABSENT)
                raise AssertionError("If-None-Match '*' on an existing key succeeded: commits would not be safe")
            except PreconditionFailed:
                pass
            try:
                store.put(key, b"3", PutCondition(if_match="0" * 32))
                raise AssertionError("If-Match with a stale ETag succeeded: checkpoints would not be safe")
            except PreconditionFailed:
                pass
            return {"if_none_match": "honoured", "if_match": "honoured"}
        finally:
            store.delete(key)

    def embedder():
        vec = mb.embedder.embed(["membucket doctor"])
        return {"id": mb.embedder.id, "dim": int(vec.shape[1])}

    def llm():
        from .llm import LlmCategorizer

        return {"model": mb.llm.model, "categories": LlmCategorizer(mb.llm)("The user likes green tea")}

    checks = [_check("store read/write", read_write), _check("conditional writes", conditional), _check("embedder", embedder)]
    if isinstance(store, LocalStore):
        # Which filesystem a directory store is on, its protocol, and sync-folder warnings.
        checks.insert(1, _check("store filesystem", lambda: describe_filesystem(store.root, store.caps)))
    if mb.settings.llm != "none":
        checks.append(_check("llm", llm))
    store.delete(probe)
    return {"ok": all(c["ok"] for c in checks), "config": _config(mb), "checks": checks}
