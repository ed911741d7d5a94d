"""Processes racing on one directory store (spawned: module-level functions, arguments by value)."""

from __future__ import annotations

from pathlib import Path

from membucket.store import IF_ABSENT, LocalStore, PreconditionFailed, PutCondition


def claim_worker(root: str, portable: bool | None, worker: int, claims: int, protocol: str | None = None) -> list[int]:
    """Claim ``claims`` sequence numbers the way the engine commits: next free number, If-None-Match.
    ``protocol``, when given, is the one the store must have chosen in this process."""
    store = LocalStore(Path(root), portable=portable)
    if protocol is not None:
        assert store.caps.protocol == protocol
    got: list[int] = []
    last: str | None = None
    while len(got) < claims:
        for info in store.list("seq/", start_after=last):
            last = info.key
        n = int(last.rsplit("/", 1)[1]) + 1 if last else 1
        try:
            store.put(f"seq/{n:020d}", f"worker {worker}".encode(), IF_ABSENT)
            got.append(n)
        except PreconditionFailed:
            pass  # another process took n: list again
    return got


def cas_worker(root: str, portable: bool | None, rounds: int) -> int:
    """Add 1 to ``counter`` ``rounds`` times by compare-and-swap; answers how many swaps were lost."""
    store = LocalStore(Path(root), portable=portable)
    lost = 0
    for _ in range(rounds):
        while True:
            current = store.get("counter")
            try:
                store.put("counter", b"%d" % (int(current.body) + 1), PutCondition(if_match=current.etag))
                break
            except PreconditionFailed:
                lost += 1
    return lost
