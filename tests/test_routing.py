"""Sector routing: zero-shot without history, kNN with it, keywords breaking ties."""

from __future__ import annotations

from config.sectors import SectorCatalog, SectorDefinition
from gateway.services.routing import SectorRouter, Voter
from tests.routing_helpers import import_kb, kb_ids, post, wait_until_triaged


async def test_without_history_the_sector_examples_decide(client):
    created = await post(client, "Meu boleto venceu ontem, como faço para pagar?")
    assert created["sector"] is None
    body = await wait_until_triaged(client, created["id"])
    assert body["sector"] == "financeiro"
    assert body["route_reason"]["method"] == "zero-shot"
    assert 0 < body["sector_confidence"] <= 1
    assert all("id" not in voter for voter in body["route_reason"]["nearest"])


async def test_with_history_the_nearest_validated_messages_vote(client):
    # History that contradicts the sector examples: printer questions belong to vendas here.
    questions = [
        "A impressora que comprei não liga",
        "Minha impressora nova está sem tinta",
        "A impressora parou de imprimir colorido",
        "Impressora fazendo barulho estranho ao imprimir",
    ]
    await import_kb(
        client,
        [{"question": q, "answer": "Fale com a loja.", "sector": "vendas"} for q in questions],
    )
    ids = await kb_ids(client, questions)
    created = await post(client, "A impressora não quer ligar de jeito nenhum")
    body = await wait_until_triaged(client, created["id"])
    assert body["sector"] == "vendas"
    assert body["route_reason"]["method"] == "knn"
    nearest_ids = {v.get("id") for v in body["route_reason"]["nearest"]}
    assert nearest_ids & set(ids.values())


async def test_a_sector_given_over_rest_is_kept(client):
    created = await post(client, "Meu boleto venceu ontem, como faço para pagar?", "vendas")
    body = await wait_until_triaged(client, created["id"])
    assert body["sector"] == "vendas"
    assert body["route_reason"] is None
    assert body["sector_confidence"] is None


def _router() -> SectorRouter:
    catalog = SectorCatalog(
        sectors=[
            SectorDefinition(name="financeiro", keywords=["boleto", "cobrança"]),
            SectorDefinition(name="suporte", keywords=["senha"]),
            SectorDefinition(name="geral", fallback=True),
        ]
    )
    return SectorRouter(catalog, embedder=None, repository=None, tie_margin=0.15)  # type: ignore[arg-type]


def test_keywords_break_a_tied_vote():
    router = _router()
    tied = [Voter("suporte", 0.91, "history", 1), Voter("financeiro", 0.91, "history", 2)]
    decision = router.decide("Não recebi o boleto da cobrança", tied)
    assert decision.sector == "financeiro"
    assert decision.method == "keywords"
    assert decision.reason["keywords"] == ["boleto", "cobrança"]
    # The same tie with the other sector's keyword goes the other way.
    assert router.decide("Esqueci a senha", tied).sector == "suporte"


def test_keywords_do_not_override_a_clear_vote():
    router = _router()
    voters = [Voter("suporte", 0.95, "history", 1), Voter("financeiro", 0.85, "history", 2)]
    decision = router.decide("Não recebi o boleto", voters)
    assert decision.sector == "suporte"
    assert decision.method == "knn"
    assert decision.confidence > 0.9


def test_no_evidence_and_no_keyword_falls_back():
    decision = _router().decide("Olá", [])
    assert decision.sector == "geral"
    assert decision.method == "fallback"
