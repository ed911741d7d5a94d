"""Writes whose response was lost: the caller gets the answer of the write that landed.

A PUT can land while its response is lost (a timeout, a reset connection). botocore then retries
the same conditional PUT and gets 412 against our own object; the engine must read the entry and
recognise its ``txid`` instead of calling the write lost (which answered NOOP for a first-time add
and ``not_found`` for a delete that had succeeded).
"""

from __future__ import annotations

import random
import socket
import struct
import threading
import uuid

import pytest
from membucket import errors, ops
from membucket.store import MemoryStore, PreconditionFailed, Unavailable, open_store

from tests.support.factories import make_mb


class _LosesResponses(MemoryStore):
    """Every ``every``-th log PUT lands, then fails as the SDK would report it: either a
    retry's 412 against our own object (``mode='412'``) or a timeout (``mode='timeout'``)."""

    def __init__(self, every: int, mode: str) -> None:
        super().__init__()
        self.every, self.mode, self.puts, self.lost = every, mode, 0, 0

    def put(self, key, body, condition=None):
        etag = super().put(key, body, condition)
        if "/log/" in key:
            self.puts += 1
            if self.puts % self.every == 0:
                self.lost += 1
                if self.mode == "412":
                    raise PreconditionFailed(f"412 on retry of {key}")
                raise Unavailable(f"timeout after {key} landed")
        return etag


@pytest.mark.parametrize("mode", ["412", "timeout"])
def test_lost_responses_answer_what_landed(tmp_path, mode):
    store = _LosesResponses(every=3, mode=mode)
    mb = make_mb("memory://lost", tmp_path / "c", store=store)
    ctx = mb.context("alice", app="cursor")
    ids = []
    for i in range(12):
        ev = ops.add(ctx, f"first-time memory {i} {uuid.uuid4().hex}").events[0]
        assert ev.event == "ADD", ev  # never NOOP: the add that landed was ours
        ids.append(ev.id)
    for mid in ids[:6]:
        res = ops.delete(ctx, [mid])
        assert res.changed == [mid] and not res.unchanged  # never "already deleted" / not found
    assert store.lost >= 6
    with mb.namespace("alice").read() as rep:
        rows = rep.con.execute("SELECT state, count(*) FROM memories GROUP BY state ORDER BY state").fetchall()
        seqs = rep.seq
    assert rows == [("active", 6), ("deleted", 6)]
    assert seqs == 18  # each logical commit written exactly once


def test_a_writer_that_lost_the_race_learns_the_winner_in_one_read(tmp_path):
    url = str(tmp_path / "bucket")
    a, b = make_mb(url, tmp_path / "a"), make_mb(url, tmp_path / "b")
    ops.add(b.context("alice"), "seen by b")
    ops.add(a.context("alice"), "written by a while b is idle")
    ns = b.namespace("alice")
    assert ns.replica.seq == 1  # b believes seq 1 is the head; its PUT of log/2 would get 412
    gets: list[str] = []
    real_get = ns.store.get

    def counting_get(key, **kw):
        gets.append(key)
        return real_get(key, **kw)

    ns.store.get = counting_get
    try:
        assert ns._resolve_taken(2, "not-ours") is False
    finally:
        ns.store.get = real_get
    assert gets == [ns.keys.log(2)] and ns.replica.seq == 2


# -- botocore's own retries against moto's HTTP server behind a resetting proxy ---------------------


class _ResettingProxy:
    """Forward TCP to ``target``; reset ~``rate`` of the connections after the request went through
    (when the server's response starts arriving), so the request landed and its answer is lost."""

    def __init__(self, target: tuple[str, int], rate: float, seed: int = 0) -> None:
        self.target, self.rate = target, rate
        self.rng = random.Random(seed)
        self.resets = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            threading.Thread(target=self._pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, True), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, response: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if response and self.rng.random() < self.rate:
                    self.resets += 1
                    dst.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    break  # close with RST: the request was served, the response is lost
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):  # shutdown first: close() alone waits for the other pump's recv
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def close(self) -> None:
        self._stop = True
        self.sock.close()


@pytest.mark.slow
def test_botocore_retries_behind_a_resetting_proxy(tmp_path, s3_http_bucket, moto_atomic_conditional_writes):
    endpoint, bucket = s3_http_bucket
    host, port = endpoint.rsplit("//", 1)[1].split(":")
    proxy = _ResettingProxy((host, int(port)), rate=0.1, seed=3)
    try:
        url = f"s3://{bucket}/mb"
        store = open_store(url, endpoint_url=f"http://127.0.0.1:{proxy.port}")
        mb = make_mb(url, tmp_path / "c", store=store, commit_attempts=60)
        ctx = mb.context("alice", app="cursor")
        added: list[str] = []
        for i in range(40):
            try:
                ev = ops.add(ctx, f"through the proxy {i} {uuid.uuid4().hex}").events[0]
            except (errors.ServiceUnavailable, errors.StoreUnavailable):
                continue
            assert ev.event == "ADD", ev
            added.append(ev.id)
        deleted = 0
        for mid in added[:20]:
            try:
                res = ops.delete(ctx, [mid])
            except (errors.ServiceUnavailable, errors.StoreUnavailable):
                continue
            assert res.changed == [mid], res
            deleted += 1
        assert proxy.resets > 5, proxy.resets
    finally:
        proxy.close()
    clean = make_mb(url, tmp_path / "clean", store=open_store(url, endpoint_url=endpoint))
    with clean.namespace("alice").read() as rep:
        rows = dict(rep.con.execute("SELECT id, state FROM memories").fetchall())
    assert set(added) <= set(rows)
    assert sum(1 for s in rows.values() if s == "deleted") >= deleted


class _OwnEntryUnreadable(MemoryStore):
    """The first log PUT lands and answers 412 (the SDK's retry met our own object); the read of
    that entry right after fails too (the connection is still bad). A later sync reads it fine."""

    def __init__(self) -> None:
        super().__init__()
        self.armed = False
        self.failing_key: str | None = None

    def put(self, key, body, condition=None):
        etag = super().put(key, body, condition)
        if self.armed and "/log/" in key:
            self.armed, self.failing_key = False, key
            raise PreconditionFailed(f"put {key}: a retry met our own object")
        return etag

    def get(self, key, **kw):
        if key == self.failing_key:
            self.failing_key = None
            raise Unavailable(f"get {key}: connection reset")
        return super().get(key, **kw)


def test_a_plain_412_on_our_own_entry_answers_add_when_the_check_read_fails(tmp_path):
    store = _OwnEntryUnreadable()
    mb = make_mb("memory://own412", tmp_path / "c", store=store)
    ctx = mb.context("alice")
    ops.add(ctx, "warm")
    store.armed = True
    event = ops.add(ctx, "landed although its answer was lost").events[0]
    assert event.event == "ADD", event  # the next sync showed our txid: not a NOOP against ourselves
    with mb.namespace("alice").read() as rep:
        assert rep.seq == 2  # written once
