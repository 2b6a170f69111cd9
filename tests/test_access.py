"""Access: the role matrix over every REST route, keys and their revocation, rate limits,
and the auth-off switch."""

from __future__ import annotations

import re

import pytest
import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from config.errors import ConfigurationError
from gateway.app import create_app
from gateway.http.access import POLICY
from gateway.services.access import Role
from tests.conftest import bearer, issue_key, make_settings

API = "/api/v1"
A, O, I = Role.ADMIN, Role.OPERATOR, Role.INTEGRATOR  # noqa: E741

# The policy, written out once more on purpose: a new route fails this test until someone
# decides who may call it. None: open, no key.
EXPECTED = {
    ("GET", "/"): None,
    ("GET", "/health"): None,
    ("GET", "/health/live"): None,
    ("GET", "/health/ready"): None,
    ("GET", "/metrics"): None,
    ("GET", f"{API}/sectors"): {A, O, I},
    ("POST", f"{API}/messages/"): {A, I},
    ("GET", f"{API}/messages/{{id}}"): {A, O, I},
    ("GET", f"{API}/messages/{{id}}/file"): {A, O, I},
    ("PUT", f"{API}/messages/{{id}}"): {A, O},
    ("POST", f"{API}/messages/search"): {A, O, I},
    ("GET", f"{API}/messages/client/{{client_id}}"): {A, O, I},
    ("GET", f"{API}/messages/sector/{{sector}}"): {A, O},
    ("GET", f"{API}/operator/me"): {A, O},
    ("GET", f"{API}/operator/queue"): {A, O},
    ("GET", f"{API}/operator/messages/{{id}}/candidates"): {A, O},
    ("GET", f"{API}/operator/messages/{{id}}/answers"): {A, O},
    ("POST", f"{API}/operator/messages/{{id}}/approve"): {A, O},
    ("POST", f"{API}/operator/messages/{{id}}/reject"): {A, O},
    ("POST", f"{API}/operator/messages/{{id}}/take"): {A, O},
    ("POST", f"{API}/operator/messages/{{id}}/release"): {A, O},
    ("POST", f"{API}/operator/messages/{{id}}/transfer"): {A, O},
    ("POST", f"{API}/operator/messages/{{id}}/close"): {A, O},
    ("POST", f"{API}/operator/messages/{{id}}/reopen"): {A, O},
    ("GET", f"{API}/operator/clients/{{client_id}}"): {A, O},
    ("PUT", f"{API}/operator/clients/{{client_id}}/block"): {A, O},
    ("DELETE", f"{API}/operator/clients/{{client_id}}/block"): {A, O},
    ("GET", f"{API}/operator/clients/{{client_id}}/notes"): {A, O},
    ("POST", f"{API}/operator/clients/{{client_id}}/notes"): {A, O},
    ("DELETE", f"{API}/operator/notes/{{id}}"): {A, O},
    ("GET", f"{API}/operator/replies"): {A, O},
    ("POST", f"{API}/operator/replies"): {A, O},
    ("PUT", f"{API}/operator/replies/{{id}}"): {A, O},
    ("DELETE", f"{API}/operator/replies/{{id}}"): {A, O},
    ("POST", f"{API}/admin/kb/import"): {A},
    ("GET", f"{API}/pipeline/latency"): {A, O},
    ("GET", f"{API}/operator/events"): {A, O},
    ("POST", f"{API}/admin/keys"): {A},
    ("GET", f"{API}/admin/keys"): {A},
    ("DELETE", f"{API}/admin/keys/{{key}}"): {A},
    ("GET", f"{API}/analytics"): {A, O},
    ("GET", f"{API}/analytics.csv"): {A, O},
    ("GET", f"{API}/analytics/charts/{{name}}.svg"): {A, O},
}

_SAMPLES = {
    "id": "999999",
    "client_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
    "sector": "financeiro",
    "key": "nobody",
    "name": "queue",
}


def _concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: _SAMPLES[m.group(1)], path)


@pytest.fixture
def settings(db_url):
    # The matrix makes many requests without a key from one address.
    return make_settings(db_url, anonymous_rate_limit_per_minute=0)


async def test_every_route_is_declared_and_the_declaration_is_the_expected_one(client):
    policy = client.app[POLICY]
    declared = {
        (op.method, op.full_path(API)): (set(op.roles) if op.roles is not None else None)
        for op in policy.operations.values()
    }
    assert declared == EXPECTED
    # Nothing under the prefix was registered around the operation list.
    for route in client.app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if path.startswith(API):
            assert route in policy.operations, (route.method, path)


async def test_role_matrix_over_every_operation(client, settings):
    db = settings.async_database_url
    role_keys = {role: await issue_key(db, role.value) for role in Role}
    operations = list(client.app[POLICY].operations.values())
    assert len(operations) == len(EXPECTED)
    for op in operations:
        path = _concrete(op.full_path(API))
        body = {} if op.method in {"POST", "PUT"} else None

        async def call(headers, op=op, path=path, body=body):
            response = await client.session.request(
                op.method, client.make_url(path), json=body, headers=headers
            )
            if response.content_type == "text/event-stream":
                response.close()  # the live feed never ends; its status is what counts
                return response.status, None
            if response.content_type != "application/json":
                return response.status, await response.text()
            return response.status, await response.json()

        # The client's own admin header is replaced by each case's.
        status, answer = await call({"Authorization": ""})
        if op.roles is None:
            assert status not in (401, 403), (op.method, path, status)
            continue
        assert status == 401, (op.method, path, status)
        assert answer["error"]["code"] == "unauthorized"
        status, _ = await call({"Authorization": "Bearer atd_notakey_0000"})
        assert status == 401, (op.method, path, "bad key")
        for role, key in role_keys.items():
            status, answer = await call(bearer(key))
            if role in op.roles:
                assert status not in (401, 403), (op.method, path, role, status, answer)
            else:
                assert status == 403, (op.method, path, role, status)
                assert answer["error"]["code"] == "forbidden"
                assert role.value in answer["error"]["message"]


async def test_unknown_paths_under_the_prefix_need_a_key_first(client):
    response = await client.get(f"{API}/nothing-here", headers={"Authorization": ""})
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert (await client.get(f"{API}/nothing-here")).status == 404


async def test_keys_made_over_rest_are_hashed_listed_and_revoked_at_once(client, settings):
    response = await client.post(f"{API}/admin/keys", json={"name": "shop", "role": "integrator"})
    assert response.status == 201, await response.text()
    made = await response.json()
    key = made["key"]
    assert key.startswith(made["prefix"] + "_")
    assert made["role"] == "integrator"

    ok = await client.get(f"{API}/sectors", headers=bearer(key))
    assert ok.status == 200
    # Integrators may not manage keys or work the queue.
    assert (await client.get(f"{API}/admin/keys", headers=bearer(key))).status == 403

    listed = await (await client.get(f"{API}/admin/keys")).json()
    shop = next(item for item in listed["items"] if item["name"] == "shop")
    assert "key" not in shop
    assert shop["last_used_at"] is not None
    assert shop["revoked_at"] is None
    assert key not in str(listed)

    engine = create_async_engine(settings.async_database_url)
    try:
        async with engine.connect() as conn:
            stored = (await conn.execute(text("SELECT * FROM api_keys"))).mappings().all()
    finally:
        await engine.dispose()
    assert all(key not in str(dict(row).values()) for row in stored)

    duplicate = await client.post(f"{API}/admin/keys", json={"name": "shop", "role": "admin"})
    assert duplicate.status == 409
    bad_role = await client.post(f"{API}/admin/keys", json={"name": "x", "role": "root"})
    assert bad_role.status == 422

    revoked = await client.delete(f"{API}/admin/keys/{made['prefix']}")
    assert revoked.status == 200
    assert (await revoked.json())["revoked_at"] is not None
    refused = await client.get(f"{API}/sectors", headers=bearer(key))
    assert refused.status == 401
    assert "revoked" in (await refused.json())["error"]["message"]
    assert (await client.delete(f"{API}/admin/keys/nobody")).status == 404


class TestRateLimits:
    @pytest.fixture
    def settings(self, db_url):
        return make_settings(
            db_url,
            rate_limit_per_minute=6,
            rate_limit_burst=2,
            anonymous_rate_limit_per_minute=6,
            anonymous_rate_limit_burst=2,
        )

    async def test_a_key_over_its_rate_gets_429_with_retry_after(self, client, settings):
        assert (await client.get(f"{API}/sectors")).status == 200
        assert (await client.get(f"{API}/sectors")).status == 200
        limited = await client.get(f"{API}/sectors")
        assert limited.status == 429
        assert int(limited.headers["Retry-After"]) >= 1
        body = await limited.json()
        assert body["error"]["code"] == "rate_limited"
        # Another key has its own bucket.
        other = await issue_key(settings.async_database_url, "operator")
        assert (await client.get(f"{API}/sectors", headers=bearer(other))).status == 200

    async def test_an_address_without_a_key_is_limited_too(self, client):
        assert (await client.get("/")).status == 200
        assert (await client.get("/health/live")).status == 200
        limited = await client.get("/")
        assert limited.status == 429
        assert int(limited.headers["Retry-After"]) >= 1
        # Keyless API calls spend the same bucket: guessing keys is slowed down.
        guess = await client.get(f"{API}/sectors", headers={"Authorization": "Bearer atd_x"})
        assert guess.status == 429


def test_auth_off_is_refused_off_loopback(db_url):
    settings = make_settings(db_url, auth_disabled=True, host="0.0.0.0")
    with pytest.raises(ConfigurationError, match="loopback"):
        create_app(settings)
    with pytest.raises(ConfigurationError, match="loopback"):
        create_app(make_settings(db_url, auth_disabled=True), host="10.1.2.3")


async def test_auth_off_on_loopback_warns_and_serves_without_a_key(db_url, aiohttp_client):
    settings = make_settings(db_url, auth_disabled=True, host="127.0.0.1")
    with structlog.testing.capture_logs() as logs:
        app = create_app(settings)
    [warning] = [entry for entry in logs if entry["event"] == "AUTH_DISABLED"]
    assert warning["log_level"] == "warning"
    client = await aiohttp_client(app)
    response = await client.get(f"{API}/admin/keys")
    assert response.status == 200


async def test_openapi_declares_the_bearer_scheme_and_each_operations_security(client):
    spec = await (await client.get("/openapi.json", headers={"Authorization": ""})).json()
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    for (method, path), roles in EXPECTED.items():
        entry = spec["paths"][path][method.lower()]
        if roles is None:
            assert entry["security"] == [], path
        else:
            assert entry["security"] == [{"bearerAuth": []}], path
            assert {"401", "403", "429"} <= set(entry["responses"]), path
            for role in roles:
                assert role.value in entry["description"], (path, role)
