"""The API docs page works offline: Swagger UI comes from our npm lockfile, not a CDN."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_docs_page_loads_only_local_assets(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    html = page.text
    assert "cdn.jsdelivr.net" not in html and "fastapi.tiangolo.com" not in html
    assets = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", html)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    for asset in assets:
        assert asset.startswith("/"), asset
        got = client.get(asset)
        assert got.status_code == 200, asset
        assert len(got.content) > 100, asset
    assert client.get("/openapi.json").status_code == 200
