"""X-Ray records S3 calls without their keys: keys carry user ids (ns/<user>/...); and the tracer
(X-Ray SDK, botocore patch) is built on the first invocation, only when tracing is on."""

from __future__ import annotations

import aws_lambda_powertools
from membucket.aws import observe


def test_s3_keys_and_prefixes_are_not_recorded():
    from aws_xray_sdk.ext.boto_utils import whitelist

    observe._keep_keys_out_of_traces()  # what building the tracer does, before any traced call
    recorded = {p for op in whitelist["services"]["s3"]["operations"].values() for p in op.get("request_parameters", [])}
    assert not recorded & {"Key", "Prefix", "CopySource", "StartAfter"}
    assert whitelist["services"]["s3"]["operations"]["GetObject"]["request_descriptors"]["Bucket"]["rename_to"] == "bucket_name"


class _FakeTracer:
    built = 0

    def __init__(self, service):
        _FakeTracer.built += 1

    def capture_lambda_handler(self, handler, capture_response=None):
        def traced(event, context):
            return ("traced", handler(event, context))

        return traced


def _handler(tracer):
    @tracer.capture_lambda_handler(capture_response=False)
    def lambda_handler(event, context):
        return event

    return lambda_handler


def test_tracing_off_builds_no_tracer(monkeypatch):
    monkeypatch.setattr(aws_lambda_powertools, "Tracer", _FakeTracer)
    monkeypatch.setenv("LAMBDA_TASK_ROOT", "/var/task")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    built = _FakeTracer.built
    assert _handler(observe.LazyTracer())(1, None) == 1
    monkeypatch.delenv("POWERTOOLS_TRACE_DISABLED")
    monkeypatch.delenv("LAMBDA_TASK_ROOT")  # outside Lambda: off, as Powertools decides
    assert _handler(observe.LazyTracer())(2, None) == 2
    assert _FakeTracer.built == built


def test_tracing_on_builds_the_tracer_at_the_first_invocation_and_trims_keys(monkeypatch):
    monkeypatch.setattr(aws_lambda_powertools, "Tracer", _FakeTracer)
    monkeypatch.setenv("LAMBDA_TASK_ROOT", "/var/task")
    monkeypatch.delenv("POWERTOOLS_TRACE_DISABLED", raising=False)
    monkeypatch.delenv("AWS_SAM_LOCAL", raising=False)
    trimmed = []
    monkeypatch.setattr(observe, "_keep_keys_out_of_traces", lambda: trimmed.append(True))
    built = _FakeTracer.built
    handler = _handler(observe.LazyTracer())
    assert _FakeTracer.built == built and not trimmed  # nothing at import (init)
    assert handler(1, None) == ("traced", 1) and handler(2, None) == ("traced", 2)
    assert _FakeTracer.built == built + 1 and trimmed == [True]
    assert handler.__name__ == "lambda_handler"
