"""Saved replies over the REST API against the real database: listing by sector, titles
unique per sector whatever their case, who saved what, and bad input refused whole."""

from __future__ import annotations

from datetime import datetime

from tests.conftest import bearer, issue_key, query_sql
from tests.routing_helpers import API

REPLIES = f"{API}/operator/replies"
HOURS = "Atendemos de segunda a sexta, das 8h às 18h."


async def operator(settings, name: str = "key-ana") -> dict[str, str]:
    return bearer(await issue_key(settings.async_database_url or "", "operator", name=name))


async def save(client, headers, status: int = 201, **body) -> dict:
    response = await client.post(REPLIES, json=body, headers=headers)
    assert response.status == status, await response.text()
    return await response.json()


async def titles(client, headers, **query) -> list[str]:
    response = await client.get(REPLIES, params=query, headers=headers)
    assert response.status == 200, await response.text()
    return [r["title"] for r in (await response.json())["items"]]


async def test_a_sector_sees_its_replies_and_every_sector_s_by_title(client, settings):
    ana = await operator(settings)
    hours = await save(client, ana, title="Horário", text=HOURS, operator_name="Ana")
    assert hours["sector"] is None
    assert hours["created_by"] == hours["updated_by"] == "Ana"
    await save(client, ana, title="boleto vencido", text="Gere outro no app.", sector="financeiro")
    await save(client, ana, title="Prazo", text="De 5 a 8 dias úteis.", sector="vendas")

    assert await titles(client, ana, sector="financeiro") == ["boleto vencido", "Horário"]
    assert await titles(client, ana, sector="vendas") == ["Horário", "Prazo"]
    assert await titles(client, ana) == ["boleto vencido", "Horário", "Prazo"]

    response = await client.get(REPLIES, params={"sector": "nenhum"}, headers=ana)
    assert response.status == 422
    [problem] = (await response.json())["error"]["details"]
    assert problem["field"] == "sector"
    assert "unknown sector 'nenhum'" in problem["message"]


async def test_a_title_is_unique_per_sector_whatever_its_case(client, settings):
    ana = await operator(settings)
    await save(client, ana, title="Horário", text=HOURS)
    twin = await save(client, ana, 409, title="  HORÁRIO ", text="Outro texto.")
    assert twin["error"]["code"] == "conflict"
    assert "every sector" in twin["error"]["message"]
    # The same title in a sector is another reply.
    await save(client, ana, title="Horário", text="Financeiro: das 9h às 17h.", sector="financeiro")
    await save(client, ana, 409, title="horário", text="x", sector="financeiro")

    rows = await query_sql(
        settings.async_database_url or "", "SELECT title, sector FROM saved_replies ORDER BY id"
    )
    assert rows == [
        {"title": "Horário", "sector": None},
        {"title": "Horário", "sector": "financeiro"},
    ]


async def test_editing_keeps_who_wrote_it_first_and_notes_who_changed_it(client, settings):
    ana = await operator(settings)
    bia = await operator(settings, "key-bia")
    saved = await save(client, ana, title="Horário", text=HOURS, operator_name="Ana")
    other = await save(client, ana, title="Prazo", text="De 5 a 8 dias úteis.")

    url = f"{REPLIES}/{saved['id']}"
    body = {"title": "Horário de atendimento", "text": "Das 8h às 20h.", "sector": "suporte"}
    response = await client.put(url, json=body, headers=bia)
    assert response.status == 200, await response.text()
    changed = await response.json()
    assert {k: changed[k] for k in body} == body
    assert (changed["created_by"], changed["updated_by"]) == ("Ana", "key-bia")
    assert datetime.fromisoformat(changed["updated_at"]) > datetime.fromisoformat(
        saved["updated_at"]
    )

    # Renaming onto another reply's title of the same sector is refused, and changes nothing.
    clash = {"title": "prazo", "text": "y"}
    response = await client.put(f"{REPLIES}/{other['id']}", json=clash, headers=bia)
    assert response.status == 200  # its own title in another case is no clash
    response = await client.put(
        url, json={"title": "PRAZO", "text": "z", "sector": None}, headers=bia
    )
    assert response.status == 409, await response.text()
    assert await titles(client, bia) == ["Horário de atendimento", "prazo"]


async def test_deleting_a_reply_and_what_is_not_there(client, settings):
    ana = await operator(settings)
    saved = await save(client, ana, title="Horário", text=HOURS)
    response = await client.delete(f"{REPLIES}/{saved['id']}", headers=ana)
    assert response.status == 204
    assert await titles(client, ana) == []
    for response in (
        await client.delete(f"{REPLIES}/{saved['id']}", headers=ana),
        await client.put(f"{REPLIES}/{saved['id']}", json={"title": "a", "text": "b"}, headers=ana),
    ):
        assert response.status == 404
        assert (
            f"no saved reply with id {saved['id']}" in (await response.json())["error"]["message"]
        )
    response = await client.delete(f"{REPLIES}/abc", headers=ana)
    assert response.status == 422


async def test_bad_replies_name_the_field_and_store_nothing(client, settings):
    ana = await operator(settings)
    cases = [
        ({"title": "", "text": HOURS}, "title"),
        ({"title": "   ", "text": HOURS}, "title"),
        ({"title": "x" * 81, "text": HOURS}, "title"),
        ({"title": "Horário", "text": ""}, "text"),
        ({"title": "Horário", "text": "x" * 4097}, "text"),
        ({"title": "Horário"}, "text"),
        ({"title": "Horário", "text": HOURS, "sector": "nenhum"}, "sector"),
        ({"title": "Horário", "text": "a\x00b"}, "text"),
        ({"title": "Horário", "text": HOURS, "setor": "vendas"}, "setor"),
    ]
    for body, field in cases:
        answer = await save(client, ana, 422, **body)
        fields = [d["field"] for d in answer["error"]["details"]]
        assert fields == [field], (body, answer)
    response = await client.post(REPLIES, data="title=x", headers=ana)
    assert response.status == 415
    assert await titles(client, ana) == []
