"""Every operator decision on a suggestion is kept as a label in suggestion_reviews."""

from __future__ import annotations

from gateway.http import keys
from storage.reviews import ReviewRepository
from tests.conftest import query_sql
from tests.routing_helpers import API, import_kb, post, wait_until_triaged

QUESTION = "Qual é o prazo de entrega para o Nordeste?"
ANSWER = "Para o Nordeste a entrega leva de 5 a 8 dias úteis."
ASKED = ["Qual o prazo de entrega pro Nordeste?", "Quanto tempo demora a entrega no Nordeste?"]


async def _reviews(settings) -> list[dict[str, object]]:
    return await query_sql(
        settings.async_database_url,
        "SELECT interaction_id, sector, outcome, suggested_answer, final_answer, method,"
        " operator_name FROM suggestion_reviews ORDER BY id",
    )


async def _suggested(client, text: str) -> dict:
    body = await wait_until_triaged(client, (await post(client, text, "vendas"))["id"])
    assert body["validated_by"] == "ai", body
    return body


async def test_approve_edit_and_reject_each_leave_one_review(client, settings):
    await import_kb(client, [{"question": QUESTION, "answer": ANSWER, "sector": "vendas"}])
    kept = await _suggested(client, ASKED[0])
    edited = await _suggested(client, ASKED[1])
    rejected = await _suggested(client, "Qual o prazo de entrega para o Nordeste???")

    await client.post(
        f"{API}/operator/messages/{kept['id']}/approve", json={"operator_name": "Bia"}
    )
    await client.post(
        f"{API}/operator/messages/{edited['id']}/approve",
        json={"answer": "No Nordeste, de 5 a 8 dias úteis após o envio.", "operator_name": "Caio"},
    )
    response = await client.post(
        f"{API}/operator/messages/{rejected['id']}/reject", json={"operator_name": "Davi"}
    )
    assert response.status == 200
    assert (await response.json())["suggestion"] is None

    reviews = await _reviews(settings)
    assert [(r["interaction_id"], r["outcome"]) for r in reviews] == [
        (kept["id"], "approved"),
        (edited["id"], "edited"),
        (rejected["id"], "rejected"),
    ]
    assert all(r["suggested_answer"] == ANSWER and r["sector"] == "vendas" for r in reviews)
    assert [r["final_answer"] for r in reviews] == [
        ANSWER,
        "No Nordeste, de 5 a 8 dias úteis após o envio.",
        None,
    ]
    # Who rejected is kept as who approved is (the analytics count each operator's).
    assert [r["operator_name"] for r in reviews] == ["Bia", "Caio", "Davi"]
    assert reviews[0]["method"] == "retrieval"


async def test_a_rest_put_that_validates_a_suggestion_is_a_review_too(client, settings):
    await import_kb(client, [{"question": QUESTION, "answer": ANSWER, "sector": "vendas"}])
    suggested = await _suggested(client, ASKED[0])
    response = await client.put(
        f"{API}/messages/{suggested['id']}",
        json={"answer": ANSWER.upper(), "validated_by": "human", "operator_name": "Ana"},
    )
    assert response.status == 200
    # Only case differs: the suggestion was taken as it was.
    assert [r["outcome"] for r in await _reviews(settings)] == ["approved"]


async def test_answering_a_message_without_a_suggestion_is_no_review(client, settings):
    created = await wait_until_triaged(client, (await post(client, "Olá, bom dia", "geral"))["id"])
    assert created["suggestion"] is None
    response = await client.post(
        f"{API}/operator/messages/{created['id']}/approve",
        json={"answer": "Bom dia! Em que ajudo?"},
    )
    assert response.status == 200
    assert await _reviews(settings) == []


async def test_calibration_reads_whether_the_sector_came_with_the_message(client, settings):
    """A suggestion for a message sent with its sector was weighed within it; one the
    router placed was weighed in every sector. `atende calibrate` judges each the same way."""
    await import_kb(client, [{"question": QUESTION, "answer": ANSWER, "sector": "vendas"}])
    given = await _suggested(client, ASKED[0])
    routed = await wait_until_triaged(client, (await post(client, ASKED[1]))["id"])
    assert routed["validated_by"] == "ai"
    assert routed["route_reason"] is not None
    for body in (given, routed):
        await client.post(f"{API}/operator/messages/{body['id']}/approve", json={})

    app = client.server.app
    reviews = await ReviewRepository(app[keys.SESSIONS]).reviewed(
        days=1, model_id=app[keys.EMBEDDER].model_id
    )
    assert {r.interaction_id: r.sector_given for r in reviews} == {
        given["id"]: True,
        routed["id"]: False,
    }


async def test_an_edit_that_writes_another_answer_counts_against_the_one_suggested(
    client, settings
):
    other = "Hoje não entregamos no Nordeste; retire o pedido numa agência dos Correios."
    await import_kb(client, [{"question": QUESTION, "answer": ANSWER, "sector": "vendas"}])
    asked = "Qual o prazo de entrega pro Nordeste?"
    first = await _suggested(client, asked)
    response = await client.post(
        f"{API}/operator/messages/{first['id']}/approve", json={"answer": other}
    )
    assert response.status == 200

    # Asked again: the operator's answer is suggested, and the one they wrote over no
    # longer takes a share of the vote, as after a rejection of it.
    again = await _suggested(client, asked)
    assert again["answer"] == other
    assert again["suggestion"]["agreement"] == 1.0

    # A suggestion with a greeting put in is an edit of it, and nothing more.
    reworded = await _suggested(client, ASKED[1])
    await client.post(
        f"{API}/operator/messages/{reworded['id']}/approve",
        json={"answer": f"Oi, Maria! {reworded['answer']}"},
    )
    flags = await query_sql(
        settings.async_database_url,
        "SELECT interaction_id, outcome, replaced FROM suggestion_reviews ORDER BY id",
    )
    assert [(r["interaction_id"], r["outcome"], r["replaced"]) for r in flags] == [
        (first["id"], "edited", True),
        (reworded["id"], "edited", False),
    ]
