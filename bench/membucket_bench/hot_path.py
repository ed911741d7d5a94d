"""Store calls per warm request: what an up-to-date replica pays the store for one search or add.

Each call the engine makes on the ``ObjectStore`` is counted by method (get, head, put, list,
delete, copy) and by the kind of key (log entry, ``CHECKPOINT``, access log, ...): a request's
cost in round trips, independent of the machine's speed. Searches are measured as the owner
(no access log) and as an app (one access-log write per search, asynchronous by default).
"""

from __future__ import annotations

import collections
import re
from pathlib import Path
from typing import Any

from .common import RandomEmbedder

__all__ = ["warm_request_calls", "CountingCalls"]

_METHODS = ("get", "head", "put", "list", "delete", "copy")


def _kind(key: str) -> str:
    """The key's role: ``log/<seq>.json`` -> ``log``, ``CHECKPOINT`` -> ``CHECKPOINT``, ..."""
    rest = re.sub(r"^(.*/)?ns/[^/]+/", "", key)
    return rest.split("/", 1)[0] if "/" in rest else rest


class CountingCalls:
    """Counts the store calls made through one store instance (its methods wrapped in place)."""

    def __init__(self, store: Any) -> None:
        self.counts: collections.Counter[str] = collections.Counter()
        for name in _METHODS:
            setattr(store, name, self._wrap(name, getattr(store, name)))

    def _wrap(self, name: str, fn: Any) -> Any:
        def counted(*args: Any, **kwargs: Any) -> Any:
            key = args[0] if args and isinstance(args[0], str) else kwargs.get("key", kwargs.get("prefix", ""))
            self.counts[f"{name.upper()} {_kind(key)}"] += 1
            return fn(*args, **kwargs)

        return counted

    def take(self) -> collections.Counter[str]:
        out = self.counts.copy()
        self.counts.clear()
        return out


def warm_request_calls(store_url: str, endpoint: str | None, root: Path, n: int = 20) -> dict[str, Any]:
    """Average store calls per warm owner search, app search and add (``n`` of each)."""
    from membucket import ops
    from membucket.client import Membucket
    from membucket.engine.namespace import ReplicaRegistry
    from membucket.ops.access import ACCESS_WRITER
    from membucket.settings import Settings
    from membucket.store import open_store

    store = open_store(store_url, endpoint_url=endpoint)
    counter = CountingCalls(store)
    s = Settings(store=store_url, endpoint_url=endpoint, cache_dir=str(root / "cache"), compact_after=0)
    mb = Membucket(s, store=store, embedder=RandomEmbedder(), categorizer=None, registry=ReplicaRegistry())
    user = "hot"
    owner, app = mb.context(user), mb.context(user, app="hot-app")
    for i in range(20):
        ops.add(owner, f"seed memory {i}")
    ops.search(owner, "warm up")
    ops.search(app, "warm up")  # creates the app
    ACCESS_WRITER.flush()
    counter.take()
    per_request: dict[str, dict[str, float]] = {}
    cases = (
        ("search_owner", lambda i: ops.search(owner, f"query {i}")),
        ("search_app", lambda i: ops.search(app, f"query {i}")),
        ("add", lambda i: ops.add(owner, f"new memory number {i}")),
    )
    for name, call in cases:
        for i in range(n):
            call(i)
        ACCESS_WRITER.flush()  # the access log's write belongs to the search that caused it
        per_request[name] = {k: round(v / n, 2) for k, v in sorted(counter.take().items())}
    totals = {name: round(sum(calls.values()), 2) for name, calls in per_request.items()}
    return {"requests_per_case": n, "per_request": totals, "by_call": per_request}
