"""What each operator did, in the analytics, from actions taken over the REST API as the
console takes them: approving unchanged, editing, rejecting, writing an answer, closing."""

from __future__ import annotations

import csv
import io

from tests.routing_helpers import API, import_kb, post, wait_until_triaged

QUESTION = "Qual é o prazo de entrega para o Nordeste?"
ANSWER = "Para o Nordeste a entrega leva de 5 a 8 dias úteis."


async def suggested(client, text: str) -> int:
    created = await post(client, text, "vendas")
    body = await wait_until_triaged(client, created["id"])
    assert body["validated_by"] == "ai", body
    return body["id"]


async def ok(response) -> None:
    assert response.status == 200, await response.text()


async def test_each_operators_answers_reviews_and_closes_are_counted(client):
    await import_kb(client, [{"question": QUESTION, "answer": ANSWER, "sector": "vendas"}])
    ids = [await suggested(client, f"Qual o prazo de entrega pro Nordeste? {n}") for n in "abc"]
    by = {"Ana": {"operator_name": "Ana"}, "Bia": {"operator_name": "Bia"}}

    await ok(await client.post(f"{API}/operator/messages/{ids[0]}/approve", json=by["Ana"]))
    edited = {**by["Bia"], "answer": "De 5 a 8 dias úteis para o Nordeste, Maria."}
    await ok(await client.post(f"{API}/operator/messages/{ids[1]}/approve", json=edited))
    await ok(await client.post(f"{API}/operator/messages/{ids[2]}/reject", json=by["Ana"]))
    written = {**by["Ana"], "answer": "Chega em até 8 dias úteis.", "validated_by": "human"}
    await ok(await client.put(f"{API}/messages/{ids[2]}", json=written))
    thanks = await post(client, "valeu!", "geral")
    closing = {**by["Bia"], "reason": "no_reply_needed"}
    await ok(await client.post(f"{API}/operator/messages/{thanks['id']}/close", json=closing))

    response = await client.get(f"{API}/analytics")
    await ok(response)
    people = {p["name"]: p for p in (await response.json())["operators"]}
    assert set(people) == {"Ana", "Bia"}
    figures = ("answered", "approved", "edited", "rejected", "closed")
    assert {f: people["Ana"][f] for f in figures} == {
        "answered": 2,
        "approved": 1,
        "edited": 0,
        "rejected": 1,
        "closed": 0,
    }
    assert {f: people["Bia"][f] for f in figures} == {
        "answered": 1,
        "approved": 0,
        "edited": 1,
        "rejected": 0,
        "closed": 1,
    }
    assert people["Ana"]["p50_response_seconds"] >= 0
    # Most answers first.
    assert [p["name"] for p in (await response.json())["operators"]] == ["Ana", "Bia"]

    response = await client.get(f"{API}/analytics.csv")
    rows = list(csv.reader(io.StringIO(await response.text())))
    assert [r[-2:] for r in rows if r[0] == "operator_answered"] == [["Ana", "2"], ["Bia", "1"]]
    assert [r[-2:] for r in rows if r[0] == "operator_closed"] == [["Ana", "0"], ["Bia", "1"]]
