"""Operator actions: the queue, approve (with edit) and reject, and their effect."""

from __future__ import annotations

import asyncio

from tests.conftest import run_sql
from tests.routing_helpers import API, import_kb, kb_ids, post, wait_until_triaged

QUESTION = "Qual é o prazo de entrega para o Nordeste?"
ANSWER = "Para o Nordeste a entrega leva de 5 a 8 dias úteis."


async def test_approving_an_edited_answer_makes_it_the_next_suggestion(client):
    first = await wait_until_triaged(client, (await post(client, QUESTION, "vendas"))["id"])
    assert first["validated_by"] == "pending"  # nothing known yet

    response = await client.post(
        f"{API}/operator/messages/{first['id']}/approve",
        json={"answer": ANSWER, "operator_name": "Bia"},
    )
    assert response.status == 200, await response.text()
    approved = await response.json()
    assert approved["validated_by"] == "human"
    assert approved["operator_name"] == "Bia"
    assert approved["answer"] == ANSWER

    second = await post(client, "Qual o prazo de entrega para o Nordeste?", "vendas")
    body = await wait_until_triaged(client, second["id"])
    assert body["validated_by"] == "ai"
    assert body["answer"] == ANSWER
    assert body["suggestion"]["source_ids"] == [first["id"]]

    # Approving the suggestion as it stands keeps its text.
    response = await client.post(f"{API}/operator/messages/{second['id']}/approve", json={})
    assert (await response.json())["validated_by"] == "human"
    response = await client.post(f"{API}/operator/messages/{second['id']}/approve", json={})
    assert response.status == 409


async def test_of_two_operators_approving_at_once_one_wins_and_the_other_gets_409(client):
    created = await wait_until_triaged(client, (await post(client, QUESTION, "vendas"))["id"])
    url = f"{API}/operator/messages/{created['id']}/approve"
    for _ in range(5):  # the race is decided by the row's lock, whichever request comes first
        answers = await asyncio.gather(
            client.post(url, json={"answer": ANSWER, "operator_name": "Bia"}),
            client.post(url, json={"answer": "Outra resposta.", "operator_name": "Caio"}),
            client.post(f"{API}/operator/messages/{created['id']}/reject"),
        )
        statuses = sorted(a.status for a in answers)
        assert statuses.count(200) <= 2  # a reject may come first, then one approval wins
        bodies = [await a.json() for a in answers if a.status == 200]
        approvals = [b for b in bodies if b["validated_by"] == "human"]
        assert len(approvals) == 1, statuses
        assert statuses.count(409) == 3 - len(bodies)
        stored = await (await client.get(f"{API}/messages/{created['id']}")).json()
        assert stored["answer"] == approvals[0]["answer"]
        # Reset for the next round through the same API an integrator would use.
        reset = await client.put(
            f"{API}/messages/{created['id']}", json={"validated_by": "pending", "answer": None}
        )
        assert reset.status == 200, await reset.text()


async def test_rejecting_returns_the_message_to_pending_without_the_suggestion(client):
    await import_kb(client, [{"question": QUESTION, "answer": ANSWER, "sector": "vendas"}])
    source = (await kb_ids(client, [QUESTION]))[QUESTION]
    created = await post(client, "Qual o prazo de entrega para o Nordeste?", "vendas")
    suggested = await wait_until_triaged(client, created["id"])
    assert suggested["suggestion"]["source_ids"] == [source]

    response = await client.post(f"{API}/operator/messages/{created['id']}/reject")
    assert response.status == 200, await response.text()
    rejected = await response.json()
    assert rejected["validated_by"] == "pending"
    assert rejected["answer"] is None
    assert rejected["suggestion"] is None

    # A rejected suggestion is not knowledge, and it is a label: the same question again
    # is not offered the answer the operator just turned down for it (it would have been
    # without the rejection: it was a moment ago), and the rejected row is no candidate.
    again = await wait_until_triaged(
        client, (await post(client, "Qual o prazo de entrega para o Nordeste?", "vendas"))["id"]
    )
    assert again["suggestion"] is None
    candidates = await client.get(f"{API}/operator/messages/{again['id']}/candidates")
    assert [c["id"] for c in (await candidates.json())["items"]] == [source]


async def test_a_message_is_dated_when_first_answered_not_when_stored_answered(client):
    created = await wait_until_triaged(client, (await post(client, QUESTION, "vendas"))["id"])
    assert created["answered_at"] is None
    url = f"{API}/operator/messages/{created['id']}/approve"
    answered = await (await client.post(url, json={"answer": ANSWER})).json()
    assert answered["created_at"] <= answered["answered_at"] <= answered["updated_at"]
    # A later correction of the answer keeps when the customer was first answered.
    response = await client.put(f"{API}/messages/{created['id']}", json={"answer": "Outra."})
    assert (await response.json())["answered_at"] == answered["answered_at"]
    # Stored already answered (the knowledge base): nobody waited for it.
    await import_kb(client, [{"question": "Oi", "answer": "Olá!", "sector": "geral"}])
    known = (await kb_ids(client, ["Oi"]))["Oi"]
    assert (await (await client.get(f"{API}/messages/{known}")).json())["answered_at"] is None


async def test_approve_without_any_answer_is_refused(client):
    created = await wait_until_triaged(client, (await post(client, "Olá, bom dia", "geral"))["id"])
    response = await client.post(f"{API}/operator/messages/{created['id']}/approve", json={})
    assert response.status == 422
    assert (await response.json())["error"]["details"][0]["field"] == "answer"


async def test_the_queue_is_by_sector_and_oldest_first(client):
    await import_kb(client, [{"question": QUESTION, "answer": ANSWER, "sector": "vendas"}])
    older = await post(client, "Meu pedido não chegou", "vendas")
    newer = await post(client, "Qual o prazo de entrega para o Nordeste?", "vendas")
    other = await post(client, "Esqueci minha senha", "suporte")
    for created in (older, newer, other):
        await wait_until_triaged(client, created["id"])
    await client.post(f"{API}/operator/messages/{older['id']}/approve", json={"answer": "Ok."})
    done_id = older["id"]

    response = await client.get(f"{API}/operator/queue", params={"sector": "vendas"})
    page = await response.json()
    assert [m["id"] for m in page["items"]] == [newer["id"]]  # approved and kb rows left out
    assert done_id not in [m["id"] for m in page["items"]]
    response = await client.get(f"{API}/operator/queue")
    assert [m["id"] for m in (await response.json())["items"]] == [newer["id"], other["id"]]
    response = await client.get(f"{API}/operator/queue", params={"sector": "nada"})
    assert response.status == 404


async def test_messages_waiting_past_the_response_target_are_marked_and_counted(client, db_url):
    # The target is 15 minutes by default: two messages received 20 and 16 minutes ago
    # are late, one of 14 minutes is not, nor one its sector answered by itself (it waits
    # for review, not for an answer), nor one answered by a human long ago.
    waiting = {}
    for text, sector, minutes in [
        ("Meu pedido não chegou", "vendas", 20),
        ("Esqueci minha senha", "suporte", 16),
        ("Qual o prazo de entrega para o Nordeste?", "vendas", 14),
        ("O app fecha sozinho", "suporte", 30),
        ("Quero trocar o produto", "vendas", 60),
    ]:
        created = await wait_until_triaged(client, (await post(client, text, sector))["id"])
        waiting[created["id"]] = minutes
        await run_sql(
            db_url,
            "UPDATE chat_interactions SET created_at = now() - make_interval(mins => :m)"
            " WHERE id = :id",
            m=minutes,
            id=created["id"],
        )
    auto_sent = next(i for i, minutes in waiting.items() if minutes == 30)
    await run_sql(  # as a sector's auto-send leaves it: suggested, and answered
        db_url,
        "UPDATE chat_interactions SET validated_by = 'ai', answer = 'Atualize o app.',"
        " answered_at = created_at + interval '1 second' WHERE id = :id",
        id=auto_sent,
    )
    answered = max(waiting)
    response = await client.put(
        f"{API}/messages/{answered}", json={"answer": "Ok.", "validated_by": "human"}
    )
    assert response.status == 200, await response.text()

    page = await (await client.get(f"{API}/operator/queue")).json()
    assert page["response_target_seconds"] == 900
    assert page["late"] == 2
    assert [(waiting[m["id"]], m["late"]) for m in page["items"]] == [
        (30, False),
        (20, True),
        (16, True),
        (14, False),
    ]
    # The count is the whole queue's of the sector asked, not only the page's.
    page = await (
        await client.get(f"{API}/operator/queue", params={"sector": "vendas", "per_page": 1})
    ).json()
    assert (page["total"], page["late"], len(page["items"])) == (2, 1, 1)
    page = await (await client.get(f"{API}/operator/queue", params={"sector": "suporte"})).json()
    assert page["late"] == 1


KNOWN = [
    {"question": QUESTION, "answer": ANSWER, "sector": "vendas"},
    {
        "question": "Como tiro a segunda via do boleto?",
        "answer": "A segunda via do boleto está em Minha conta > Pagamentos.",
        "sector": "financeiro",
    },
    {
        "question": "Esqueci minha senha, como recupero?",
        "answer": "Use 'Esqueci minha senha' na tela de entrada e siga o e-mail.",
        "sector": "suporte",
    },
]


async def test_the_answers_ranked_for_a_message_are_those_its_suggestion_came_from(client):
    await import_kb(client, KNOWN)
    source = (await kb_ids(client, [QUESTION]))[QUESTION]
    # Routed, not given a sector: every sector's answers vote.
    created = await post(client, "qual o prazo de entrega pro nordeste?")
    suggested = await wait_until_triaged(client, created["id"])
    assert suggested["answer"] == ANSWER

    url = f"{API}/operator/messages/{created['id']}/answers"
    body = await (await client.get(url)).json()
    assert body["message"]["id"] == created["id"]
    first = body["items"][0]
    assert (first["answer"], first["sector"], first["source_ids"]) == (ANSWER, "vendas", [source])
    # Weighed as the pipeline weighed it, against the same history.
    suggestion = suggested["suggestion"]
    assert body["confidence"] == round(suggestion["confidence"], 4)
    assert body["min_confidence"] == suggestion["min_confidence"]
    assert first["similarity"] == round(suggestion["similarity"], 4)
    answers = [item["answer"] for item in body["items"]]
    assert len(answers) == len(set(answers)) == 3  # every known answer, once

    one = await (await client.get(url, params={"limit": 1})).json()
    assert [item["answer"] for item in one["items"]] == [ANSWER]
    for bad in ("0", "11", "três"):
        response = await client.get(url, params={"limit": bad})
        assert response.status == 422
        assert (await response.json())["error"]["details"][0]["field"] == "limit"
    response = await client.get(f"{API}/operator/messages/424242/answers")
    assert response.status == 404

    # A sector that came with the message is evidence, as in the pipeline: only its own
    # answers vote when one of them is near enough.
    given = await post(client, "qual o prazo de entrega pro nordeste?", "vendas")
    await wait_until_triaged(client, given["id"])
    url = f"{API}/operator/messages/{given['id']}/answers"
    body = await (await client.get(url)).json()
    assert [item["answer"] for item in body["items"]] == [ANSWER]


async def test_a_message_below_the_bar_still_gets_the_answers_ranked(client):
    await import_kb(client, KNOWN)
    created = await post(client, "Bom dia, tudo bem com vocês?")
    triaged = await wait_until_triaged(client, created["id"])
    assert triaged["suggestion"] is None

    url = f"{API}/operator/messages/{created['id']}/answers"
    body = await (await client.get(url)).json()
    # Nothing cleared the bar, yet an operator answering by hand sees what is known.
    assert {item["answer"] for item in body["items"]} == {pair["answer"] for pair in KNOWN}
    # And its figures say why the pipeline suggested none: under one bar or the other.
    candidates = await client.get(f"{API}/operator/messages/{created['id']}/candidates")
    floor = (await candidates.json())["threshold"]
    confidence, first = body["confidence"], body["items"][0]
    assert confidence < body["min_confidence"] or first["similarity"] < floor


async def test_candidates_of_an_unknown_message_is_404(client):
    response = await client.get(f"{API}/operator/messages/424242/candidates")
    assert response.status == 404


async def test_latency_covers_the_messages_of_its_window(client, db_url):
    first = await post(client, "Oi", "geral")
    second = await post(client, "Quero cancelar meu pedido", "vendas")
    for message in (first, second):
        await wait_until_triaged(client, message["id"])
    stats = await (await client.get(f"{API}/pipeline/latency")).json()
    assert stats["minutes"] == 60
    assert stats["count"] == 2
    assert 0 < stats["p50_ms"] <= stats["p95_ms"] <= stats["p99_ms"]

    # The first message was received two hours ago: outside the default hour.
    await run_sql(
        db_url,
        "UPDATE chat_interactions SET created_at = now() - interval '2 hours', pipeline_ms = 7 "
        "WHERE id = :id",
        id=first["id"],
    )
    stats = await (await client.get(f"{API}/pipeline/latency")).json()
    assert stats["count"] == 1
    assert stats["p50_ms"] != 7
    stats = await (await client.get(f"{API}/pipeline/latency", params={"minutes": 180})).json()
    assert (stats["minutes"], stats["count"]) == (180, 2)

    for bad in ("0", "43201", "an hour"):
        response = await client.get(f"{API}/pipeline/latency", params={"minutes": bad})
        assert response.status == 422
        assert "minutes" in await response.text()


async def test_openapi_documents_the_operator_routes(client):
    spec = await (await client.get("/openapi.json")).json()
    assert {
        f"{API}/operator/queue",
        f"{API}/operator/messages/{{id}}/candidates",
        f"{API}/operator/messages/{{id}}/answers",
        f"{API}/operator/messages/{{id}}/approve",
        f"{API}/operator/messages/{{id}}/reject",
        f"{API}/admin/kb/import",
        f"{API}/pipeline/latency",
    } <= set(spec["paths"])
