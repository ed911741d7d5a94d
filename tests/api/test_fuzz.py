"""Schemathesis against /openapi.json of the live server: no 5xx, responses match the published schema.

Bounded (``MAX_EXAMPLES`` per operation, positive and negative cases) so the suite stays fast.
The token is an owner admin token, so every operation is reachable; the namespace is seeded so
generated ids sometimes hit nothing and the rest of the code paths still run.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from membucket import ops
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import running_api

MAX_EXAMPLES = 25
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]


@pytest.fixture(scope="module")
def fuzz_api(tmp_path_factory):
    with running_api(tmp_path_factory.mktemp("fuzz")) as api:
        ctx = api.owner_ctx("alice")
        for i, text in enumerate(["Alice likes tea", "Alice works on payments", "Alice rides a bicycle"]):
            ops.add(ctx, text, categories=["even" if i % 2 == 0 else "odd"], metadata={"n": i})
        ops.search(api.mb.context("alice", app="cursor"), "Alice")  # an app, with access records
        ops.add_rule(ctx, "claude", "deny", "category", "odd")
        api.fuzz_token = api.token("alice", None, ("admin",))
        yield api


@pytest.fixture(scope="module")
def fuzz_schema(fuzz_api):
    return schemathesis.openapi.from_url(fuzz_api.url + "/openapi.json")


schema = schemathesis.pytest.from_fixture("fuzz_schema")


@pytest.mark.slow  # ~25 s over every operation
@pytest.mark.timeout(600)
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,  # the same cases every run: CI is reproducible, and a failure replays
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_openapi_fuzz(case, fuzz_api):
    if case.path == "/api/v1/tokens/{token_id}" and case.method.upper() == "DELETE":
        # never revoke the token the fuzzer itself uses (its id is all it would take)
        if str((case.path_parameters or {}).get("token_id")) == fuzz_api.fuzz_token.split("_")[1]:
            return
    case.call_and_validate(headers={"Authorization": f"Bearer {fuzz_api.fuzz_token}"}, checks=CHECKS)
