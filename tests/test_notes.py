"""Internal notes about a customer over the REST API against the real database: newest
first, kept per customer, only their author (or an admin) deletes one, bad input refused."""

from __future__ import annotations

import uuid

from tests.conftest import bearer, issue_key, query_sql
from tests.routing_helpers import API, CLIENT, post


def notes_url(client_id: uuid.UUID | str = CLIENT) -> str:
    return f"{API}/operator/clients/{client_id}/notes"


async def operator(settings, name: str) -> dict[str, str]:
    return bearer(await issue_key(settings.async_database_url or "", "operator", name=name))


async def write(client, headers, text: str, status: int = 201, **extra) -> dict:
    response = await client.post(notes_url(), json={"text": text, **extra}, headers=headers)
    assert response.status == status, await response.text()
    return await response.json()


async def texts(client, client_id=CLIENT) -> list[str]:
    response = await client.get(notes_url(client_id))
    assert response.status == 200, await response.text()
    return [n["text"] for n in (await response.json())["items"]]


async def test_notes_are_the_customer_s_newest_first(client, settings):
    ana = await operator(settings, "key-ana")
    await post(client, "Mandei o comprovante ontem", "financeiro")
    first = await write(client, ana, "Já mandou o comprovante duas vezes.", operator_name="Ana")
    assert (first["author"], first["client_id"]) == ("Ana", CLIENT)
    await write(client, ana, "Prefere ser chamada depois das 18h.")  # the key's name
    assert await texts(client) == [
        "Prefere ser chamada depois das 18h.",
        "Já mandou o comprovante duas vezes.",
    ]
    response = await client.get(notes_url())
    assert [n["author"] for n in (await response.json())["items"]] == ["key-ana", "Ana"]

    # Another customer has none, and a customer atende never heard from gets none.
    other = uuid.uuid4()
    assert await texts(client, other) == []
    response = await client.post(notes_url(other), json={"text": "quem?"}, headers=ana)
    assert response.status == 404
    assert str(other) in (await response.json())["error"]["message"]
    rows = await query_sql(
        settings.async_database_url or "", "SELECT count(*) AS n FROM client_notes"
    )
    assert rows == [{"n": 2}]


async def test_only_its_author_or_an_admin_deletes_a_note(client, settings):
    ana = await operator(settings, "key-ana")
    bia = await operator(settings, "key-bia")
    await post(client, "oi", "geral")
    mine = await write(client, ana, "Cliente VIP.", operator_name="Ana")
    theirs = await write(client, bia, "Ligar amanhã.", operator_name="Bia")

    response = await client.delete(
        f"{API}/operator/notes/{mine['id']}", json={"operator_name": "Bia"}, headers=bia
    )
    assert response.status == 409
    assert "written by Ana" in (await response.json())["error"]["message"]
    response = await client.delete(
        f"{API}/operator/notes/{theirs['id']}", json={"operator_name": "Bia"}, headers=bia
    )
    assert response.status == 204
    assert await texts(client) == ["Cliente VIP."]
    # An admin (the client's key) deletes anyone's; gone is 404.
    assert (await client.delete(f"{API}/operator/notes/{mine['id']}")).status == 204
    response = await client.delete(f"{API}/operator/notes/{mine['id']}")
    assert response.status == 404
    assert await texts(client) == []


async def test_bad_notes_name_the_field_and_store_nothing(client, settings):
    ana = await operator(settings, "key-ana")
    await post(client, "oi", "geral")
    for body, field in (
        ({"text": ""}, "text"),
        ({"text": "   "}, "text"),
        ({"text": "x" * 2001}, "text"),
        ({}, "text"),
        ({"text": "a\x00b"}, "text"),
        ({"text": "ok", "autor": "Ana"}, "autor"),
    ):
        response = await client.post(notes_url(), json=body, headers=ana)
        assert response.status == 422, body
        fields = [d["field"] for d in (await response.json())["error"]["details"]]
        assert fields == [field], (body, fields)
    response = await client.get(f"{API}/operator/clients/not-a-uuid/notes", headers=ana)
    assert response.status == 422
    assert await texts(client) == []
