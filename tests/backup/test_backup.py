"""Bucket-level backup and restore, on the directory store and on moto's HTTP S3 server.

Backup -> wipe -> restore gives back every namespace exactly (``state.dump``) and the tokens;
a second run copies nothing; point-in-time restore by sequence and by time; refusals; verify
catches damage; ``restore --force`` replaces a namespace so that live replicas follow.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from membucket import ops
from membucket.auth import TokenStore
from membucket.backup import BackupTarget, list_backups, load_manifest, restore, take_backup, verify_backup
from membucket.engine.keys import NamespaceKeys
from membucket.engine.log import LogEntry
from membucket.errors import BackupUnusable, InvalidInput, NotFoundError, TargetNotEmpty
from membucket.store import open_store

from tests.support.factories import make_mb
from tests.support.state import dump


def mb_for(url, cache, opts):
    return make_mb(url, cache, **opts)


def fill(mb, user, n=6, app="cursor", topic="colour"):
    ctx = mb.context(user, app=app)
    ids = [ops.add(ctx, f"{user} fact {i}: item {i} has {topic} {i % 4}").events[0].id for i in range(n)]
    ops.change_state(ctx, ids[:1], "archived")
    ops.update(ctx, ids[1], text=f"{user} rewrote the second {topic} fact")
    return ids


def state(mb, user):
    with mb.namespace(user).read() as rep:
        return dump(rep)


def wipe(store):
    for info in list(store.list("")):
        store.delete(info.key)


def test_backup_wipe_restore_gives_back_every_namespace_and_token(env, tmp_path):
    src_url, bak_url, opts = env
    mb = mb_for(src_url, tmp_path / "c1", opts)
    for user in ("alice", "bob"):
        fill(mb, user)
    mb.compact("alice", gc=False)  # alice: a checkpoint plus a tail; bob: log only
    fill(mb, "alice", n=2, app="claude", topic="weight")
    token, _ = TokenStore(mb.store).create("alice", "cursor", ["write"])
    before = {u: state(mb, u) for u in ("alice", "bob")}

    target = BackupTarget.open(bak_url, **opts)
    report = take_backup(mb.store, target.root)
    assert report.id and report.namespaces == 2 and report.skipped == 0 and report.copied == report.objects
    if opts:  # two buckets on one endpoint: checkpoint segments never pass through this process
        assert report.server_side == len(list(mb.store.list("ns/alice/segments/"))) > 0

    wipe(mb.store)
    assert not list(mb.store.list(""))
    restored = restore(mb.store, target.root, cache_dir=tmp_path / "rc")
    assert {u: r["seq"] for u, r in restored.namespaces.items()} == {u: before[u]["seq"] for u in before}
    fresh = mb_for(src_url, tmp_path / "c2", opts)  # a new process: cold replicas
    assert {u: state(fresh, u) for u in ("alice", "bob")} == before
    assert TokenStore(fresh.store).verify(token).user == "alice"


def test_second_run_copies_nothing_and_new_commits_copy_only_themselves(env, tmp_path):
    src_url, bak_url, opts = env
    mb = mb_for(src_url, tmp_path / "c1", opts)
    fill(mb, "alice")
    mb.compact("alice", gc=False)
    target = BackupTarget.open(bak_url, **opts)
    first = take_backup(mb.store, target.root)
    second = take_backup(mb.store, target.root)
    assert first.copied > 0 and second.copied == 0 and second.skipped == first.copied == second.objects
    ops.add(mb.context("alice", app="cursor"), "one more fact after the backups")
    third = take_backup(mb.store, target.root)
    assert third.copied == 1 and third.skipped == first.copied  # just the new log entry
    assert list_backups(target.root) == [first.id, second.id, third.id]
    assert load_manifest(target.root).namespaces["alice"].seq == first_seq(target, first.id) + 1
    assert verify_backup(target.root, cache_dir=tmp_path / "v").ok


def first_seq(target, backup_id):
    return load_manifest(target.root, backup_id).namespaces["alice"].seq


def test_point_in_time_by_sequence_and_by_time(tmp_path):
    src_url = str(tmp_path / "bucket")
    mb = make_mb(src_url, tmp_path / "c1")
    ctx = mb.context("alice", app="cursor")
    for i in range(4):
        ops.add(ctx, f"early fact {i} about tea")
    mb.compact("alice", gc=False)  # checkpoint at 4
    for i in range(3):
        ops.add(ctx, f"middle fact {i} about bikes")
    middle = state(mb, "alice")  # seq 7
    time.sleep(0.01)
    cut = LogEntry(seq=0, ops=[]).ts  # between entry 7 and entry 8
    time.sleep(0.01)
    for i in range(3):
        ops.add(ctx, f"late fact {i} about boats")
    early_seq = 2
    target = BackupTarget.open(str(tmp_path / "backups"))
    take_backup(mb.store, target.root)

    by_seq = open_store(str(tmp_path / "r1"))
    rep = restore(by_seq, target.root, cache_dir=tmp_path / "rc", user="alice", at_seq=7)
    assert rep.namespaces["alice"]["seq"] == 7
    assert state(make_mb(str(tmp_path / "r1"), tmp_path / "c2"), "alice") == middle

    by_time = open_store(str(tmp_path / "r2"))
    rep = restore(by_time, target.root, cache_dir=tmp_path / "rc", at_time=cut)
    assert rep.namespaces["alice"]["seq"] == 7
    assert state(make_mb(str(tmp_path / "r2"), tmp_path / "c3"), "alice") == middle

    below = open_store(str(tmp_path / "r3"))  # below the checkpoint: replayed from entry 1
    restore(below, target.root, cache_dir=tmp_path / "rc", user="alice", at_seq=early_seq)
    got = state(make_mb(str(tmp_path / "r3"), tmp_path / "c4"), "alice")
    assert got["seq"] == 2
    assert sorted(m[2] for m in got["memories"]) == ["early fact 0 about tea", "early fact 1 about tea"]

    with pytest.raises(BackupUnusable):
        restore(open_store(str(tmp_path / "r4")), target.root, cache_dir=tmp_path / "rc", user="alice", at_seq=99)
    with pytest.raises(InvalidInput):  # a sequence means nothing across namespaces
        restore(open_store(str(tmp_path / "r4")), target.root, cache_dir=tmp_path / "rc", at_seq=3)
    before_all = open_store(str(tmp_path / "r5"))
    rep = restore(before_all, target.root, cache_dir=tmp_path / "rc", at_time=cut - timedelta(days=1))
    assert rep.namespaces["alice"]["seq"] == 0  # the whole log is retained: the namespace was empty then


def test_time_before_the_retained_log_is_refused(tmp_path):
    mb = make_mb(str(tmp_path / "bucket"), tmp_path / "c1", retention_seconds=0)
    ctx = mb.context("alice", app="cursor")
    for i in range(3):
        ops.add(ctx, f"fact {i}")
    mb.compact("alice")
    ops.add(ctx, "after the first checkpoint")
    mb.compact("alice")  # retention 0: entries up to the previous checkpoint (1..3) collected at once
    ops.add(ctx, "after the collection")
    target = BackupTarget.open(str(tmp_path / "backups"))
    take_backup(mb.store, target.root)
    manifest = load_manifest(target.root)
    assert [s for s, _ in manifest.namespaces["alice"].log] == [4, 5]
    with pytest.raises(BackupUnusable):
        restore(open_store(str(tmp_path / "r")), target.root, cache_dir=tmp_path / "rc",
                at_time=LogEntry(seq=0, ops=[]).ts - timedelta(days=1))
    with pytest.raises(BackupUnusable):  # seq 2 needs entries that were collected
        restore(open_store(str(tmp_path / "r")), target.root, cache_dir=tmp_path / "rc", user="alice", at_seq=2)
    assert not list(open_store(str(tmp_path / "r")).list(""))  # refused before writing anything


def test_restore_refuses_a_non_empty_namespace_without_force(tmp_path):
    mb = make_mb(str(tmp_path / "bucket"), tmp_path / "c1")
    fill(mb, "alice")
    fill(mb, "bob")
    target = BackupTarget.open(str(tmp_path / "backups"))
    take_backup(mb.store, target.root)
    ops.add(mb.context("bob", app="cursor"), "bob wrote after the backup")
    keys_before = sorted((i.key, i.etag) for i in mb.store.list(""))
    with pytest.raises(TargetNotEmpty) as err:
        restore(mb.store, target.root, cache_dir=tmp_path / "rc")
    assert "alice" in err.value.message and "bob" in err.value.message
    assert sorted((i.key, i.etag) for i in mb.store.list("")) == keys_before  # nothing written


def test_one_user_restore_leaves_other_users_and_their_tokens_untouched(tmp_path):
    mb = make_mb(str(tmp_path / "bucket"), tmp_path / "c1")
    fill(mb, "alice")
    fill(mb, "bob")
    tokens = TokenStore(mb.store)
    alice_token, _ = tokens.create("alice", "cursor", ["write"])
    _, bob_info = tokens.create("bob", "cursor", ["write"])
    target = BackupTarget.open(str(tmp_path / "backups"))
    take_backup(mb.store, target.root)
    ops.add(mb.context("bob", app="cursor"), "bob wrote after the backup")
    tokens.revoke(bob_info.id)
    bob_objects = sorted((i.key, i.etag) for i in mb.store.list("ns/bob/"))
    bob_token = mb.store.get(f"tokens/{bob_info.id}.json").body
    wipe_prefix = [i.key for i in mb.store.list("ns/alice/")] + [f"tokens/{alice_token.split('_')[1]}.json"]
    for key in wipe_prefix:
        mb.store.delete(key)

    rep = restore(mb.store, target.root, cache_dir=tmp_path / "rc", user="alice")
    assert list(rep.namespaces) == ["alice"] and rep.tokens_restored == 1
    assert sorted((i.key, i.etag) for i in mb.store.list("ns/bob/")) == bob_objects
    assert mb.store.get(f"tokens/{bob_info.id}.json").body == bob_token  # bob's revocation stands
    assert TokenStore(mb.store).verify(alice_token).user == "alice"


def test_force_replaces_a_namespace_and_live_replicas_follow(env, tmp_path):
    src_url, bak_url, opts = env
    writer = mb_for(src_url, tmp_path / "c1", opts)
    fill(writer, "alice")
    target = BackupTarget.open(bak_url, **opts)
    take_backup(writer.store, target.root)
    backed_up = state(writer, "alice")
    for i in range(5):  # the namespace moves on: a longer log than the backup's
        ops.add(writer.context("alice", app="cursor"), f"written after the backup {i}")
    reader = mb_for(src_url, tmp_path / "c2", opts)  # another process, warm at the newer state
    old_seq = state(reader, "alice")["seq"]
    assert old_seq == backed_up["seq"] + 5

    rep = restore(writer.store, target.root, cache_dir=tmp_path / "rc", user="alice", force=True)
    assert rep.namespaces["alice"] == {"seq": backed_up["seq"], "mode": "replaced", "namespace_seq": old_seq + 1}
    for mb in (reader, writer, mb_for(src_url, tmp_path / "c3", opts)):  # warm replicas and a cold one
        got = state(mb, "alice")
        assert got["seq"] == old_seq + 1  # sequence numbers never go backwards
        assert {**got, "seq": None} == {**backed_up, "seq": None}

    ops.add(reader.context("alice", app="cursor"), "written after the restore")  # writes build on it
    after = state(writer, "alice")
    assert after["seq"] == old_seq + 2 and len(after["memories"]) == len(backed_up["memories"]) + 1
    assert state(mb_for(src_url, tmp_path / "c4", opts), "alice") == after

    # The next backup copies the restore's entry and checkpoint, and restores to the same state.
    again = take_backup(writer.store, target.root)
    assert again.id and verify_backup(target.root, cache_dir=tmp_path / "v").ok
    wipe(writer.store)
    restore(writer.store, target.root, cache_dir=tmp_path / "rc")
    assert state(mb_for(src_url, tmp_path / "c5", opts), "alice") == after


def test_verify_finds_a_missing_and_a_corrupted_object(tmp_path):
    mb = make_mb(str(tmp_path / "bucket"), tmp_path / "c1")
    fill(mb, "alice")
    mb.compact("alice", gc=False)
    fill(mb, "bob")
    target = BackupTarget.open(str(tmp_path / "backups"))
    take_backup(mb.store, target.root)
    assert verify_backup(target.root, cache_dir=tmp_path / "v").ok
    manifest = load_manifest(target.root)
    db_key = next(k for k in manifest.objects if k.startswith("objects/ns/alice/segments/") and k.endswith(".parquet"))
    entry_key = NamespaceKeys("bob").log(3)
    body = bytearray(target.objects.get(db_key[len("objects/"):]).body)
    body[len(body) // 2] ^= 0xFF
    target.objects.put(db_key[len("objects/"):], bytes(body))
    target.objects.delete(entry_key)

    report = verify_backup(target.root, cache_dir=tmp_path / "v2")
    assert not report.ok
    assert report.corrupt == [db_key] and report.missing == ["objects/" + entry_key]
    assert set(report.replay_failed) == {"alice", "bob"}


def test_cli_backup_list_verify_restore(tmp_path, cli_env):
    import json

    run, store_url, bak_url = cli_env, cli_env.store, str(tmp_path / "backups")
    for text in ("alice likes tea", "alice rides a bike", "alice lives by the sea"):
        run("--user", "alice", "add", text)
    before = state(make_mb(store_url, tmp_path / "c1"), "alice")
    first = json.loads(run("backup", "--to", bak_url).stdout)
    second = json.loads(run("backup", "--to", bak_url).stdout)
    assert first["copied"] == 3 and second["copied"] == 0 and second["skipped"] == 3
    listed = json.loads(run("backup", "list", bak_url).stdout)
    assert [b["id"] for b in listed] == [first["id"], second["id"]] and listed[0]["namespaces"] == 1
    assert json.loads(run("backup", "verify", bak_url).stdout)["ok"] is True

    refused = run("restore", "--from", bak_url, code=1)
    assert "target_not_empty" in refused.stderr
    run("--user", "alice", "add", "alice moved inland")
    out = json.loads(run("restore", "--from", bak_url, "--user", "alice", "--at", "2", "--force").stdout)
    assert out["namespaces"]["alice"] == {"seq": 2, "mode": "replaced", "namespace_seq": 5}
    got = state(make_mb(store_url, tmp_path / "c2"), "alice")
    assert sorted(m[2] for m in got["memories"]) == ["alice likes tea", "alice rides a bike"]
    assert "invalid_input" in run("restore", "--from", bak_url, "--at", "yesterday", code=1).stderr

    wipe(open_store(store_url))
    run("restore", "--from", bak_url)
    assert state(make_mb(store_url, tmp_path / "c3"), "alice") == before

    victim = next((tmp_path / "backups" / "objects" / "ns" / "alice" / "log").iterdir())
    victim.write_bytes(victim.read_bytes().replace(b"tea", b"tee"))
    bad = json.loads(run("backup", "verify", bak_url, code=1).stdout)
    assert bad["ok"] is False and bad["corrupt"] == ["objects/ns/alice/log/" + victim.name]


def test_a_run_cut_short_writes_no_manifest_and_the_next_run_skips_what_it_copied(tmp_path):
    mb = make_mb(str(tmp_path / "bucket"), tmp_path / "c1")
    for user in ("alice", "bob", "carol"):
        fill(mb, user)
    target = BackupTarget.open(str(tmp_path / "backups"))
    budget = iter([100.0])  # one namespace's worth of time, then none (as a Lambda nearing its timeout)
    cut = take_backup(mb.store, target.root, workers=1, time_left=lambda: next(budget, 0.0), reserve_seconds=1.0)
    assert cut.id is None and cut.namespaces == 1 and cut.not_reached == 2 and cut.copied > 0
    assert list_backups(target.root) == []  # not a backup
    with pytest.raises(NotFoundError):
        restore(open_store(str(tmp_path / "r")), target.root, cache_dir=tmp_path / "rc")
    full = take_backup(mb.store, target.root)
    assert full.id and full.namespaces == 3 and full.skipped == cut.copied and full.copied == full.objects - cut.copied
    assert verify_backup(target.root, cache_dir=tmp_path / "v").ok


def test_side_objects_of_imports_and_reindex_are_backed_up_and_restored(env, tmp_path):
    """An import entry and a reindex switch name content-addressed objects outside the log; a
    backup taken before any checkpoint covers them must carry them, or it cannot replay."""
    import io

    from membucket.ops.export import export_bundle
    from membucket.ops.importer import import_bundle
    from membucket.ops.reindex import reindex

    from tests.support.embedders import HashEmbedder

    src_url, bak_url, opts = env
    mb = mb_for(src_url, tmp_path / "c1", opts)
    fill(mb, "alice")
    buf = io.BytesIO()
    export_bundle(mb.context("alice"), buf)
    import_bundle(mb.context("bob"), io.BytesIO(buf.getvalue()))  # bob: one entry naming blobs/
    fill(mb, "carol")
    reindex(mb.namespace("carol"), HashEmbedder(dim=32, id="test/hash-32"), compact=False)
    assert any(i.key.startswith("ns/bob/blobs/") for i in mb.store.list("ns/bob/"))
    assert any("/vectors/" in i.key for i in mb.store.list("ns/carol/reindex/"))
    before = {u: state(mb, u) for u in ("bob",)}
    from membucket.ops.preferences import get_preferences, put_preferences

    put_preferences(mb.context("bob"), {"page_size": 77, "theme": "dark"})

    target = BackupTarget.open(bak_url, **opts)
    take_backup(mb.store, target.root)
    assert load_manifest(target.root).namespaces["bob"].sides
    assert verify_backup(target.root, cache_dir=tmp_path / "v").ok  # replays from the backup alone
    wipe(mb.store)
    restore(mb.store, target.root, cache_dir=tmp_path / "rc")
    fresh = mb_for(src_url, tmp_path / "c2", opts)
    assert state(fresh, "bob") == before["bob"]
    assert get_preferences(fresh.context("bob"))["page_size"] == 77  # the UI preferences came back too
    carol = make_mb(src_url, tmp_path / "c3", embedder=HashEmbedder(dim=32, id="test/hash-32"), **opts)
    assert ops.search(carol.context("carol"), "carol fact item colour", mode="dense")
