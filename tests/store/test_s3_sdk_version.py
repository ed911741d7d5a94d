"""An SDK too old for S3 conditional writes is refused when the first client is made, by name."""

from __future__ import annotations

import pytest
from membucket.store import StoreError
from membucket.store.s3 import MIN_BOTOCORE, require_conditional_writes


@pytest.mark.parametrize("old", ["1.34.162", "1.35.2", "1.35.68"])
def test_botocore_without_put_if_match_is_refused_naming_the_version_needed(old):
    with pytest.raises(StoreError) as info:
        require_conditional_writes(old)
    assert old in str(info.value) and "1.35.69" in str(info.value) and "Lambda" in str(info.value)


def test_the_installed_and_newer_botocores_pass():
    require_conditional_writes()
    for version in ("1.35.69", "1.36.0", "2.0.0"):
        require_conditional_writes(version)
    assert MIN_BOTOCORE == (1, 35, 69)
