"""The export/import page against its HTTP contract, served here by a minimal stand-in (which
replaces the real routes when they are present, so this keeps testing the page alone).

The real endpoints come from another branch (tests/ui/test_browser.py runs the same flow against
them once they exist). This stand-in keeps the contract's shape (JSON body -> streamed bundle with
a Content-Disposition filename; raw body + X-Membucket-Passphrase -> counts JSON; errors in the
API's error shape), so the page's download, upload progress and error display are tested now.
"""

from __future__ import annotations

import json
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from membucket import ops
from membucket.api.schemas import acting
from membucket.caller import error_response, get_identity
from membucket.http.app import create_app
from membucket.http.serve import build_state

from tests.support.factories import make_mb
from tests.support.live import live_server
from tests.ui.conftest import Server, go, sign_in

expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: pip install -e '.[test]'").expect

pytestmark = pytest.mark.timeout(120)


def add_stand_in(app, seen: dict) -> None:
    """Routes placed first, so they answer even where the real ones exist."""
    router = APIRouter()

    @router.post("/api/v1/export")
    async def export(request: Request, identity: Annotated[object, Depends(get_identity)]):
        body = await request.json()
        seen["export"] = body
        if body.get("encrypt") and not body.get("passphrase"):
            return error_response(400, "passphrase_required", "encrypt needs a passphrase")
        ctx = acting(request, identity, "read")
        items = [m.to_dict() for m in ops.list_memories(ctx, size=1000).items]
        data = json.dumps({"format": "stand-in/1", "memories": items}).encode()
        return StreamingResponse(iter([data[:10], data[10:]]), media_type="application/octet-stream",
                                 headers={"Content-Disposition": f'attachment; filename="membucket-{ctx.user}.mbx"'})

    @router.post("/api/v1/import")
    async def import_(request: Request, identity: Annotated[object, Depends(get_identity)], mode: str = "merge", reembed: bool = False):
        seen["import"] = {"mode": mode, "reembed": reembed, "passphrase": request.headers.get("x-membucket-passphrase")}
        try:
            bundle = json.loads(await request.body())
            texts = [m["text"] for m in bundle["memories"]]
        except (ValueError, KeyError, TypeError):
            return error_response(400, "invalid_bundle", "this file is not a membucket bundle")
        ctx = acting(request, identity, "write")
        events = [ops.add(ctx, t).events[0].event for t in texts]
        return {"mode": mode, "added": events.count("ADD"), "updated": events.count("UPDATE"), "skipped": events.count("NOOP"),
                "purged": 0, "seq": 0, "format": bundle["format"]}

    before = len(app.router.routes)
    app.include_router(router)
    added = app.router.routes[before:]
    del app.router.routes[before:]
    app.router.routes[:0] = added


@pytest.fixture
def stand_in(tmp_path):
    mb = make_mb(str(tmp_path / "bucket"), tmp_path / "cache")
    app = create_app(build_state(mb, "127.0.0.1", auth=True))
    seen: dict = {}
    add_stand_in(app, seen)
    with live_server(app) as url:
        yield Server(url, app.state.membucket), seen


def test_download_upload_with_progress_and_clear_errors(page, stand_in, tmp_path):
    server, seen = stand_in
    ctx = server.mb.context("dora")
    mid = ops.add(ctx, "Dora restores old clocks", categories=["hobby"]).events[0].id
    sign_in(page, server, server.token("dora"))
    go(page, "#/transfer")
    assert page.locator("#transfer-missing").count() == 0

    # Encrypt without a passphrase: the browser's own validation stops it before any request.
    page.get_by_label("Encrypt with a passphrase").check()
    page.get_by_role("button", name="Download export").click()
    assert "export" not in seen
    page.get_by_label("Passphrase", exact=True).fill("correct horse battery")
    page.get_by_label("State").select_option("active")
    page.get_by_label("Created from").fill("2020-01-01")
    with page.expect_download() as info:
        page.get_by_role("button", name="Download export").click()
    download = info.value
    assert download.suggested_filename == "membucket-dora.mbx"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert json.loads(saved.read_bytes())["memories"][0]["text"] == "Dora restores old clocks"
    assert seen["export"] == {"app": None, "state": ["active"], "created_after": "2020-01-01T00:00:00Z", "created_before": None,
                              "encrypt": True, "passphrase": "correct horse battery"}
    expect(page.locator("#export-progress")).to_contain_text("Saved membucket-dora.mbx")

    ops.delete(ctx, [mid])
    page.get_by_label("Bundle file").set_input_files(str(saved))
    page.get_by_label("Passphrase (if encrypted)").fill("correct horse battery")
    page.get_by_label("Re-embed with this server's model").check()
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator("#import-result")).to_contain_text("1 added, 0 updated, 0 skipped, 0 purged")
    assert page.locator("#import-progress").evaluate("el => el.value") == 100
    assert seen["import"] == {"mode": "merge", "reembed": True, "passphrase": "correct horse battery"}
    assert [m.text for m in ops.list_memories(server.mb.context("dora")).items] == ["Dora restores old clocks"]

    # Replace asks first; cancelling sends nothing.
    seen.pop("import")
    page.get_by_label("Mode", exact=True).select_option("replace")
    page.get_by_role("button", name="Import", exact=True).click()
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    assert "import" not in seen

    junk = tmp_path / "junk.mbx"
    junk.write_bytes(b"\x00\x01 not a bundle")
    page.get_by_label("Mode", exact=True).select_option("merge")
    page.get_by_label("Bundle file").set_input_files(str(junk))
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator("#import-result .error-text")).to_contain_text("this file is not a membucket bundle (invalid_bundle)")
    expect(page.get_by_role("alert").filter(has_text="invalid_bundle")).to_be_visible()
