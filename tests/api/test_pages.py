"""The pages a browser opens: /docs and /redoc served whole by the service (no CDN), and the
reading room at /. What a real browser makes of them is tested in tests/browser/."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

ASSET = re.compile(r"""(?:src|href)=["']([^"']+)["']|url\(["']?([^"')]+)["']?\)""")


def assets_of(html: str) -> list[str]:
    return [a or b for a, b in ASSET.findall(html)]


@pytest.mark.parametrize("page", ["/docs", "/redoc", "/"])
def test_a_page_loads_every_asset_from_the_service(client: TestClient, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "cdn" not in html.lower() and "googleapis" not in html
    assets = [a for a in assets_of(html) if not a.startswith(("#", "?"))]
    assert assets, "a page with no script or style of its own"
    for asset in assets:
        parts = urlsplit(asset)
        assert not parts.scheme and not parts.netloc, f"{page} loads {asset} from elsewhere"
        fetched = client.get(asset)
        assert fetched.status_code == 200, asset
        assert len(fetched.content) > 100, asset


def test_the_docs_name_the_api_and_disable_the_online_validator(client: TestClient) -> None:
    docs = client.get("/docs").text
    assert "/openapi.json" in docs and '"validatorUrl": null' in docs
    assert "/openapi.json" in client.get("/redoc").text


def test_v1_lists_where_to_start_and_every_link_answers(client: TestClient) -> None:
    response = client.get("/v1")
    assert response.status_code == 200
    links = response.json()
    assert links["reading_room"] == "/" and links["disputed_claims"].startswith("/v1/claims")
    for name, url in links.items():
        if not url.endswith("="):
            assert client.get(url).status_code == 200, name


def test_redoc_s_script_names_no_other_host_for_its_logo(client: TestClient) -> None:
    script = client.get("/static/redoc/redoc.standalone.js")
    assert script.status_code == 200 and "Redoc" in script.text
    assert "cdn.redoc.ly" not in script.text
