"""429 with Retry-After once a caller exceeds its rate, on REST and MCP alike; others unaffected."""

import httpx
from membucket.http.app import RateLimiter, create_app
from membucket.http.serve import build_state

from tests.support.factories import make_mb
from tests.support.live import live_server


def test_token_bucket_refills():
    limiter = RateLimiter(per_minute=60)
    assert all(limiter.retry_after("a") == 0 for _ in range(60))
    wait = limiter.retry_after("a")
    assert 0 < wait <= 1.0
    assert limiter.retry_after("b") == 0  # per caller


def test_idle_callers_are_forgotten_even_when_nobody_is_refused(monkeypatch):
    """A flood of distinct Authorization values (each a new caller, never refused) must not grow
    the table for ever: idle callers are dropped once it is large."""
    now = [1000.0]
    monkeypatch.setattr("membucket.http.guards.time.monotonic", lambda: now[0])
    limiter = RateLimiter(per_minute=60)
    for i in range(10_050):
        assert limiter.retry_after(f"Bearer guess-{i}") == 0
    now[0] += 300  # all of them idle now
    for i in range(10):
        assert limiter.retry_after(f"Bearer later-{i}") == 0
    assert len(limiter._buckets) <= 10


def test_rate_limit_over_http(tmp_path):
    mb = make_mb(str(tmp_path / "b"), tmp_path / "c", rate_limit_per_minute=5)
    state = build_state(mb, "127.0.0.1", auth=True)
    t1, _ = state.tokens.create("alice", None, ["admin"])
    t2, _ = state.tokens.create("bob", None, ["admin"])
    with live_server(create_app(state)) as url, httpx.Client() as c:
        h1 = {"Authorization": f"Bearer {t1}"}
        codes = [c.get(f"{url}/api/v1/stats", headers=h1).status_code for _ in range(6)]
        assert codes == [200] * 5 + [429]
        r = c.post(f"{url}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, headers=h1)
        assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited" and int(r.headers["Retry-After"]) >= 1
        assert c.get(f"{url}/api/v1/stats", headers={"Authorization": f"Bearer {t2}"}).status_code == 200
