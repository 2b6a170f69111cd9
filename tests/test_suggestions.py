"""Suggestions: the threshold, same-sector preference, and what approval teaches."""

from __future__ import annotations

import math

import pytest

from gateway.services.confidence import MIN_CONFIDENCE, ConfidenceModel, Evidence
from gateway.services.suggestions import Assessment, Calibration, Candidate, SuggestionMaker
from storage.neighbours import Neighbour
from tests.conftest import make_settings
from tests.routing_helpers import API, import_kb, kb_ids, post, wait_until_triaged

REFUND_Q = "Como faço para pedir o reembolso de uma compra?"
REFUND_A = "Você pode pedir o reembolso em Minha conta > Pedidos, em até 7 dias."


async def test_a_near_validated_answer_is_suggested_with_its_source(client):
    await import_kb(client, [{"question": REFUND_Q, "answer": REFUND_A, "sector": "financeiro"}])
    source = (await kb_ids(client, [REFUND_Q]))[REFUND_Q]
    created = await post(client, "Como peço o reembolso da minha compra?")
    body = await wait_until_triaged(client, created["id"])
    assert body["validated_by"] == "ai"
    assert body["answer"] == REFUND_A
    assert body["suggestion"]["source_ids"] == [source]
    assert body["suggestion"]["similarity"] >= body["suggestion"]["threshold"]
    assert body["operator_name"] is None


async def test_below_the_threshold_the_message_waits_for_a_human(client):
    await import_kb(client, [{"question": REFUND_Q, "answer": REFUND_A, "sector": "financeiro"}])
    created = await post(client, "O aplicativo fecha sozinho quando abro a câmera")
    body = await wait_until_triaged(client, created["id"])
    assert body["validated_by"] == "pending"
    assert body["answer"] is None
    assert body["suggestion"] is None


class TestSameSectorPreference:
    @pytest.fixture
    def settings(self, db_url):
        # A low threshold so that both candidates below are eligible and only the
        # sector preference decides between them.
        return make_settings(db_url, suggestion_threshold=0.5)

    async def test_the_messages_own_sector_is_preferred(self, client):
        vendas_q = "Quero cancelar o meu pedido"
        admin_q = "Quero cancelar a minha assinatura"
        await import_kb(
            client,
            [
                {"question": vendas_q, "answer": "Cancelamos o pedido.", "sector": "vendas"},
                {"question": admin_q, "answer": "Cancelamos a assinatura.", "sector": "admin"},
            ],
        )
        ids = await kb_ids(client, [vendas_q, admin_q])
        asked = "Quero cancelar o meu pedido, por favor"
        as_admin = await wait_until_triaged(client, (await post(client, asked, "admin"))["id"])
        as_vendas = await wait_until_triaged(client, (await post(client, asked, "vendas"))["id"])
        assert as_vendas["suggestion"]["source_ids"] == [ids[vendas_q]]
        assert as_vendas["suggestion"]["same_sector"] is True
        # The vendas pair is nearer, yet a message of admin gets admin's answer.
        assert as_admin["suggestion"]["source_ids"] == [ids[admin_q]]
        assert as_admin["answer"] == "Cancelamos a assinatura."

        response = await client.get(f"{API}/operator/messages/{as_admin['id']}/candidates")
        ranked = await response.json()
        assert [c["id"] for c in ranked["items"]] == [ids[admin_q], ids[vendas_q]]
        assert ranked["items"][0]["same_sector"] is True
        assert ranked["items"][1]["similarity"] > ranked["items"][0]["similarity"]


def _assessment(*answers: tuple[str, str, float | None]) -> Assessment:
    """One voter per (sector, answer, answer model's score), best first."""
    candidates = [
        Candidate(Neighbour(i, sector, answer, "q", 0.95 - i / 100), False, True)
        for i, (sector, answer, _) in enumerate(answers)
    ]
    evidence = [
        Evidence(answer.lower(), 0.95 - i / 100, 1 / len(answers), 0.0, 1, (i,), score, 0.0)
        for i, (_, answer, score) in enumerate(answers)
    ]
    return Assessment(candidates, evidence, 0.9)


def test_the_answer_models_scores_share_out_among_the_answers_sectors():
    assessment = _assessment(
        ("financeiro", "Segunda via", 0.8), ("suporte", "Senha", 0.7), ("financeiro", "Pix", 0.7)
    )
    shares = assessment.sector_shares(0.1)
    runner_up = math.exp(-1)  # 0.1 below the best, at temperature 0.1
    assert shares == pytest.approx(
        {
            "financeiro": (1 + runner_up) / (1 + 2 * runner_up),
            "suporte": runner_up / (1 + 2 * runner_up),
        }
    )
    # Without an answer model nothing scored the answers: the router keeps its own vote.
    assert _assessment(("financeiro", "Segunda via", None)).sector_shares(0.1) is None


def test_a_suggestion_is_of_the_same_sector_as_the_routed_message_or_not():
    maker = SuggestionMaker(None, model_id="m", threshold=0.5, min_confidence=0.5)  # type: ignore[arg-type]
    assessment = _assessment(("financeiro", "Segunda via", 0.8), ("suporte", "Senha", 0.7))
    assert maker.choose(assessment, "financeiro").same_sector is True
    assert maker.choose(assessment, "suporte").same_sector is False
    assert maker.choose(assessment, None).same_sector is False


def test_the_bar_is_the_operators_else_the_confidence_models_else_the_default():
    bare = SuggestionMaker(None, model_id="m", threshold=0.5)  # type: ignore[arg-type]
    assert bare.min_confidence == MIN_CONFIDENCE
    calibrated = ConfidenceModel(intercept=0.0, weights=(0.0,) * 7, bar=0.55)
    bare.calibration = Calibration(model=calibrated, sector_thresholds={"vendas": 0.8})
    assert bare.min_confidence == 0.55
    assert bare.min_confidence_for("suporte") == 0.55
    assert bare.min_confidence_for("vendas") == 0.8
    # ATENDE_SUGGESTION_MIN_CONFIDENCE, when set, is the operator's word over the model's.
    told = SuggestionMaker(None, model_id="m", threshold=0.5, min_confidence=0.7)  # type: ignore[arg-type]
    told.calibration = bare.calibration
    assert told.min_confidence == 0.7
    assert told.min_confidence_for("vendas") == 0.8
