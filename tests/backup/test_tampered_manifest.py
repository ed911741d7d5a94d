"""A tampered backup manifest must not let a restore write outside the namespaces it restores.

The manifest names keys (access records, side objects, checkpoint directories, token keys) that
the restore copies into the target. Each test lists another user's key (or a token key that is
not a token) under alice, restores alice alone, and checks that the restore is refused before
any write and that bob's objects and the other keys are untouched.
"""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from membucket import ops
from membucket.auth import TokenStore
from membucket.backup import BackupTarget, restore, take_backup
from membucket.backup.manifest import BACKUPS, list_backups
from membucket.errors import BackupUnusable
from membucket.store import open_store

from tests.support.factories import make_mb


def _listing(store, prefix=""):
    return sorted((i.key, i.etag) for i in store.list(prefix))


def _tamper(root, edit):
    key = f"{BACKUPS}{list_backups(root)[-1]}/manifest.json"
    doc = json.loads(root.get(key).body)
    edit(doc)
    root.put(key, json.dumps(doc).encode())


def _bob_log(doc):
    return next(k[len("objects/"):] for k in doc["objects"] if k.startswith("objects/ns/bob/log/"))


def _bob_checkpoint(doc):
    return doc["namespaces"]["bob"]["checkpoints"][0]


EDITS = {
    "access-into-bob": lambda d: d["namespaces"]["alice"]["access"].append(_bob_log(d)),
    "side-into-bob": lambda d: d["namespaces"]["alice"]["sides"].append(_bob_log(d)),
    "access-outside-ns": lambda d: d["namespaces"]["alice"]["access"].append("tokens/x.json"),
    "access-is-own-pointer": lambda d: d["namespaces"]["alice"]["access"].append("ns/alice/CHECKPOINT"),
    "side-is-own-log": lambda d: d["namespaces"]["alice"]["sides"].append(_bob_log(d).replace("bob", "alice")),
    "checkpoint-of-bob": lambda d: d["namespaces"]["alice"].update(checkpoints=[_bob_checkpoint(d)]),
    "token-key-not-a-token": lambda d: [t.update(key="ns/bob/CHECKPOINT") for t in d["tokens"] if t["user"] == "alice"],
    "token-of-bob-under-alice": lambda d: [t.update(user="alice") for t in d["tokens"]],
}


@pytest.mark.parametrize("name", sorted(EDITS))
def test_a_tampered_manifest_cannot_write_outside_the_restored_namespace(tmp_path, name):
    mb = make_mb(str(tmp_path / "bucket"), tmp_path / "c1")
    for user in ("alice", "bob"):
        ctx = mb.context(user, app="cursor")
        for i in range(3):
            ops.add(ctx, f"{user} fact number {i}")
    mb.compact("bob", gc=False)
    tokens = TokenStore(mb.store)
    tokens.create("alice", "cursor", ["write"])
    tokens.create("bob", "cursor", ["write"])
    target = BackupTarget.open(str(tmp_path / "backups"))
    take_backup(mb.store, target.root)
    _tamper(target.root, EDITS[name])

    ops.add(mb.context("bob", app="cursor"), "bob wrote after the backup")
    for info in list(mb.store.list("ns/alice/")) + [i for i in mb.store.list("tokens/")]:
        mb.store.delete(info.key)
    before = _listing(mb.store)
    with pytest.raises(BackupUnusable):
        restore(mb.store, target.root, cache_dir=tmp_path / "rc", user="alice", force=True)
    assert _listing(mb.store) == before  # nothing written, bob's namespace included


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "²", "-3"])
def test_cli_restore_at_out_of_range_is_a_clean_error(tmp_path, monkeypatch, at):
    from click.testing import CliRunner
    from membucket import cli as cli_module

    monkeypatch.setenv("MEMBUCKET_STORE", str(tmp_path / "bucket"))
    result = CliRunner().invoke(cli_module.cli, ["restore", "--from", str(tmp_path / "backups"), "--user", "alice", "--at", at])
    assert result.exit_code == 1 and isinstance(result.exception, (SystemExit, type(None))), result.exception
    assert "invalid_input" in result.stderr


@pytest.mark.parametrize("edit", [
    lambda d: d.pop("id"),
    lambda d: d["namespaces"]["alice"].update(surprise=1),
    lambda d: d.update(tokens=[{"key": "tokens/x.json"}]),
    lambda d: d.update(namespaces=[]),
    lambda d: d["namespaces"]["alice"].update(log=[["x", "y"]]),
    lambda d: d["namespaces"]["alice"].update(log=[[1, 5]]),
    lambda d: d["namespaces"]["alice"].update(checkpoints=[{"seq": "a"}]),
    lambda d: d["namespaces"]["alice"].update(checkpoints=[7]),
], ids=["no-id", "unknown-field", "token-fields", "namespaces-list", "log-str", "log-ts-int", "checkpoint-seq-str", "checkpoint-int"])
def test_a_malformed_manifest_is_backup_unusable(tmp_path, edit):
    from membucket.backup import verify_backup

    mb = make_mb(str(tmp_path / "bucket"), tmp_path / "c1")
    ops.add(mb.context("alice"), "alice likes tea")
    target = BackupTarget.open(str(tmp_path / "backups"))
    take_backup(mb.store, target.root)
    _tamper(target.root, edit)
    try:  # verify reports or refuses; it never crashes
        verify_backup(target.root)
    except BackupUnusable:
        pass
    with pytest.raises(BackupUnusable):  # a point in time reads every record's fields
        restore(open_store(str(tmp_path / "r")), target.root, cache_dir=tmp_path / "rc", at_time=datetime(2030, 1, 1))
    assert list(open_store(str(tmp_path / "r")).list("")) == []


@pytest.mark.parametrize("where", ["bucket", "bucket/ns/zed", "bucket/sub", "."])
def test_a_backup_target_overlapping_the_source_is_refused(tmp_path, where):
    from membucket.errors import InvalidInput

    mb = make_mb(str(tmp_path / "bucket"), tmp_path / "c1")
    ops.add(mb.context("alice"), "alice likes tea")
    before = _listing(mb.store)
    target = open_store(str(tmp_path / where))
    with pytest.raises(InvalidInput):
        take_backup(mb.store, target)
    assert _listing(mb.store) == before
    with pytest.raises(InvalidInput):
        restore(mb.store, target, cache_dir=tmp_path / "rc", force=True)
    assert _listing(mb.store) == before


def test_a_sibling_prefix_is_not_an_overlap(tmp_path):
    mb = make_mb(str(tmp_path / "bucket"), tmp_path / "c1")
    ops.add(mb.context("alice"), "alice likes tea")
    assert take_backup(mb.store, open_store(str(tmp_path / "bucket-bak"))).id


def test_restore_force_refuses_a_log_entry_that_does_not_match_its_checksum(tmp_path):
    """--force replays the backup locally: a damaged entry must stop it, as it stops a copy-in."""
    mb = make_mb(str(tmp_path / "bucket"), tmp_path / "c1")
    ctx = mb.context("alice")
    ops.add(ctx, "alice likes tea")
    ops.add(ctx, "alice rides a bike")
    target = BackupTarget.open(str(tmp_path / "backups"))
    take_backup(mb.store, target.root)
    victim = next((tmp_path / "backups" / "objects" / "ns" / "alice" / "log").iterdir())
    victim.write_bytes(victim.read_bytes().replace(b"tea", b"gin"))
    ops.add(ctx, "alice moved inland")
    before = _listing(mb.store)
    with pytest.raises(BackupUnusable, match="checksum"):
        restore(mb.store, target.root, cache_dir=tmp_path / "rc", user="alice", force=True)
    assert _listing(mb.store) == before


def test_a_restore_entry_naming_another_users_checkpoint_is_not_loaded(tmp_path):
    """A ``namespace.restore`` entry (which a restored log may carry) must name a checkpoint of its own namespace."""
    from membucket.engine.checkpoint import CorruptCheckpoint, read_pointer
    from membucket.engine.keys import NamespaceKeys
    from membucket.engine.log import LogEntry
    from membucket.engine.replica import RESTORE_OP

    mb = make_mb(str(tmp_path / "bucket"), tmp_path / "c1")
    for i in range(3):
        ops.add(mb.context("bob"), f"bob secret number {i}")
    mb.compact("bob", gc=False)
    bob_ckpt = read_pointer(mb.store, NamespaceKeys("bob"))
    alice = mb.context("alice")
    while (seq := _seq(mb, "alice")) < bob_ckpt.seq - 1:
        ops.add(alice, f"alice fact {seq}")
    entry = LogEntry(seq=bob_ckpt.seq, ops=[{"op": RESTORE_OP, "checkpoint": bob_ckpt.dir, "backup": "x", "source_seq": 1}], actor="restore")
    mb.store.put(NamespaceKeys("alice").log(bob_ckpt.seq), entry.encode())
    cold = make_mb(str(tmp_path / "bucket"), tmp_path / "c2")
    with pytest.raises(CorruptCheckpoint, match="outside ns/alice/checkpoints/"):
        ops.list_memories(cold.context("alice"))


def _seq(mb, user):
    with mb.namespace(user).read() as rep:
        return rep.seq
