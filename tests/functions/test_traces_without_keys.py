"""X-Ray records S3 calls without their keys: keys carry user ids (ns/<user>/...)."""

from __future__ import annotations


def test_s3_keys_and_prefixes_are_not_recorded():
    from aws_xray_sdk.ext.boto_utils import whitelist
    from membucket.aws import observe  # noqa: F401  (importing it trims the whitelist)

    recorded = {p for op in whitelist["services"]["s3"]["operations"].values() for p in op.get("request_parameters", [])}
    assert not recorded & {"Key", "Prefix", "CopySource", "StartAfter"}
    assert whitelist["services"]["s3"]["operations"]["GetObject"]["request_descriptors"]["Bucket"]["rename_to"] == "bucket_name"
