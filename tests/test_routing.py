"""Sector routing: zero-shot without history, kNN with it, keywords breaking ties, and
once calibrated, the answer model's answers voting too."""

from __future__ import annotations

import math

import pytest

from config.sectors import SectorCatalog, SectorDefinition
from gateway.evaluation.data import load_examples, select_split
from gateway.http import keys
from gateway.services.routing import ANSWER_SHARE, SectorRouter, Voter
from tests.conftest import PT_BR, run_atende
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


def test_the_answer_models_sectors_bring_half_of_the_decision():
    router = _router()
    # The nearest messages lean to suporte; the answers the model scores are financeiro's.
    voters = [Voter("suporte", 0.93, "history", 1), Voter("financeiro", 0.92, "history", 2)]
    assert router.decide("Minha conta", voters).sector == "suporte"
    answers = {"financeiro": 0.9, "suporte": 0.1}
    decision = router.decide("Minha conta", voters, answers)
    assert decision.sector == "financeiro"
    assert decision.method == "answers"
    assert decision.reason["answers"] == answers
    suporte_vote = 1 / (1 + math.exp(-0.01 / 0.02))  # the vote's share at temperature 0.02
    expected = (1 - ANSWER_SHARE) * (1 - suporte_vote) + ANSWER_SHARE * 0.9
    assert decision.confidence == pytest.approx(expected, abs=1e-4)
    assert sum(decision.reason["scores"].values()) == pytest.approx(1, abs=1e-3)
    # Answers that agree with the vote leave its method; a sector not configured is no vote.
    agreeing = router.decide("Minha conta", voters, {"suporte": 1.0})
    assert (agreeing.sector, agreeing.method) == ("suporte", "knn")
    assert agreeing.confidence > router.decide("Minha conta", voters).confidence
    assert router.decide("Minha conta", voters, {"marketing": 1.0}).sector == "suporte"


async def test_once_calibrated_the_answer_model_votes_on_the_sector(client):
    """Twelve intents of the pt-BR set's tuning split as history (ten messages each), an
    applied calibration with an answer model, then messages of the same intents from the
    held-out split, sent without a sector."""
    examples = load_examples(PT_BR)
    dev = [e for e in select_split(examples, "dev") if e.answer]
    intents = sorted({e.intent for e in dev if e.intent})[:12]
    await import_kb(
        client,
        [
            {"question": e.text, "answer": e.answer, "sector": e.sector}
            for e in dev
            if e.intent in intents
        ],
    )
    db = client.server.app[keys.SETTINGS].async_database_url
    applied = run_atende("calibrate", "--apply", db=db)
    assert applied.returncode == 0, applied.stderr
    await client.server.app[keys.PIPELINE].refresh_calibration(force=True)

    asked = [e for e in select_split(examples, "heldout") if e.intent in intents][::10]
    assert len(asked) == 12
    routed = []
    for example in asked:
        body = await wait_until_triaged(client, (await post(client, example.text))["id"])
        shares = body["route_reason"]["answers"]
        assert sum(shares.values()) == pytest.approx(1, abs=1e-3)
        assert set(shares) <= {e.sector for e in dev if e.intent in intents}
        routed.append(body["sector"] == example.sector)
    assert sum(routed) >= 10, routed
