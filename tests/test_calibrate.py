"""Learning from operators: rejections weigh answers down, and `atende calibrate` re-fits
the confidence model and per-sector thresholds from reviews, only when asked to."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import numpy as np
import pytest

from gateway.http import keys
from gateway.services.calibration import CALIBRATION_KEY
from gateway.services.projection import Projection
from storage.routing import RoutingRepository
from tests.conftest import query_sql, run_atende, run_sql
from tests.routing_helpers import API, import_kb, post, wait_until_triaged

DELIVERY_Q = "Qual é o prazo de entrega para o Nordeste?"
DELIVERY_A = "Para o Nordeste a entrega leva de 5 a 8 dias úteis."

# Eight answers, three ways of asking each: enough history (24 validated messages, every
# answer given more than once) for the confidence model to be fitted on.
KB = {
    "Para o Nordeste a entrega leva de 5 a 8 dias úteis.": [
        "Qual é o prazo de entrega para o Nordeste?",
        "Quanto tempo demora a entrega pro Nordeste?",
        "Em quantos dias chega no Nordeste?",
    ],
    "A segunda via do boleto está em Minha conta > Pagamentos.": [
        "Como tiro a segunda via do boleto?",
        "Perdi o boleto, onde emito outro?",
        "Preciso de uma nova via do boleto",
    ],
    "Para trocar a senha, use 'Esqueci minha senha' na tela de entrada.": [
        "Esqueci minha senha, como troco?",
        "Não consigo entrar, esqueci a senha",
        "Como faço para redefinir a senha?",
    ],
    "O cancelamento é feito em Minha conta > Assinatura > Cancelar.": [
        "Quero cancelar minha assinatura",
        "Como cancelo o plano?",
        "Desejo encerrar a assinatura",
    ],
    "Aceitamos cartão de crédito, Pix e boleto.": [
        "Quais formas de pagamento vocês aceitam?",
        "Posso pagar com Pix?",
        "Aceitam cartão de crédito?",
    ],
    "A troca pode ser pedida em até 30 dias pelo site, em Meus pedidos.": [
        "Como faço para trocar um produto?",
        "Quero trocar o tamanho da roupa",
        "Qual o prazo para pedir troca?",
    ],
    "A nota fiscal chega no seu e-mail no dia do envio.": [
        "Onde está a nota fiscal da compra?",
        "Não recebi a nota fiscal",
        "Como consigo a NF do pedido?",
    ],
    "O rastreio fica em Meus pedidos, com o código dos Correios.": [
        "Como rastreio meu pedido?",
        "Onde vejo o código de rastreamento?",
        "Quero acompanhar a entrega do pedido",
    ],
}


def _kb_items(sector: str = "vendas") -> list[dict]:
    return [
        {"question": q, "answer": answer, "sector": sector}
        for answer, questions in KB.items()
        for q in questions
    ]


async def _suggested(client, text: str, sector: str = "vendas") -> dict:
    body = await wait_until_triaged(client, (await post(client, text, sector))["id"])
    assert body["validated_by"] == "ai", body
    return body


# --- rejections ---------------------------------------------------------------------------


async def test_a_rejected_answer_is_not_suggested_again_for_the_same_question(client):
    await import_kb(client, [{"question": DELIVERY_Q, "answer": DELIVERY_A, "sector": "vendas"}])
    asked = "Qual o prazo de entrega pro Nordeste?"
    first = await _suggested(client, asked)
    assert first["answer"] == DELIVERY_A
    response = await client.post(f"{API}/operator/messages/{first['id']}/reject")
    assert response.status == 200

    # The same question again: the operator's "no" for it now outweighs the validated
    # answer, which is less similar to it than the rejected message is.
    again = await wait_until_triaged(client, (await post(client, asked, "vendas"))["id"])
    assert again["validated_by"] == "pending"
    assert again["suggestion"] is None
    # A different question of the same answer, far from the rejected one, still gets it.
    other = await _suggested(client, "Em quantos dias a entrega chega no Nordeste?")
    assert other["answer"] == DELIVERY_A


async def test_rejections_are_found_by_similarity_and_embedding_model(client):
    await import_kb(client, [{"question": DELIVERY_Q, "answer": DELIVERY_A, "sector": "vendas"}])
    first = await _suggested(client, "Qual o prazo de entrega pro Nordeste?")
    await client.post(f"{API}/operator/messages/{first['id']}/reject")
    pipeline = client.server.app[keys.PIPELINE]
    repository = RoutingRepository(client.server.app[keys.SESSIONS])
    model_id = pipeline.suggestions.model_id
    db = client.server.app[keys.SETTINGS].async_database_url
    [row] = await query_sql(
        db, "SELECT embedding::text AS v FROM chat_interactions WHERE id = :id", id=first["id"]
    )
    vector = json.loads(row["v"])

    [found] = await repository.rejected_near(vector, model_id=model_id, limit=5, min_similarity=0.9)
    assert found.interaction_id == first["id"]
    assert found.suggested_answer == DELIVERY_A
    assert found.similarity == pytest.approx(1.0, abs=1e-4)
    assert (
        await repository.rejected_near(vector, model_id="other", limit=5, min_similarity=0.9) == []
    )
    # Turned around, the same vector is as far as can be: below any floor.
    opposite = [-x for x in vector]
    assert (
        await repository.rejected_near(opposite, model_id=model_id, limit=5, min_similarity=0.0)
        == []
    )


# --- the command ------------------------------------------------------------------------------


def _calibrate(*args: str, db: str) -> subprocess.CompletedProcess:
    return run_atende("calibrate", *args, db=db)


async def _stored(db: str) -> list[dict]:
    return await query_sql(db, "SELECT value FROM atende_meta WHERE key = :k", k=CALIBRATION_KEY)


async def _reviewed_history(client) -> None:
    """The KB above, and suggestions operators approved, edited and rejected."""
    await import_kb(client, _kb_items())
    approve = [
        "Qual o prazo de entrega pro Nordeste?",
        "como tiro 2 via do boleto",
        "esqueci a senha e nao consigo entrar",
        "quero cancelar a assinatura",
    ]
    for text in approve:
        body = await _suggested(client, text)
        await client.post(f"{API}/operator/messages/{body['id']}/approve", json={})
    body = await _suggested(client, "Vocês aceitam Pix?")
    await client.post(
        f"{API}/operator/messages/{body['id']}/approve",
        json={"answer": "Sim, aceitamos Pix, cartão e boleto."},
    )
    body = await _suggested(client, "Quero trocar o produto")
    await client.post(f"{API}/operator/messages/{body['id']}/reject")


async def test_calibrate_is_a_dry_run_until_applied_and_the_pipeline_reads_it(client):
    db = client.server.app[keys.SETTINGS].async_database_url
    await _reviewed_history(client)

    dry = _calibrate("--min-reviews", "2", "--target-precision", "0.6", db=db)
    assert dry.returncode == 0, dry.stderr
    assert "dry run: nothing was stored" in dry.stdout
    [vendas_line] = [line for line in dry.stdout.splitlines() if line.startswith("vendas")]
    assert vendas_line.split()[1] == "6"  # reviews
    assert await _stored(db) == []

    result = _calibrate(
        "--min-reviews", "2", "--target-precision", "0.6", "--apply", "--json", db=db
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["applied"] is True
    assert report["model"]["after"]["source"] == "calibrated"
    assert report["model"]["after"]["examples"] > 0
    # Every answer was given more than once: the history teaches a projection too, which
    # the report sums up (the matrix itself is only stored).
    projection = report["projection"]["after"]
    assert projection["dim"] == report["calibration"]["projection"]["dim"] > 0
    assert projection["examples"] >= 24
    assert "matrix" not in report["calibration"]["projection"]
    [vendas] = [s for s in report["sectors"] if s["sector"] == "vendas"]
    # Six reviews; the rejected answer is still the one that would win, so it counts.
    assert vendas["after"]["reviewed"] == report["labels"] == 6
    assert 0.0 < vendas["after"]["threshold"] <= 1.0
    [stored] = await _stored(db)
    assert stored["value"]["sector_thresholds"]["vendas"] == vendas["after"]["threshold"]
    assert stored["value"]["projection"]["dim"] == projection["dim"]
    assert stored["value"]["projection"]["matrix"]

    pipeline = client.server.app[keys.PIPELINE]
    await pipeline.refresh_calibration(force=True)
    maker = pipeline.suggestions
    assert maker.calibration.model.source == "calibrated"
    assert maker.min_confidence_for("vendas") == vendas["after"]["threshold"]
    assert maker.min_confidence_for("geral") == maker.min_confidence
    assert maker.calibration.projection is not None
    assert maker.calibration.projection.dim == projection["dim"]
    assert pipeline._router.projection is maker.calibration.projection
    # Under the projection, a paraphrase still finds its answer.
    body = await _suggested(client, "qto tempo demora p/ chegar no nordeste?")
    assert body["answer"] == DELIVERY_A
    assert body["suggestion"]["similarity"] >= body["suggestion"]["threshold"]


async def _store_and_read(client, value: dict):
    """`value` stored as the calibration, and the pipeline once it has read it."""
    db = client.server.app[keys.SETTINGS].async_database_url
    await run_sql(
        db,
        "INSERT INTO atende_meta (key, value) VALUES (:k, CAST(:v AS jsonb))"
        " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        k=CALIBRATION_KEY,
        v=json.dumps(value),
    )
    pipeline = client.server.app[keys.PIPELINE]
    await pipeline.refresh_calibration(force=True)
    return pipeline


async def test_a_calibration_for_another_embedding_model_keeps_only_its_thresholds(client):
    value = {
        "model": {"intercept": 1.0, "weights": [1, 1, 1, 1], "model_id": "another-model"},
        "sector_thresholds": {"vendas": 0.8},
    }
    pipeline = await _store_and_read(client, value)
    assert pipeline.suggestions.calibration.model.source == "default"
    assert pipeline.suggestions.min_confidence_for("vendas") == 0.8


async def test_a_projection_of_another_model_or_damaged_is_not_used(client):
    pipeline = client.server.app[keys.PIPELINE]
    model_id = pipeline.suggestions.model_id
    dim = client.server.app[keys.EMBEDDER].dim
    projection = Projection(np.eye(dim, dtype=np.float32), examples=30, model_id="another")
    model = {"intercept": 1.0, "weights": [1, 1, 1, 1], "model_id": model_id}
    model["source"] = "calibrated"
    value = {"model": model, "sector_thresholds": {"vendas": 0.8}}
    # Fitted in another model's space: neither it nor the model fitted under it is used.
    pipeline = await _store_and_read(client, {**value, "projection": projection.as_json()})
    assert pipeline.suggestions.calibration.projection is None
    assert pipeline._router.projection is None
    assert pipeline.suggestions.calibration.model.source == "default"
    assert pipeline.suggestions.min_confidence_for("vendas") == 0.8
    # Cut short: the calibration cannot be read, and the defaults stand.
    damaged = {**projection.as_json(), "model_id": model_id, "matrix": "AAAA"}
    pipeline = await _store_and_read(client, {**value, "projection": damaged})
    assert pipeline.suggestions.calibration.projection is None
    assert pipeline.suggestions.min_confidence_for("vendas") == pipeline.suggestions.min_confidence
    # The same projection for this model is used, by the suggestions and the router alike.
    mine = {**projection.as_json(), "model_id": model_id}
    pipeline = await _store_and_read(client, {**value, "projection": mine})
    assert pipeline.suggestions.calibration.projection is not None
    assert pipeline._router.projection is pipeline.suggestions.calibration.projection
    assert pipeline.suggestions.calibration.model.source == "calibrated"


def _labels_file(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


async def test_calibrate_from_a_labels_file(client, tmp_path):
    db = client.server.app[keys.SETTINGS].async_database_url
    rows = ["sector,confidence,outcome"]
    rows += ["suporte,0.55,rejected", "suporte,0.6,approved", "suporte,0.65,edited"] * 4
    rows += ["suporte,0.85,approved"] * 10
    path = _labels_file(tmp_path, "reviews.csv", "\n".join(rows) + "\n")
    result = _calibrate("--labels", str(path), "--min-reviews", "5", "--apply", "--json", db=db)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    [suporte] = [s for s in report["sectors"] if s["sector"] == "suporte"]
    # Before: the default bar (0.6) lets the 0.6 and 0.65 reviews through, not the 0.55.
    assert suporte["before"] == {
        "threshold": 0.6,
        "reviewed": 22,
        "kept": 18,
        "precision": round(14 / 18, 4),
        "coverage": round(18 / 22, 4),
    }
    assert suporte["after"]["threshold"] == 0.7
    assert suporte["after"]["precision"] == 1.0
    assert suporte["after"]["coverage"] == round(10 / 22, 4)
    assert report["model"]["after"]["source"] == "default"  # scored elsewhere: kept
    [stored] = await _stored(db)
    assert stored["value"]["sector_thresholds"] == {"suporte": 0.7}


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", "", "the file is empty"),
        ("columns.csv", "sector,outcome\nvendas,approved\n", "row 1: no `confidence` column"),
        (
            "sector.csv",
            "sector,confidence,outcome\nvendas,0.9,approved\nlojas,0.9,approved\n",
            "row 3, field sector: unknown sector 'lojas'",
        ),
        (
            "outcome.jsonl",
            '{"sector": "vendas", "confidence": 0.9, "outcome": "maybe"}\n',
            "row 1, field outcome: 'maybe' is not one of approved, edited, rejected",
        ),
        (
            "missing.jsonl",
            '{"sector": "vendas", "confidence": 0.9}\n',
            "row 1, field outcome: missing or empty",
        ),
        (
            "blank.csv",
            "sector,confidence,outcome\nvendas,,approved\n",
            "row 2, field confidence: missing or empty",
        ),
        (
            "confidence.csv",
            "sector,confidence,outcome\nvendas,alta,approved\n",
            "row 2, field confidence: 'alta' is not a number",
        ),
        (
            "latin1.csv",
            "sector,confidence,outcome\nvendas,0.9,aprovação\n".encode("latin-1"),
            "row 2: not UTF-8",
        ),
    ],
)
async def test_bad_labels_are_named_by_row_and_field_and_change_nothing(
    client, tmp_path, name, content, message
):
    db = client.server.app[keys.SETTINGS].async_database_url
    path = _labels_file(tmp_path, name, content)
    result = _calibrate("--labels", str(path), "--apply", db=db)
    assert result.returncode == 1
    assert message in result.stderr, result.stderr
    assert str(path) in result.stderr
    assert "Traceback" not in result.stderr
    assert await _stored(db) == []


async def test_the_pipeline_parses_a_calibration_again_only_when_a_new_one_is_applied(client):
    first = {"sector_thresholds": {"vendas": 0.7}, "applied_at": "2026-12-01T10:00:00+00:00"}
    pipeline = await _store_and_read(client, first)
    assert pipeline.suggestions.min_confidence_for("vendas") == 0.7

    async def stored_then_read(value: dict) -> float:
        db = client.server.app[keys.SETTINGS].async_database_url
        await run_sql(
            db,
            "UPDATE atende_meta SET value = CAST(:v AS jsonb) WHERE key = :k",
            k=CALIBRATION_KEY,
            v=json.dumps(value),
        )
        pipeline._calibration_read = -math.inf  # as if the minute had passed
        await pipeline.refresh_calibration()
        return pipeline.suggestions.min_confidence_for("vendas")

    # The same stamp: what is held stands, whatever else the row says.
    assert await stored_then_read({**first, "sector_thresholds": {"vendas": 0.9}}) == 0.7
    applied = {"sector_thresholds": {"vendas": 0.9}, "applied_at": "2026-12-02T10:00:00+00:00"}
    assert await stored_then_read(applied) == 0.9
