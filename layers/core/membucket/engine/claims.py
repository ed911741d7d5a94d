"""Compaction claims: one writer uploads the checkpoint that replaces a given pointer.

Several servers cross the compaction threshold at nearly the same sequence; without a claim each
uploads a full checkpoint (only one pointer move wins). Before snapshotting, an automatic
compaction PUTs ``compaction/<base>.json`` with If-None-Match, ``base`` being the sequence of
the checkpoint it would replace: the one that creates the claim uploads, the others skip. A
claim older than ``STALE_SECONDS`` (its writer died mid-upload) is taken over with If-Match on
its ETag, so one stale claim is taken over once. Claims below the pointer are garbage
(``collect_claims``). Correctness never depends on a claim: the pointer CAS still decides.
"""

from __future__ import annotations

import json
import time

from ..store import IF_ABSENT, NotFound, ObjectStore, PreconditionFailed, PutCondition
from .keys import NamespaceKeys

__all__ = ["claim_compaction", "collect_claims", "STALE_SECONDS"]

STALE_SECONDS = 300.0


def claim_compaction(store: ObjectStore, keys: NamespaceKeys, base_seq: int, seq: int, now: float | None = None) -> bool:
    """True if this writer may checkpoint ``seq`` in place of the checkpoint at ``base_seq``."""
    key = keys.compaction_claim(base_seq)
    body = json.dumps({"base": base_seq, "seq": seq, "at": time.time() if now is None else now}).encode()
    try:
        store.put(key, body, IF_ABSENT)
        return True
    except PreconditionFailed:
        pass
    try:
        info = store.head(key)
    except NotFound:
        return False  # collected meanwhile: the pointer moved past base_seq
    if (time.time() if now is None else now) - info.last_modified < STALE_SECONDS:
        return False
    try:
        store.put(key, body, PutCondition(if_match=info.etag))
        return True
    except (PreconditionFailed, NotFound):
        return False


def collect_claims(store: ObjectStore, keys: NamespaceKeys, pointer_seq: int) -> int:
    """Delete claims on checkpoints older than the current one; return how many."""
    deleted = 0
    for info in list(store.list(keys.compaction_prefix)):
        base = keys.seq_of_claim(info.key)
        if base is not None and base < pointer_seq:
            store.delete(info.key)
            deleted += 1
    return deleted
