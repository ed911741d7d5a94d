"""What moves under a backup: GC removing the checkpoint being copied, and log keys reused with new content."""

from __future__ import annotations

from membucket import ops
from membucket.backup import BackupTarget, load_manifest, restore, take_backup, verify_backup
from membucket.store import open_store

from tests.support.factories import make_mb
from tests.support.state import dump


class CompactOnFirstRead:
    """Delegates to a store; the first GET of ``trigger`` first runs ``action`` (a compaction racing the backup)."""

    def __init__(self, inner, trigger, action):
        self.inner, self.trigger, self.action, self.fired = inner, trigger, action, False
        self.url = inner.url

    def get(self, key, **kw):
        if not self.fired and key == self.trigger:
            self.fired = True
            self.action()
        return self.inner.get(key, **kw)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def state(mb, user):
    with mb.namespace(user).read() as rep:
        return dump(rep)


def test_gc_moving_the_pointer_mid_backup_makes_the_namespace_be_read_again(tmp_path):
    src_url = str(tmp_path / "bucket")
    mb = make_mb(src_url, tmp_path / "c1", retention_seconds=0)
    ctx = mb.context("alice", app="cursor")
    for i in range(4):
        ops.add(ctx, f"fact {i} before the first checkpoint")
    first = mb.compact("alice", gc=False)
    for i in range(3):
        ops.add(ctx, f"fact {i} after it")
    old_meta = next(i.key for i in mb.store.list("ns/alice/checkpoints/") if i.key.endswith("manifest.json"))

    def two_compactions():
        mb.compact("alice")
        ops.add(ctx, "between the two")
        mb.compact("alice")

    # While the backup reads the old checkpoint, two compactions move the pointer and (retention 0)
    # delete the old checkpoint (two back now) and every entry up to the previous one.
    racing = CompactOnFirstRead(mb.store, old_meta, two_compactions)
    target = BackupTarget.open(str(tmp_path / "backups"))
    report = take_backup(racing, target.root)
    assert racing.fired and report.id and report.retried == 1
    rec = load_manifest(target.root).namespaces["alice"]
    assert rec.seq == 8 and rec.pointer["seq"] == 8 and first.seq == 4
    assert [c["seq"] for c in rec.checkpoints] == [7, 8] and [s for s, _ in rec.log] == [8]
    assert verify_backup(target.root, cache_dir=tmp_path / "v").ok
    restore(open_store(str(tmp_path / "restored")), target.root, cache_dir=tmp_path / "rc")
    assert state(make_mb(str(tmp_path / "restored"), tmp_path / "c2"), "alice") == state(mb, "alice")


def test_a_log_key_reused_with_other_content_is_copied_again(env, tmp_path):
    """Wipe, restore to an earlier point (sequence numbers kept), write again: log/<n> now holds
    other content under a key the backup already has. The next backup must not skip it."""
    src_url, bak_url, opts = env
    mb = make_mb(src_url, tmp_path / "c1", **opts)
    ctx = mb.context("alice", app="cursor")
    for i in range(5):
        ops.add(ctx, f"first timeline fact {i}")
    target = BackupTarget.open(bak_url, **opts)
    first = take_backup(mb.store, target.root)
    first_state = state(mb, "alice")
    for info in list(mb.store.list("")):
        mb.store.delete(info.key)
    restore(mb.store, target.root, cache_dir=tmp_path / "rc", user="alice", at_seq=3)
    mb2 = make_mb(src_url, tmp_path / "c2", **opts)
    for i in range(2):  # entries 4 and 5 again, with other content of the same size
        ops.add(mb2.context("alice", app="cursor"), f"later timeline fact {i}")
    want = state(mb2, "alice")
    assert want["seq"] == 5

    again = take_backup(mb.store, target.root)
    # Entries 4 and 5 are copied (their source ETags changed); 1..3 are recognised by checksum
    # even where their ETag changed (a directory store's ETag is the file's identity).
    assert again.copied == 2 and again.skipped == 3
    moved = load_manifest(target.root).moved()
    assert sorted(moved) == [f"ns/alice/log/{seq:020d}.json" for seq in (4, 5)]
    for key, copy in moved.items():  # the new content sits beside the old, which stays as it was
        assert target.root.get(copy).body == mb.store.get(key).body != target.objects.get(key).body

    for backup_id, want_state in ((first.id, first_state), (again.id, want)):  # both stay restorable
        assert verify_backup(target.root, backup_id=backup_id, cache_dir=tmp_path / f"v{backup_id}").ok
        restored = str(tmp_path / f"restored-{backup_id}")
        restore(open_store(restored), target.root, backup_id=backup_id, cache_dir=tmp_path / "rc")
        got = state(make_mb(restored, tmp_path / f"c-{backup_id}"), "alice")
        assert got == want_state
    assert any("later timeline" in m[2] for m in want["memories"])
