"""Access control for apps: paused apps, allow/deny rules, and the access log.

Rules (per app, or for every app with ``app='*'``) have an effect (allow/deny) and a scope:
``all``, one ``memory`` (target = id) or one ``category`` (target = name).

- A paused app can neither read nor write (AppPaused).
- Deny wins: a memory matched by any deny rule is invisible to the app.
- An app with allow rules is in allow-list mode: it sees only what an allow rule matches.
- An app with a deny-all rule sees nothing and cannot write (fail closed).

The owner (``Context.app is None``) is not subject to rules and is not access-logged.
Visibility is applied as an exact SQL predicate (``engine.predicates``), never by over-fetching
and filtering.
"""

from __future__ import annotations

import atexit
import json
import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..engine import access_log, queries
from ..engine.log import format_ts, parse_ts, utcnow
from ..engine.operations import AppUpsert
from ..engine.replica import Replica
from ..errors import AccessDenied, AppPaused
from .context import Context

__all__ = ["Visibility", "visibility", "check_app", "check_caller", "app_exists", "record_access", "ingest_access_log"]


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Visibility:
    deny_all: bool = False
    deny_ids: tuple[str, ...] = ()
    deny_cats: tuple[str, ...] = ()
    allow_list: bool = False  # any allow rule exists
    allow_all: bool = False
    allow_ids: tuple[str, ...] = ()
    allow_cats: tuple[str, ...] = ()

    @property
    def unrestricted(self) -> bool:
        return not (self.deny_all or self.deny_ids or self.deny_cats or (self.allow_list and not self.allow_all))

    def allows_row(self, rep: Replica, memory_id: str, categories: list[str]) -> bool:
        """``allows``, plus: with category deny rules, a memory not yet categorized is hidden
        (as in ``engine.predicates.visibility_sql``)."""
        if self.deny_cats and queries.is_pending(rep, memory_id):
            return False
        return self.allows(memory_id, categories)

    def allows(self, memory_id: str, categories: list[str]) -> bool:
        if self.deny_all or memory_id in self.deny_ids or set(categories) & set(self.deny_cats):
            return False
        if self.allow_list and not self.allow_all:
            return memory_id in self.allow_ids or bool(set(categories) & set(self.allow_cats))
        return True


OWNER = Visibility()


def visibility(rep: Replica, app: str | None) -> Visibility:
    if app is None:
        return OWNER
    rows = queries.app_rules(rep, app)
    deny_all = any(e == "deny" and s == "all" for e, s, _ in rows)
    targeted = [(e, s, t) for e, s, t in rows if t is not None]  # memory and category rules name a target
    vis = Visibility(
        deny_all=deny_all,
        deny_ids=tuple(t for e, s, t in targeted if e == "deny" and s == "memory"),
        deny_cats=tuple(t for e, s, t in targeted if e == "deny" and s == "category"),
        allow_list=any(e == "allow" for e, _, _ in rows),
        allow_all=any(e == "allow" and s == "all" for e, s, _ in rows),
        allow_ids=tuple(t for e, s, t in targeted if e == "allow" and s == "memory"),
        allow_cats=tuple(t for e, s, t in targeted if e == "allow" and s == "category"),
    )
    return vis


def app_exists(rep: Replica, app: str) -> bool:
    return queries.app_row(rep, app) is not None


def app_ops(app: str | None, rep: Replica) -> list[AppUpsert]:
    """An app's first write also records the app (the owner, ``None``, is no app)."""
    if app is not None and not app_exists(rep, app):
        return [AppUpsert(name=app)]
    return []


def duplicate(ctx: Context, rep: Replica, digest: str, vis: Visibility) -> tuple | None:
    """(id, text) of an exact duplicate: among the owner's every kept state; among an app's only
    the active ones it can see (a NOOP naming a paused memory would reveal it to the app)."""
    return queries.duplicate(rep, digest, vis, active_only=ctx.app is not None)


def check_app(rep: Replica, app: str | None, *, write: bool = False) -> Visibility:
    """Refuse a paused app (and a deny-all app's writes); return the app's visibility."""
    if app is None:
        return OWNER
    row = queries.app_row(rep, app)
    if row is not None and row[0]:
        raise AppPaused(f"app {app!r} is paused: it can neither read nor write memories", app=app)
    vis = visibility(rep, app)
    if write and vis.deny_all:
        raise AccessDenied(f"app {app!r} is denied access to all memories", app=app)
    return vis


def check_caller(ctx: Context, *, write: bool = False) -> None:
    """Refuse a paused app (and, for ``write``, a deny-all app) before work outside the namespace.

    For surfaces whose operation does not read the namespace itself (token management, the
    server's config): a paused app gets AppPaused there too. The owner always passes.
    """
    if ctx.app is None:
        return
    with ctx.ns.read() as rep:
        check_app(rep, ctx.app, write=write)


class AccessLogWriter:
    """Writes access-log objects on a background thread, so a read does not wait for a PUT.

    Records are lost only if the process dies with some still queued (see the data loss window
    in docs/how-it-works.md); ``flush()`` runs at exit and before this process reads the log.
    """

    def __init__(self) -> None:
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, store, key: str, body: bytes) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="membucket-access-log", daemon=True)
                self._thread.start()
        self._queue.put((store, key, body))

    def _run(self) -> None:
        while True:
            store, key, body = self._queue.get()
            try:
                for attempt in range(3):
                    try:
                        store.put(key, body)
                        break
                    except Exception:  # a lost record must never break a read
                        if attempt == 2:
                            log.warning("dropped access-log record %s", key, exc_info=True)
                        time.sleep(0.05 * (attempt + 1))
            finally:
                self._queue.task_done()

    def flush(self) -> None:
        self._queue.join()


ACCESS_WRITER = AccessLogWriter()
atexit.register(ACCESS_WRITER.flush)
_LATE_WINDOW = timedelta(minutes=5)  # how late an access record may land and still be ingested


def record_access(ctx: Context, op: str, query: str | None, hits: list[tuple[str, float | None]]) -> None:
    """Append one access-log object (its own key: it never contends with commits)."""
    if ctx.app is None or not hits:
        return
    now = utcnow()
    key = f"{ctx.ns.keys.access_prefix}{now.strftime('%Y%m%dT%H%M%S%f')}-{uuid.uuid4().hex[:12]}.json"
    doc = {"app": ctx.app, "op": op, "query": query, "at": format_ts(now), "hits": [{"id": i, "score": s} for i, s in hits]}
    body = json.dumps(doc).encode()
    if ctx.settings.access_log_async:
        ACCESS_WRITER.submit(ctx.ns.store, key, body)
    else:
        ctx.ns.store.put(key, body)


def ingest_access_log(ctx: Context, rep: Replica) -> None:
    """Load access-log objects into the replica's access_log table.

    Keys sort by time, but a record can land late (another process, the background writer), so
    listing restarts a few minutes before the newest key seen and skips keys already loaded.
    """
    ACCESS_WRITER.flush()
    prefix = ctx.ns.keys.access_prefix
    start = None
    if rep.access_after:
        stamp = rep.access_after[len(prefix):].split("-", 1)[0]
        try:
            start = prefix + (datetime.strptime(stamp, "%Y%m%dT%H%M%S%f") - _LATE_WINDOW).strftime("%Y%m%dT%H%M%S%f")
        except ValueError:
            start = rep.access_after
    seen = access_log.keys_after(rep, start or "")
    rows = []
    newest = rep.access_after
    for info in ctx.ns.store.list(prefix, start_after=start):
        if info.key in seen:
            continue
        doc = json.loads(ctx.ns.store.get(info.key).body)
        at = parse_ts(doc["at"])
        rows += [[info.key, doc.get("app"), doc.get("op"), doc.get("query"), h["id"], h.get("score"), at] for h in doc["hits"]]
        newest = max(newest, info.key)
    if rows:
        access_log.append(rep, rows)
    if newest != rep.access_after:
        rep.mark_access_ingested(newest)


def ensure_app(ctx: Context) -> None:
    """Create the calling app on first use (one small commit, once per app)."""
    from ..engine.namespace import Plan

    app = ctx.app
    if app is None:
        return
    ctx.ns.commit(
        lambda rep: None if app_exists(rep, app) else Plan([AppUpsert(name=app)]),
        actor=ctx.who,
    )
