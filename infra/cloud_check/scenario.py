"""What cloud-check drives through the API: every REST route, every MCP tool, export and import,
the scheduled maintenance tasks and the SSE probe, each with the statuses a client may expect.

A mismatch is recorded on the function that answered (``Gateway.stats[fn].errors``), with the
answer's status and the start of its body, so the report says what a deployed stack would do.
"""

from __future__ import annotations

import json
import time

__all__ = ["run_all", "Driver", "many_users"]

SSE_PROBE_S = 3.0  # a GET /mcp that asks for a stream must be answered (405) well within this

INIT = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "cloud-check", "version": "1"}}
MCP_HEADERS = {"accept": "application/json, text/event-stream", "mcp-protocol-version": "2025-06-18"}
TEXTS = ["Alice drinks oolong tea every morning", "The staging cluster runs in eu-west-1", "Bob is learning Kotlin for the Android app",
         "The quarterly report is due on the 5th", "Chen prefers window seats on long flights", "The VPN config lives in the ops wiki"]


class Driver:
    def __init__(self, gw, tokens: dict[str, str], fetch_url) -> None:
        self.gw, self.tokens, self.fetch_url = gw, tokens, fetch_url
        self.ids: list[str] = []
        self.checked: list[str] = []

    def call(self, method: str, path: str, body=None, *, ok=(200,), token="alice", what: str = "", **kw):
        reply = self.gw.request(method, path, body, token=self.tokens.get(token) if token else None, **kw)
        self.checked.append(f"{method} {path}")
        if reply.status not in ok:
            detail = reply.error or reply.body[:300].decode("utf-8", "replace")
            if reply.function in self.gw.stats:
                self.gw.stats[reply.function].errors.append(f"{what or method + ' ' + path} -> {reply.status}: {detail}")
        return reply

    # -- REST -----------------------------------------------------------------------------------
    def add(self, n: int) -> None:
        for text in TEXTS[:n]:
            r = self.call("POST", "/api/v1/memories", {"text": text}, ok=(200, 201))
            if r.status in (200, 201):
                self.ids += [item["id"] for item in r.json().get("results", []) if "id" in item]

    def search(self, n: int) -> None:
        for i in range(n):
            r = self.call("POST", "/api/v1/memories/search", {"query": ["oolong tea", "Kotlin", "staging cluster"][i % 3], "limit": 5})
            if r.status == 200 and i == 0 and self.ids and not r.json().get("items"):
                self.gw.stats[r.function].errors.append("search found none of the memories just added")

    def rest_reads(self) -> None:
        for path in ("/api/v1/health", "/api/v1/ready"):
            self.call("GET", path, token=None)
        for path in ("/openapi.json", "/docs", "/api/v1/me", "/api/v1/config", "/api/v1/stats", "/api/v1/stats/timeline",
                     "/api/v1/categories", "/api/v1/category-definitions", "/api/v1/apps", "/api/v1/rules", "/api/v1/tokens",
                     "/api/v1/access", "/api/v1/preferences", "/api/v1/connect", "/api/v1/memories"):
            self.call("GET", path)

    def rest_memory_routes(self) -> None:
        if not self.ids:
            return
        mid = self.ids[0]
        for suffix in ("", "/history", "/access", "/related"):
            self.call("GET", f"/api/v1/memories/{mid}{suffix}")
        self.call("PATCH", f"/api/v1/memories/{mid}", {"text": TEXTS[0] + " (green)"})
        apps = self.call("GET", "/api/v1/apps")
        names = [a.get("name") for a in (apps.json().get("items", apps.json()) if apps.status == 200 else []) if isinstance(a, dict)]
        app = names[0] if names else "cli"
        for suffix in ("", "/memories", "/access"):
            self.call("GET", f"/api/v1/apps/{app}{suffix}", ok=(200, 404))
        self.call("POST", f"/api/v1/apps/{app}/pause", ok=(200, 204, 404))
        self.call("POST", f"/api/v1/apps/{app}/resume", ok=(200, 204, 404))
        rule = self.call("POST", "/api/v1/rules", {"app": "cc-other", "effect": "deny"}, ok=(200, 201))
        if rule.status in (200, 201):
            self.call("DELETE", f"/api/v1/rules/{rule.json()['id']}", ok=(200, 204))
        tok = self.call("POST", "/api/v1/tokens", {"app": "cc-client", "scopes": ["read"], "description": "cloud-check"}, ok=(200, 201))
        if tok.status in (200, 201):
            info = tok.json()
            self.call("DELETE", f"/api/v1/tokens/{info.get('id') or info.get('token_id')}", ok=(200, 204))
        self.call("PUT", "/api/v1/category-definitions", {"name": "travel", "description": "trips, flights and hotels"}, ok=(200, 201))
        self.call("DELETE", "/api/v1/category-definitions", query={"name": "travel"}, ok=(200, 204))
        self.call("POST", "/api/v1/memories/recategorize", {"only_missing": True}, ok=(200, 202))
        self.call("PUT", "/api/v1/preferences", {"theme": "dark"})

    def state_routes(self) -> None:
        if len(self.ids) < 4:
            return
        self.call("POST", f"/api/v1/memories/{self.ids[1]}/state", {"state": "archived"})
        self.call("POST", "/api/v1/memories/state", {"ids": [self.ids[1]], "action": "resume"})
        self.call("POST", "/api/v1/memories/delete", {"ids": [self.ids[2]]}, ok=(200, 204))
        self.call("DELETE", f"/api/v1/memories/{self.ids[3]}", ok=(200, 204))

    # -- MCP ------------------------------------------------------------------------------------
    def mcp(self, path: str = "/mcp", token: str = "alice") -> None:
        def rpc(method, params=None, i=1, ok=(200,)):
            msg = {"jsonrpc": "2.0", "method": method, **({"id": i} if i else {}), **({"params": params} if params is not None else {})}
            return self.call("POST", path, msg, token=token, headers=MCP_HEADERS, ok=ok, what=f"MCP {method}")

        rpc("initialize", INIT)
        rpc("notifications/initialized", i=None, ok=(200, 202))
        listed = rpc("tools/list", {}, i=2)
        tools = [t["name"] for t in _rpc_result(listed).get("tools", [])]
        args = {
            "add_memories": {"text": "Dana collects jazz vinyl"}, "search_memory": {"query": "jazz"}, "list_memories": {},
            "get_memory": {"memory_id": self.ids[0] if self.ids else "00000000-0000-0000-0000-000000000000"},
            "update_memory": {"memory_id": self.ids[0] if self.ids else "x", "text": TEXTS[0]},
            "delete_memories": {"memory_ids": [self.ids.pop()] if len(self.ids) > 4 else []}, "delete_all_memories": None,
        }
        for i, name in enumerate(tools):
            if name == "delete_all_memories":
                continue  # run last, on its own user (below)
            if name not in args:
                self.gw.stats["McpFunction"].errors.append(f"MCP tool {name} is not exercised by cloud-check (add it to scenario.py)")
                continue
            r = rpc("tools/call", {"name": name, "arguments": args[name]}, i=10 + i)
            res = _rpc_result(r)
            if r.status == 200 and (res.get("isError") or "error" in _rpc_body(r)):
                self.gw.stats["McpFunction"].errors.append(f"MCP tool {name} -> error: {json.dumps(res or _rpc_body(r))[:300]}")

    def mcp_delete_all(self) -> None:
        self.call("POST", "/mcp", {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "delete_all_memories", "arguments": {}}},
                  token="carol", headers=MCP_HEADERS, what="MCP delete_all_memories")

    def sse_probe(self) -> None:
        start = time.perf_counter()
        r = self.gw.request("GET", "/mcp", None, token=self.tokens["alice"], headers={"accept": "text/event-stream"}, timeout_s=SSE_PROBE_S)
        took = time.perf_counter() - start
        if r.error and "timed out" in r.error:
            self.gw.stats[r.function].errors.append(
                f"GET /mcp (Accept: text/event-stream) did not answer within {SSE_PROBE_S:.0f} s: under Lambda it runs to the "
                "function timeout (an Errors alarm per client connect); it must answer 405 at once")
        elif r.status != 405:
            self.gw.stats[r.function].errors.append(f"GET /mcp (Accept: text/event-stream) -> {r.status} in {took:.1f} s, want 405")

    # -- export / import ------------------------------------------------------------------------
    def export_import(self) -> None:
        r = self.call("POST", "/api/v1/export", {})
        if r.status != 200:
            return
        link = r.json()
        status, bundle = self.fetch_url(link["url"])
        if status != 200 or len(bundle) != link["bytes"]:
            self.gw.stats["ExportFunction"].errors.append(f"presigned export URL -> {status}, {len(bundle)} of {link['bytes']} bytes")
            return
        self.call("POST", "/api/v1/import", bundle, token="dave", content_type="application/zip", ok=(200, 201), what="POST /api/v1/import")

    # -- maintenance ----------------------------------------------------------------------------
    def maintenance(self, age_objects) -> None:
        fn = "MaintenanceFunction"
        spec = self.gw.stack.functions.get(fn)
        if spec is None:
            return
        for sched in spec.schedules:
            tasks = (sched["input"] or {}).get("tasks", [])
            if "compact" in tasks:  # superseded objects older than the retention period exist in a live bucket
                age_objects(float(spec.environment.get("MEMBUCKET_RETENTION_SECONDS", "86400")) + 3600)
            event = sched["input"] if sched["input"] is not None else _scheduled_event()
            report, error, _ = self.gw.invoke(fn, event, timeout_s=min(spec.timeout_s, 300))
            if error:
                self.gw.stats[fn].errors.append(f"schedule {sched['name']} {tasks}: {error}")
                continue
            failed = [(task, r.get("failed")) for task, r in (report or {}).items() if isinstance(r, dict) and r.get("failed")]
            if failed:
                self.gw.stats[fn].errors.append(f"schedule {sched['name']}: {json.dumps(failed)[:400]}")


def many_users(gw, tokens: list[str], fn: str = "AddFunction") -> dict:
    """Every user adds one memory through one fresh sandbox of ``fn``: memory and /tmp stay within its limits."""
    gw.stop(fn)
    stats = gw.stats[fn]
    before = len(stats.errors)
    statuses: dict[int, int] = {}
    for i, token in enumerate(tokens):
        r = gw.request("POST", "/api/v1/memories", {"text": f"user {i} keeps a note about {TEXTS[i % len(TEXTS)]}"}, token=token)
        statuses[r.status] = statuses.get(r.status, 0) + 1
    box = gw.sandboxes.get(fn)
    spec = gw.stack.functions[fn]
    rss, tmp = stats.peak_rss_mb, stats.tmp_mb
    gw.stop(fn)
    ok = statuses.get(201, 0) + statuses.get(200, 0) == len(tokens) and rss < spec.memory_mb and tmp < spec.ephemeral_mb and box is not None
    del stats.errors[before:]  # reported here, not on the function
    return {"ok": ok, "users": len(tokens), "function": fn, "statuses": statuses, "peak_rss_mb": rss, "tmp_mb": tmp,
            "memory_mb": spec.memory_mb, "ephemeral_mb": spec.ephemeral_mb}


def _scheduled_event() -> dict:
    return {"version": "0", "id": "cc", "detail-type": "Scheduled Event", "source": "aws.events", "account": "123456789012",
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "region": "us-east-1", "resources": [], "detail": {}}


def _rpc_body(reply) -> dict:
    text = reply.body.decode("utf-8", "replace")
    if text.startswith("event:") or "\ndata:" in text or text.startswith("data:"):
        text = next((ln[5:].strip() for ln in text.splitlines() if ln.startswith("data:")), "{}")
    try:
        body = json.loads(text or "{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _rpc_result(reply) -> dict:
    return _rpc_body(reply).get("result") or {}


def run_all(driver: Driver, age_objects, quick: bool = False) -> None:
    """The whole tour (quick: one add and one search, the SSE probe, no maintenance)."""
    if quick:
        driver.add(1)
        driver.search(1)
        driver.sse_probe()
        return
    driver.rest_reads()
    driver.add(6)
    driver.search(6)
    driver.rest_memory_routes()
    driver.state_routes()
    driver.mcp()
    driver.mcp("/mcp/cc-client/http/cc-alice")
    driver.mcp_delete_all()
    driver.sse_probe()
    driver.export_import()
    driver.maintenance(age_objects)
    driver.search(4)

