"""The load benchmark's own logic: double-checkpoint detection and store-call counting (no timing)."""

from __future__ import annotations

from membucket_bench.hot_path import warm_request_calls
from membucket_bench.load import double_checkpoints


def test_double_checkpoints_are_same_sequences_or_one_generation_twice():
    seen = {(1, "a"), (501, "b"), (503, "c"), (1001, "d"), (1001, "e")}
    got = double_checkpoints(seen, compact_after=500)
    assert got["checkpoint_seqs"] == [1, 501, 503, 1001, 1001]
    assert got["same_seq"] == [1001] and got["close_pairs"] == [[501, 503]]
    assert got["double_checkpoints"] == 2
    assert double_checkpoints({(1, "a"), (500, "b"), (1000, "c")}, 500)["double_checkpoints"] == 0


def test_store_calls_per_warm_request_are_counted_by_kind(tmp_path):
    got = warm_request_calls(str(tmp_path / "bucket"), None, tmp_path, n=3)
    assert set(got["per_request"]) == {"search_owner", "search_app", "add"}
    assert got["by_call"]["search_owner"].get("GET log") == 1.0  # the probe of the next entry
    assert got["by_call"]["add"].get("PUT log") == 1.0
    assert got["by_call"]["search_app"].get("PUT access") == 1.0  # the access log of an app's search
