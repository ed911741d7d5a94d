"""FaultyStore: wrap any ObjectStore and inject the failures a real bucket produces.

Each call to a wrapped method draws from a seeded RNG; with probability ``rate`` it injects one
fault, chosen uniformly among the ``kinds`` that apply to that method:

``throttle``        Unavailable("503 SlowDown") BEFORE the operation: nothing happened.
``server_error``    Unavailable("500 InternalError") BEFORE the operation: nothing happened.
``timeout_before``  Unavailable (timeout) BEFORE the request reached the store: nothing happened.
``timeout_after``   the operation IS performed, THEN Unavailable is raised: the response was lost,
                    so the caller cannot tell whether its write landed (the ambiguous case a
                    commit protocol must survive). Applies to the writes: put, delete, copy.
``conflict``        ConflictInFlight (S3's 409 ConditionalRequestConflict) without writing: the
                    caller should retry the same request. Applies to put only.

These are the errors a backend raises after its transport retries gave up, so code above the
store sees exactly what it would see from S3. ``injected`` counts faults per kind and
``calls`` counts calls per method; both are updated under a lock, so the wrapper is as
thread-safe as the store it wraps. Set ``rate = 0`` to stop injecting (e.g. to verify state).

Example: ``FaultyStore(MemoryStore(), rate=0.2, seed=7, methods=("put",))`` fails one put in five.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import TypeVar

from membucket.store import ConflictInFlight, GetResult, ObjectInfo, ObjectStore, PutCondition, Unavailable

__all__ = ["FaultyStore", "KINDS", "METHODS"]

KINDS = ("throttle", "server_error", "timeout_before", "timeout_after", "conflict")
METHODS = ("get", "head", "put", "list", "delete", "copy")
_WRITES = ("put", "delete", "copy")

T = TypeVar("T")


class FaultyStore:
    """An ObjectStore that fails on purpose; see the module docstring for each kind."""

    def __init__(
        self,
        inner: ObjectStore,
        rate: float = 0.1,
        seed: int = 0,
        kinds: tuple[str, ...] = KINDS,
        methods: tuple[str, ...] = METHODS,
    ) -> None:
        unknown = set(kinds) - set(KINDS) | set(methods) - set(METHODS)
        if unknown:
            raise ValueError(f"FaultyStore: unknown kinds/methods {sorted(unknown)}")
        self.inner = inner
        self.url = inner.url
        self.cheap_list_after = getattr(inner, "cheap_list_after", False)  # the engine takes the inner store's sync path
        self.rate = rate
        self.kinds = tuple(kinds)
        self.methods = tuple(methods)
        self.injected: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"FaultyStore({self.inner!r}, rate={self.rate}, injected={dict(self.injected)})"

    def _draw(self, method: str) -> str | None:
        """Count the call and pick the fault to inject, if any."""
        applicable = [
            k
            for k in self.kinds
            if (k != "timeout_after" or method in _WRITES) and (k != "conflict" or method == "put")
        ]
        with self._lock:
            self.calls[method] += 1
            if method not in self.methods or not applicable or self._rng.random() >= self.rate:
                return None
            kind = self._rng.choice(applicable)
            self.injected[kind] += 1
            return kind

    def _call(self, method: str, what: str, op: Callable[[], T]) -> T:
        kind = self._draw(method)
        if kind is None:
            return op()
        if kind == "throttle":
            raise Unavailable(f"injected: {method} {what}: 503 SlowDown")
        if kind == "server_error":
            raise Unavailable(f"injected: {method} {what}: 500 InternalError")
        if kind == "timeout_before":
            raise Unavailable(f"injected: {method} {what}: read timeout (request not sent)")
        if kind == "conflict":
            raise ConflictInFlight(f"injected: {method} {what}: 409 ConditionalRequestConflict")
        op()  # timeout_after: the write lands, the caller never hears
        raise Unavailable(f"injected: {method} {what}: read timeout (response lost)")

    def get(self, key: str, *, if_none_match: str | None = None) -> GetResult:
        return self._call("get", key, lambda: self.inner.get(key, if_none_match=if_none_match))

    def head(self, key: str) -> ObjectInfo:
        return self._call("head", key, lambda: self.inner.head(key))

    def put(self, key: str, body: bytes, condition: PutCondition | None = None) -> str:
        return self._call("put", key, lambda: self.inner.put(key, body, condition))

    def list(self, prefix: str, *, start_after: str | None = None, limit: int | None = None) -> Iterator[ObjectInfo]:
        # Faults are decided when list is called, as a failed first ListObjects request would be.
        items = self._call("list", prefix, lambda: list(self.inner.list(prefix, start_after=start_after, limit=limit)))
        return iter(items)

    def delete(self, key: str) -> None:
        self._call("delete", key, lambda: self.inner.delete(key))

    def copy(self, src_key: str, dst_key: str, *, dst: ObjectStore | None = None) -> None:
        target = None if dst is self else dst
        self._call("copy", f"{src_key} -> {dst_key}", lambda: self.inner.copy(src_key, dst_key, dst=target))
