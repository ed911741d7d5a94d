"""The Host and Origin guards parse what they compare: a Host with userinfo or a path is refused,
IPv6 loopback is served on loopback, and an Origin must match the server's scheme as well as its
host and port."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from membucket.http.guards import LOOPBACK_HOSTS, host_allowed

from tests.api.test_security import raw_request


def _port(api) -> int:
    return urlsplit(api.url).port


@pytest.mark.parametrize("host", [
    "127.0.0.1:{port}@evil.com", "127.0.0.1:{port}/evil", "127.0.0.1:{port} evil", "[::1]:{port}@evil.com",
    "evil.com#127.0.0.1:{port}", "127.0.0.1:*", "", "[::1", "127.0.0.1:{port}:1",
])
def test_a_malformed_host_is_421(api, host):
    token = api.token("alice", None, ("admin",))
    status, body = raw_request(api, "GET", "/api/v1/me",
                               headers={"Host": host.format(port=_port(api)), "Authorization": f"Bearer {token}"})
    assert status == 421 and json.loads(body)["error"]["code"] == "misdirected_request", host


@pytest.mark.parametrize("host", ["[::1]:{port}", "[::1]", "localhost:{port}", "127.0.0.1:{port}", "LOCALHOST:{port}"])
def test_loopback_hosts_are_served(api, host):
    token = api.token("alice", None, ("admin",))
    status, body = raw_request(api, "GET", "/api/v1/me",
                               headers={"Host": host.format(port=_port(api)), "Authorization": f"Bearer {token}"})
    assert status == 200, (host, body)


def test_an_origin_with_another_scheme_is_refused(api):
    token = api.token("alice", None, ("admin",))
    netloc = urlsplit(api.url).netloc
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    status, body = raw_request(api, "POST", "/api/v1/memories", b'{"text": "from another scheme"}',
                               headers={**headers, "Origin": f"https://{netloc}"})
    assert status == 403 and json.loads(body)["error"]["code"] == "origin_not_allowed"
    status, _ = raw_request(api, "POST", "/api/v1/memories", b'{"text": "from the same origin"}',
                            headers={**headers, "Origin": f"http://{netloc}"})
    assert status in (200, 201)


def test_host_patterns():
    assert host_allowed("memory.example.com", ["*.example.com"])
    assert not host_allowed("memory.example.com:443@evil.com", ["*.example.com:*"])
    assert host_allowed("memory.example.com:8443", ["memory.example.com:*"])
    assert not host_allowed("memory.example.com", ["memory.example.com:*"])
    assert host_allowed("[::1]:8765", LOOPBACK_HOSTS) and host_allowed("[::1]", LOOPBACK_HOSTS)
    assert not host_allowed("1:8765", LOOPBACK_HOSTS)  # brackets are literal, not a character class
