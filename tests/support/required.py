"""Skip a test whose tool is missing, except in CI, where a missing tool must fail the run.

.ci/run sets ``REQUIRE_TEST_TOOLS=1``: there LocalStack and schemathesis are built by ``make test``,
so a test that cannot find them means the build broke, not that the machine lacks them.
"""

from __future__ import annotations

import os

import pytest

__all__ = ["skip_unless_required"]


def skip_unless_required(reason: str) -> None:
    if os.environ.get("REQUIRE_TEST_TOOLS") == "1":
        pytest.fail(reason + " (REQUIRE_TEST_TOOLS=1)")
    pytest.skip(reason)
