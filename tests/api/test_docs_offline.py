"""/docs works offline: Swagger UI's files come from this server, no page names a CDN."""

from __future__ import annotations

import re

import httpx
from membucket.http import docs as docs_module


def test_docs_page_and_its_assets_are_served_locally(api):
    page = httpx.get(api.url + "/docs")
    assert page.status_code == 200 and "swagger" in page.text.lower()
    assert "cdn" not in page.text.lower() and "https://" not in page.text
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert "/docs/assets/swagger-ui-bundle.js" in assets and "/docs/assets/swagger-ui.css" in assets
    for url in assets:
        got = httpx.get(api.url + url)
        assert got.status_code == 200 and len(got.content) > 100, url
    assert httpx.get(api.url + "/docs/assets/swagger-ui.css").headers["content-type"].startswith("text/css")
    assert httpx.get(api.url + "/docs/assets/..%2Fpyproject.toml").status_code == 404
    assert httpx.get(api.url + "/docs/assets/index.html").status_code == 404  # only the listed files


def test_without_the_assets_package_docs_link_the_schema(api, monkeypatch):
    monkeypatch.setattr(docs_module, "assets_dir", lambda: None)
    page = httpx.get(api.url + "/docs")
    assert page.status_code == 200 and 'href="/openapi.json"' in page.text and "https://" not in page.text
