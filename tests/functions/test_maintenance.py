"""functions/maintenance on EventBridge events: compaction + GC over every namespace, then the backup."""

from __future__ import annotations

import boto3
from membucket.backup import BackupTarget, list_backups, load_manifest, verify_backup
from membucket.engine.checkpoint import read_pointer
from membucket.engine.keys import NamespaceKeys
from membucket.store import open_store

from tests.support.events import FakeContext

from .conftest import PREFIX, call

SCHEDULED = {  # what an EventBridge rule without Input delivers
    "version": "0", "id": "7bf73129-1428-4cd3-a780-95db273d1602", "detail-type": "Scheduled Event",
    "source": "aws.events", "account": "123456789012", "time": "2026-11-25T03:17:00Z", "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/membucket-MaintenanceFunctionBackupSchedule"], "detail": {},
}


def _seed(tokens, load, users=("alice", "bob")):
    add = load("add", "writer")
    for user in users:
        token, _ = tokens.create(user, None, ["admin"])
        for text in (f"{user} likes green tea", f"{user} commutes by bike", f"{user} was born in March"):
            assert call(add, "POST", "/api/v1/memories", {"text": text}, token)[0] == 201


def test_compaction_schedule_compacts_every_namespace(bucket, tokens, load, stdout):
    _seed(tokens, load)
    fn = load("maintenance", MEMBUCKET_RETENTION_SECONDS="0")
    report = fn.lambda_handler({"tasks": ["compact"]}, FakeContext())
    assert report["compact"]["namespaces"] == 2 and report["compact"]["compacted"] == 2, report
    assert report["compact"]["log_deleted"] == 0  # GC keeps the log since the previous checkpoint (none yet)
    store = open_store(f"s3://{bucket}/{PREFIX}")
    for user in ("alice", "bob"):
        assert read_pointer(store, NamespaceKeys(user)).seq == 3
    again = fn.lambda_handler({"tasks": ["compact"]}, FakeContext())
    assert again["compact"]["compacted"] == 0 and again["compact"]["log_deleted"] == 0  # nothing new
    out = stdout()
    assert '"MaintenanceFailures"' in out and '"maintenance done"' in out


def test_backup_schedule_takes_incremental_restorable_backups(bucket, tokens, load, tmp_path):
    _seed(tokens, load, users=("alice",))
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="mb-backup")
    fn = load("maintenance", MEMBUCKET_BACKUP_URL=f"s3://mb-backup/{PREFIX}")
    fn.lambda_handler({"tasks": ["compact"]}, FakeContext())
    first = fn.lambda_handler(SCHEDULED, FakeContext())  # a plain Scheduled Event runs every task
    assert first["backup"]["id"] and first["backup"]["namespaces"] == 1 and first["backup"]["copied"] >= 4, first
    second = fn.lambda_handler({"detail": {"tasks": ["backup"]}}, FakeContext())
    assert second["backup"]["copied"] == 0 and second["backup"]["skipped"] == first["backup"]["copied"], second
    target = BackupTarget.open(f"s3://mb-backup/{PREFIX}")
    assert list_backups(target.root) == [first["backup"]["id"], second["backup"]["id"]]
    assert verify_backup(target.root, cache_dir=tmp_path).ok
    src = open_store(f"s3://{bucket}/{PREFIX}")
    assert load_manifest(target.root).namespaces["alice"].seq == read_pointer(src, NamespaceKeys("alice")).seq == 3


def test_backup_store_keeps_its_older_name(bucket, tokens, load):
    _seed(tokens, load, users=("alice",))
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="mb-backup-old")
    report = load("maintenance", MEMBUCKET_BACKUP_STORE=f"s3://mb-backup-old/{PREFIX}").lambda_handler({"tasks": ["backup"]}, FakeContext())
    assert report["backup"]["id"] and report["backup"]["namespaces"] == 1, report


def test_backup_without_a_backup_store_says_so(bucket, load):
    report = load("maintenance").lambda_handler({"tasks": ["backup"]}, FakeContext())
    assert "skipped" in report["backup"]
