"""Root, health, OpenAPI, the docs page, request ids and the per-request log line."""

from __future__ import annotations

import uuid

import structlog
from sqlalchemy.engine import make_url

from gateway import __version__
from tests.conftest import make_settings
from tests.test_api_messages import API


async def test_root(client):
    response = await client.get("/")
    assert await response.json() == {"name": "atende", "version": __version__, "status": "ok"}


async def test_health_ok_then_503_when_the_database_goes(client, pg_admin, settings):
    response = await client.get("/health")
    assert response.status == 200
    assert await response.json() == {"status": "ok", "database": "ok"}

    name = make_url(settings.async_database_url).database
    await pg_admin(f'DROP DATABASE "{name}" WITH (FORCE)')
    response = await client.get("/health")
    assert response.status == 503
    assert (await response.json())["status"] == "unavailable"


async def test_openapi_documents_every_route(client):
    response = await client.get("/openapi.json")
    spec = await response.json()
    assert spec["openapi"].startswith("3.1")
    # Other features add their own routes (and check them in their own tests).
    assert set(spec["paths"]) >= {
        "/",
        "/health",
        f"{API}/sectors",
        f"{API}/messages/",
        f"{API}/messages/{{id}}",
        f"{API}/messages/search",
        f"{API}/messages/client/{{client_id}}",
        f"{API}/messages/sector/{{sector}}",
    }
    create = spec["paths"][f"{API}/messages/"]["post"]
    body_ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = spec["components"]["schemas"][body_ref.rsplit("/", 1)[1]]
    # Without a sector the router assigns one.
    assert set(schema["required"]) == {"client_id", "message"}
    assert "422" in create["responses"]
    # An update must change something: the document says so, as the API does (422).
    assert spec["components"]["schemas"]["MessageUpdate"]["minProperties"] == 1
    # Every reference resolves inside the document.
    refs = _refs(spec)
    assert refs
    for ref in refs:
        assert ref.rsplit("/", 1)[1] in spec["components"]["schemas"], ref


async def test_a_body_the_document_does_not_require_may_be_left_out(client):
    """Where the document says a body may be left out, a request without one is read as
    `{}`: for rows that do not exist that is a 404 naming them, not a 415 for the body."""
    spec = await (await client.get("/openapi.json")).json()
    optional = [
        (method, path)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if "requestBody" in operation and not operation["requestBody"]["required"]
    ]
    # Taking, releasing, reopening, approving and rejecting a message, blocking and
    # unblocking a customer, deleting a note: who acts is all they are told.
    assert len(optional) == 8, optional
    for method, path in optional:
        url = path.replace("{id}", "999999").replace("{client_id}", str(uuid.uuid4()))
        response = await client.request(method.upper(), url)
        assert response.status == 404, (method, path, await response.text())
    # A body the document requires cannot be left out.
    assert spec["paths"][f"{API}/messages/{{id}}"]["put"]["requestBody"]["required"]
    response = await client.put(f"{API}/messages/999999")
    assert response.status == 415
    assert "application/json" in (await response.json())["error"]["message"]


async def test_an_id_in_a_path_is_documented_and_refused_as_a_bigint(client):
    spec = await (await client.get("/openapi.json")).json()
    (param,) = spec["paths"][f"{API}/messages/{{id}}"]["get"]["parameters"]
    assert param["schema"] == {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}
    # /messages/search takes POST only: a GET there is not a GET of the message "search".
    response = await client.get(f"{API}/messages/search")
    assert response.status == 405
    assert response.headers["Allow"] == "POST"
    assert (await client.put(f"{API}/messages/search", json={"answer": "x"})).status == 405
    assert (await client.get(f"{API}/messages/client")).status == 404
    assert (await client.get(f"{API}/messages/abc")).status == 422  # names the id
    response = await client.get(f"{API}/messages/{2**63}")
    assert response.status == 422
    (detail,) = (await response.json())["error"]["details"]
    assert detail["field"] == "id"
    assert f"from 1 to {2**63 - 1}" in detail["message"]


async def test_the_document_names_the_configured_sectors_wherever_a_request_gives_one(
    tmp_path, db_url, aiohttp_client
):
    from gateway.app import create_app

    sectors = tmp_path / "sectors.yaml"
    sectors.write_text(
        "sectors:\n"
        "  - {name: cobranca, description: Boletos e faturas}\n"
        "  - {name: outros, description: O resto, fallback: true}\n"
    )
    client = await aiohttp_client(create_app(make_settings(db_url, sectors_file=sectors)))
    spec = await (await client.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]

    def offered(schema: dict) -> list:
        return [b.get("enum") for b in schema.get("anyOf", [schema]) if b.get("type") == "string"]

    names = [["cobranca", "outros"]]
    asked = ("MessageCreate", "SearchRequest", "TransferRequest", "ReplyIn", "KnowledgePairIn")
    for model in asked:
        assert offered(schemas[model]["properties"]["sector"]) == names, model
    queue = spec["paths"][f"{API}/operator/queue"]["get"]["parameters"]
    assert offered(next(p for p in queue if p["name"] == "sector")["schema"]) == names
    by_sector = spec["paths"][f"{API}/messages/sector/{{sector}}"]["get"]["parameters"]
    assert offered(next(p for p in by_sector if p["name"] == "sector")["schema"]) == names
    # What the API answers stays free: a message keeps a sector taken out of the file since.
    for model in ("MessageOut", "ReplyOut", "SearchHit"):
        assert offered(schemas[model]["properties"]["sector"]) == [None], model


def _refs(node) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if "$ref" in node else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


async def test_docs_page_and_its_assets_are_served_locally(client):
    response = await client.get("/docs")
    page = await response.text()
    assert response.status == 200
    assert "http" not in page.replace("/openapi.json", "")  # no CDN
    for asset in (
        "/docs/static/swagger-ui.css",
        "/docs/static/swagger-ui-bundle.js",
        "/docs/init.js",
    ):
        response = await client.get(asset)
        assert response.status == 200, asset
        assert len(await response.read()) > 0


async def test_request_id_header_and_one_log_line(client):
    with structlog.testing.capture_logs() as logs:
        response = await client.get("/", headers={"X-Request-ID": "abc-123"})
        generated = await client.get("/health")
    assert response.headers["X-Request-ID"] == "abc-123"
    assert len(generated.headers["X-Request-ID"]) == 32
    lines = [entry for entry in logs if entry["event"] == "request"]
    assert [(line["path"], line["status"]) for line in lines] == [("/", 200), ("/health", 200)]
    assert lines[0]["method"] == "GET"
    assert lines[0]["duration_ms"] >= 0
