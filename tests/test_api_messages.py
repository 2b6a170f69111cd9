"""The message routes over real HTTP against a real PostgreSQL: success and every error."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import wait_until_embedded

API = "/api/v1"
CLIENT = "7c9e6679-7425-40de-944b-e07fc1f90ae7"


async def post_message(client, message: str, sector: str = "financeiro", client_id: str = CLIENT):
    response = await client.post(
        f"{API}/messages/", json={"client_id": client_id, "sector": sector, "message": message}
    )
    assert response.status == 201, await response.text()
    return await response.json()


def field_names(body: dict) -> set[str]:
    return {d["field"] for d in body["error"]["details"]}


async def test_create_then_read(client):
    created = await post_message(client, "Meu boleto venceu, ainda posso pagar?")
    assert created["client_id"] == CLIENT
    assert created["sector"] == "financeiro"
    assert created["validated_by"] == "pending"
    assert created["channel"] == "rest"
    assert created["customer_name"] is None  # REST messages carry no channel profile
    assert created["answer"] is None
    response = await client.get(f"{API}/messages/{created['id']}")
    assert response.status == 200
    read = await response.json()
    assert read["message"] == "Meu boleto venceu, ainda posso pagar?"
    assert read["id"] == created["id"]


async def test_message_is_embedded_by_the_worker(client):
    created = await post_message(client, "Quero cancelar minha assinatura")
    body = await wait_until_embedded(client, created["id"])
    assert body["embedded"] is True


async def test_update_is_partial_and_touches_updated_at(client):
    created = await post_message(client, "Fui cobrado duas vezes")
    response = await client.put(
        f"{API}/messages/{created['id']}",
        json={"answer": "Vamos estornar a cobrança em dobro.", "operator_name": "Ana"},
    )
    assert response.status == 200
    updated = await response.json()
    assert updated["answer"] == "Vamos estornar a cobrança em dobro."
    assert updated["operator_name"] == "Ana"
    assert updated["validated_by"] == "pending"
    assert updated["updated_at"] > created["updated_at"]

    response = await client.put(f"{API}/messages/{created['id']}", json={"validated_by": "human"})
    again = await response.json()
    assert again["validated_by"] == "human"
    assert again["answer"] == "Vamos estornar a cobrança em dobro."


async def test_unknown_id_is_a_json_404(client):
    for method in ("get", "put"):
        response = await getattr(client, method)(
            f"{API}/messages/999999", json={"answer": "x"} if method == "put" else None
        )
        assert response.status == 404
        body = await response.json()
        assert body["error"]["code"] == "not_found"
        assert "999999" in body["error"]["message"]


@pytest.mark.parametrize("bad_id", ["abc", "0", "-3", "99999999999999999999"])
async def test_non_numeric_id_names_the_parameter(client, bad_id):
    response = await client.get(f"{API}/messages/{bad_id}")
    assert response.status == 422
    assert field_names(await response.json()) == {"id"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"client_id": "not-a-uuid", "sector": "financeiro", "message": "oi"}, "client_id"),
        ({"client_id": CLIENT, "sector": "marketing", "message": "oi"}, "sector"),
        ({"client_id": CLIENT, "sector": "financeiro", "message": ""}, "message"),
        ({"client_id": CLIENT, "sector": "financeiro", "message": "   "}, "message"),
        ({"client_id": CLIENT, "sector": "financeiro", "message": "x" * 4097}, "message"),
        ({"client_id": CLIENT, "sector": "financeiro"}, "message"),
        ({"client_id": CLIENT, "sector": "financeiro", "message": "oi", "extra": 1}, "extra"),
        ({"client_id": CLIENT, "sector": "financeiro", "message": 42}, "message"),
    ],
)
async def test_create_rejects_bad_fields(client, body, field):
    response = await client.post(f"{API}/messages/", json=body)
    assert response.status == 422
    payload = await response.json()
    assert payload["error"]["code"] == "validation_error"
    assert field in field_names(payload)


async def test_longest_allowed_message_is_accepted(client):
    created = await post_message(client, "a" * 4096)
    assert len(created["message"]) == 4096


async def test_malformed_json_and_wrong_content_type(client):
    response = await client.post(
        f"{API}/messages/", data="{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    body = await response.json()
    assert body["error"]["code"] == "bad_request"
    assert "line 1" in body["error"]["message"]

    response = await client.post(f"{API}/messages/", data="client_id=1")
    assert response.status == 415
    assert (await response.json())["error"]["code"] == "unsupported_media_type"

    response = await client.post(
        f"{API}/messages/", data="[1, 2]", headers={"Content-Type": "application/json"}
    )
    assert response.status == 422
    assert field_names(await response.json()) == {"body"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"validated_by": "robot"}, "validated_by"),
        ({"validated_by": None}, "validated_by"),  # leaving it out keeps it; null empties nothing
        ({}, "body"),
        ({"answer": ""}, "answer"),
        ({"colour": "blue"}, "colour"),
    ],
)
async def test_update_rejects_bad_fields(client, body, field):
    created = await post_message(client, "Preciso da segunda via")
    response = await client.put(f"{API}/messages/{created['id']}", json=body)
    assert response.status == 422, await response.text()
    assert field in field_names(await response.json())


async def test_client_history_pages(client):
    other = str(uuid.uuid4())
    ids = [(await post_message(client, f"mensagem {i}"))["id"] for i in range(5)]
    await post_message(client, "de outro cliente", client_id=other)

    response = await client.get(f"{API}/messages/client/{CLIENT}", params={"per_page": 2})
    assert response.status == 200
    page = await response.json()
    assert (page["total"], page["page"], page["per_page"], page["pages"]) == (5, 1, 2, 3)
    assert [item["id"] for item in page["items"]] == [ids[4], ids[3]]

    response = await client.get(
        f"{API}/messages/client/{CLIENT}", params={"page": 3, "per_page": 2}
    )
    page = await response.json()
    assert [item["id"] for item in page["items"]] == [ids[0]]

    response = await client.get(f"{API}/messages/client/{uuid.uuid4()}")
    assert (await response.json()) == {
        "items": [],
        "total": 0,
        "page": 1,
        "per_page": 20,
        "pages": 0,
    }


async def test_sector_listing(client):
    await post_message(client, "boleto", sector="financeiro")
    await post_message(client, "app travando", sector="suporte")
    response = await client.get(f"{API}/messages/sector/suporte")
    page = await response.json()
    assert page["total"] == 1
    assert page["items"][0]["message"] == "app travando"

    response = await client.get(f"{API}/messages/sector/marketing")
    assert response.status == 404
    assert "marketing" in (await response.json())["error"]["message"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page": "0"}, "page"),
        ({"per_page": "101"}, "per_page"),
        ({"per_page": "x"}, "per_page"),
        ({"page": "-1"}, "page"),
    ],
)
async def test_paging_out_of_range(client, params, field):
    for path in (f"{API}/messages/client/{CLIENT}", f"{API}/messages/sector/geral"):
        response = await client.get(path, params=params)
        assert response.status == 422
        assert field_names(await response.json()) == {field}


async def test_invalid_client_uuid_in_path(client):
    response = await client.get(f"{API}/messages/client/12345")
    assert response.status == 422
    assert field_names(await response.json()) == {"client_id"}


async def test_sectors_are_listed_from_configuration(client):
    response = await client.get(f"{API}/sectors")
    body = await response.json()
    names = [s["name"] for s in body["items"]]
    assert names == ["financeiro", "suporte", "vendas", "admin", "geral"]
    assert [s["name"] for s in body["items"] if s["fallback"]] == ["geral"]


async def test_unknown_route_and_method_are_json(client):
    response = await client.get("/nowhere")
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"
    response = await client.delete(f"{API}/messages/1")
    assert response.status == 405
    assert (await response.json())["error"]["code"] == "method_not_allowed"
    assert "GET" in response.headers["Allow"]


async def test_the_api_rides_out_a_database_restart(client, db_url, pg_admin):
    name = make_url(db_url).database
    assert (await client.get(f"{API}/sectors")).status == 200  # the pool holds connections
    # The server drops every connection, as a restart does: pooled connections it closed
    # are replaced on checkout, so the next request simply works.
    # pg_terminate_backend only signals; the timeout waits until each backend has exited,
    # as after a restart. Without it the next request could meet a backend still on its
    # way out, which a restart never leaves behind.
    terminate = (
        f"SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = '{name}'"
    )
    await pg_admin(terminate)
    assert (await client.get(f"{API}/sectors")).status == 200
    # While the database refuses connections, the API says so, as JSON, and recovers after.
    await pg_admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false', terminate)
    try:
        response = await client.get(f"{API}/sectors")
        assert response.status == 503
        assert (await response.json())["error"]["code"] == "service_unavailable"
    finally:
        await pg_admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    assert (await client.get(f"{API}/sectors")).status == 200
