"""Semantic search with the default local model over real pgvector."""

from __future__ import annotations

from tests.conftest import wait_until_embedded
from tests.test_api_messages import API, post_message

HISTORY = [
    ("financeiro", "Meu boleto venceu, ainda consigo pagar?"),
    ("suporte", "O aplicativo fecha sozinho quando tento abrir"),
    ("vendas", "Quanto custa o plano anual para empresas?"),
    ("admin", "Quero cancelar minha assinatura"),
    ("geral", "Qual o horário de atendimento de vocês?"),
]


async def seed(client) -> dict[str, int]:
    ids = {}
    for sector, text in HISTORY:
        created = await post_message(client, text, sector=sector)
        await wait_until_embedded(client, created["id"])
        ids[text] = created["id"]
    return ids


async def search(client, **body) -> list[dict]:
    response = await client.post(f"{API}/messages/search", json=body)
    assert response.status == 200, await response.text()
    return (await response.json())["items"]


async def test_portuguese_paraphrase_ranks_first(client):
    ids = await seed(client)
    cases = {
        "Como faço para encerrar meu plano?": "Quero cancelar minha assinatura",
        "Paguei o boleto atrasado, tem problema?": "Meu boleto venceu, ainda consigo pagar?",
        "O app está travando e não abre": "O aplicativo fecha sozinho quando tento abrir",
        "Qual é o valor da assinatura anual?": "Quanto custa o plano anual para empresas?",
    }
    for query, expected in cases.items():
        items = await search(client, query=query, similarity_threshold=0.0)
        assert items[0]["id"] == ids[expected], (query, [i["message"] for i in items])
        similarities = [item["similarity"] for item in items]
        assert similarities == sorted(similarities, reverse=True)
        assert items[0]["similarity"] > items[-1]["similarity"]


async def test_sector_filter_limit_and_threshold(client):
    await seed(client)
    items = await search(client, query="cancelar", sector="financeiro", similarity_threshold=0.0)
    assert [item["sector"] for item in items] == ["financeiro"]

    items = await search(client, query="cancelar assinatura", limit=2, similarity_threshold=0.0)
    assert len(items) == 2

    everything = await search(client, query="cancelar assinatura", similarity_threshold=0.0)
    cut = everything[1]["similarity"]
    above = await search(client, query="cancelar assinatura", similarity_threshold=cut)
    assert [i["id"] for i in above] == [i["id"] for i in everything[:2]]
    assert await search(client, query="cancelar assinatura", similarity_threshold=1.0) == []


async def test_search_rejects_bad_input(client):
    for body, field in [
        ({"query": ""}, "query"),
        ({"query": "x", "limit": 0}, "limit"),
        ({"query": "x", "limit": 101}, "limit"),
        ({"query": "x", "similarity_threshold": 2}, "similarity_threshold"),
        ({"query": "x", "similarity_threshold": False}, "similarity_threshold"),  # not 0.0
        ({"query": "x", "limit": True}, "limit"),  # not 1
        ({"query": "x", "sector": "marketing"}, "sector"),
        ({}, "query"),
    ]:
        response = await client.post(f"{API}/messages/search", json=body)
        assert response.status == 422, body
        fields = {d["field"] for d in (await response.json())["error"]["details"]}
        assert field in fields, (body, fields)
