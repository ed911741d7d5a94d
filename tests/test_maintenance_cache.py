"""Scheduled compaction reuses the machine's object cache: a second run downloads only new segments."""

from __future__ import annotations

from membucket import ops
from membucket.engine.checkpoint import read_manifest, read_pointer
from membucket.engine.keys import NamespaceKeys
from membucket.maintenance import compact_all
from membucket.store import open_store

from tests.support.factories import make_mb


class SegmentGets:
    """Counts GETs (and downloads) of segment objects through it."""

    def __init__(self, inner) -> None:
        self.inner, self.url, self.keys = inner, inner.url, []

    def get(self, key, **kw):
        if "/segments/" in key:
            self.keys.append(key)
        return self.inner.get(key, **kw)

    def download(self, key, path):
        self.keys.append(key)
        download = getattr(self.inner, "download", None)
        if download is None:
            path.write_bytes(self.inner.get(key).body)
        else:
            download(key, path)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_a_second_maintenance_run_downloads_only_the_new_segments(tmp_path):
    url = str(tmp_path / "bucket")
    writer = make_mb(url, tmp_path / "writer", compact_after=0)
    ctx = writer.context("alice")
    for i in range(20):
        ops.add(ctx, f"memory {i} kept by the nightly compaction")
    counting = SegmentGets(open_store(url))
    maintenance = make_mb(url, tmp_path / "maintenance", store=counting, compact_after=0)
    assert compact_all(maintenance, gc=False).compacted == 1
    keys = NamespaceKeys("alice")
    first = set(read_manifest(counting, read_pointer(counting, keys).dir).objects())
    ops.add(ctx, "one more before the next run")
    counting.keys.clear()
    assert compact_all(maintenance, gc=False).compacted == 1
    fetched = {keys.segment_sha256(k) for k in counting.keys}
    assert not fetched & first, "segments of the previous run came from the machine's cache"
    # and what it wrote loads: the new checkpoint holds all 21 memories
    fresh = make_mb(url, tmp_path / "fresh")
    assert ops.list_memories(fresh.context("alice")).total == 21
