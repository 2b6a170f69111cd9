"""CORS for browser integrators: only the allowed origins, only the API, never a wildcard."""

from __future__ import annotations

import pytest

from gateway.app import create_app
from tests.conftest import bearer, issue_key, make_settings

API = "/api/v1"
ALLOWED = "https://app.example.com"
OTHER = "https://evil.example.net"


def preflight_headers(origin: str, method: str = "GET") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type",
        "Authorization": "",  # a browser sends no key with a preflight
    }


def cors_headers(response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.lower().startswith("access-control-")}


@pytest.fixture
async def cors_client(db_url, aiohttp_client):
    settings = make_settings(db_url, allowed_origins=f"{ALLOWED}/, http://localhost:5173")
    key = await issue_key(db_url, "integrator")
    return await aiohttp_client(create_app(settings), headers=bearer(key))


async def test_an_allowed_origin_gets_a_preflight_answer_without_a_key(cors_client):
    response = await cors_client.options(f"{API}/messages/", headers=preflight_headers(ALLOWED))
    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert response.headers["Access-Control-Allow-Methods"] == "POST"
    allowed_headers = response.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed_headers
    assert "content-type" in allowed_headers
    assert int(response.headers["Access-Control-Max-Age"]) > 0
    assert "Origin" in response.headers["Vary"]
    # Bearer keys, not cookies: the browser is never told to send credentials.
    assert "Access-Control-Allow-Credentials" not in response.headers

    # A path that takes several methods lists them all.
    response = await cors_client.options(
        f"{API}/messages/12", headers=preflight_headers(ALLOWED, "PUT")
    )
    assert response.status == 204
    assert set(response.headers["Access-Control-Allow-Methods"].split(", ")) == {"GET", "PUT"}


async def test_the_real_request_still_needs_its_key_and_carries_the_headers(cors_client):
    response = await cors_client.get(f"{API}/sectors", headers={"Origin": ALLOWED})
    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "X-Request-ID" in response.headers["Access-Control-Expose-Headers"]
    assert "Origin" in response.headers["Vary"]

    # Without a key: refused, but readable by the page, which can show why.
    response = await cors_client.get(
        f"{API}/sectors", headers={"Origin": ALLOWED, "Authorization": ""}
    )
    assert response.status == 401
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED


async def test_other_origins_get_no_cors_headers(cors_client):
    response = await cors_client.options(f"{API}/messages/", headers=preflight_headers(OTHER))
    assert response.status == 401  # not a preflight atende answers: the key is asked for
    assert cors_headers(response) == {}
    response = await cors_client.get(f"{API}/sectors", headers={"Origin": OTHER})
    assert response.status == 200
    assert cors_headers(response) == {}
    # Still Vary: a cache must not hand this answer to an allowed origin's page.
    assert "Origin" in response.headers["Vary"]
    # No wildcard, whatever is asked.
    response = await cors_client.get(f"{API}/sectors", headers={"Origin": "*"})
    assert cors_headers(response) == {}


async def test_webhooks_console_and_metrics_get_no_cors_headers(cors_client):
    for path in ("/webhooks/telegram/support", "/console", "/metrics", "/health"):
        response = await cors_client.options(path, headers=preflight_headers(ALLOWED, "POST"))
        assert cors_headers(response) == {}, path
        assert response.status != 204, path
        response = await cors_client.get(path, headers={"Origin": ALLOWED})
        assert cors_headers(response) == {}, path


async def test_an_unknown_api_path_gets_no_preflight_answer(cors_client):
    response = await cors_client.options(f"{API}/nothing-here", headers=preflight_headers(ALLOWED))
    assert response.status == 404
    assert "Access-Control-Allow-Methods" not in response.headers


async def test_by_default_there_are_no_cors_headers_at_all(client):
    response = await client.options(f"{API}/messages/", headers=preflight_headers(ALLOWED))
    assert response.status == 401
    assert cors_headers(response) == {}
    response = await client.get(f"{API}/sectors", headers={"Origin": ALLOWED})
    assert response.status == 200
    assert cors_headers(response) == {}
    assert "Vary" not in response.headers


def test_origins_are_exact_and_a_wildcard_is_refused(db_url):
    settings = make_settings(db_url, allowed_origins="HTTPS://App.Example.com:443, http://x:8080")
    assert settings.allowed_origins == ["https://app.example.com", "http://x:8080"]
    for wrong in ("*", "https://app.example.com/path", "app.example.com", "null"):
        with pytest.raises(ValueError, match="not an origin"):
            make_settings(db_url, allowed_origins=wrong)
