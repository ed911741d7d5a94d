"""JSON records under one bucket prefix, with create-if-absent and compare-and-swap updates.

Every OAuth object (client, code, grant, access token) is one small JSON object; races that
matter (a code redeemed twice, a refresh token rotated twice) are settled by the store's
conditional writes, so any number of processes or Lambda containers can share the bucket.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

from ...store import IF_ABSENT, NotFound, ObjectStore, PreconditionFailed, PutCondition

__all__ = ["Records"]


class Records:
    def __init__(self, store: ObjectStore, prefix: str) -> None:
        self.store = store
        self.prefix = prefix

    def key(self, rid: str) -> str:
        return f"{self.prefix}{rid}.json"

    def read(self, rid: str) -> tuple[dict, str] | None:
        """The record and its ETag, or None."""
        try:
            got = self.store.get(self.key(rid))
        except NotFound:
            return None
        return json.loads(got.body), got.etag

    def create(self, rid: str, data: dict) -> bool:
        """Write a new record; False when one already exists under that id."""
        try:
            self.store.put(self.key(rid), json.dumps(data).encode(), IF_ABSENT)
        except PreconditionFailed:
            return False
        return True

    def update(self, rid: str, change: Callable[[dict], dict | None], attempts: int = 20) -> dict | None:
        """Apply ``change`` to the current record and write it back only if nobody wrote in between.

        ``change`` gets a copy and returns the new record, or None to leave it as is. Returns the
        record as stored afterwards, or None when there is no record.
        """
        for _ in range(attempts):
            current = self.read(rid)
            if current is None:
                return None
            data, etag = current
            new = change(dict(data))
            if new is None:
                return data
            try:
                self.store.put(self.key(rid), json.dumps(new).encode(), PutCondition(if_match=etag))
            except PreconditionFailed:
                continue
            return new
        raise PreconditionFailed(f"{self.key(rid)}: too many concurrent updates")

    def delete(self, rid: str) -> None:
        self.store.delete(self.key(rid))

    def ids(self) -> Iterator[str]:
        for obj in self.store.list(self.prefix):
            name = obj.key[len(self.prefix):]
            if name.endswith(".json") and "/" not in name:
                yield name[: -len(".json")]

    def all(self) -> Iterator[tuple[str, dict]]:
        for rid in list(self.ids()):
            got = self.read(rid)
            if got is not None:
                yield rid, got[0]
