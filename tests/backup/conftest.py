"""Backup tests run against a directory pair and against two buckets on one moto HTTP endpoint."""

from __future__ import annotations

import boto3
import pytest


@pytest.fixture(params=["dir", "s3"])
def env(request, tmp_path):
    """(source URL, backup URL, store options): a directory pair, or two buckets on one moto HTTP endpoint."""
    if request.param == "dir":
        return str(tmp_path / "bucket"), str(tmp_path / "backups"), {}
    endpoint, bucket = request.getfixturevalue("s3_http_bucket")
    backup_bucket = f"{bucket}-bak"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=backup_bucket)
    return f"s3://{bucket}/mb", f"s3://{backup_bucket}/nightly", {"endpoint_url": endpoint}
