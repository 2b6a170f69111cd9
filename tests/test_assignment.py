"""Assignment over the REST API: take, release, transfer, and who may act on a taken
message. Two operators are two keys of the operator role, as in the console."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

from gateway.services.activity import ASSIGNED
from tests.conftest import bearer, issue_key, run_sql
from tests.routing_helpers import API, CLIENT, import_kb, post, wait_until_triaged
from tests.test_console import next_event, open_stream

QUESTION = "Qual é o prazo de entrega para o Nordeste?"
ANSWER = "Para o Nordeste a entrega leva de 5 a 8 dias úteis."


async def operator(client, settings, name: str) -> dict[str, str]:
    return bearer(await issue_key(settings.async_database_url or "", "operator", name=name))


async def suggested(client) -> dict:
    await import_kb(client, [{"question": QUESTION, "answer": ANSWER, "sector": "vendas"}])
    created = await post(client, "Qual o prazo de entrega pro Nordeste?", "vendas")
    body = await wait_until_triaged(client, created["id"])
    assert body["validated_by"] == "ai", body
    return body


def url(message_id: int, action: str) -> str:
    return f"{API}/operator/messages/{message_id}/{action}"


async def error_of(response, status: int) -> str:
    assert response.status == status, await response.text()
    return (await response.json())["error"]["message"]


async def test_a_taken_message_is_the_holder_s_until_approved(client, settings):
    ana = await operator(client, settings, "key-ana")
    bia = await operator(client, settings, "key-bia")
    message = await suggested(client)
    mid = message["id"]

    response = await client.post(url(mid, "take"), json={"operator_name": "Ana"}, headers=ana)
    assert response.status == 200, await response.text()
    taken = await response.json()
    assert taken["assigned_to"] == "Ana"
    assert taken["assigned_at"] is not None
    assert datetime.fromisoformat(taken["updated_at"]) > datetime.fromisoformat(
        message["updated_at"]
    )

    # The others see it taken in their queue, with how long it has waited.
    queue = await (await client.get(f"{API}/operator/queue", headers=bia)).json()
    [item] = [i for i in queue["items"] if i["id"] == mid]
    assert item["assigned_to"] == "Ana"
    assert item["assigned_at"] == taken["assigned_at"]
    assert item["waiting_seconds"] >= 0

    # Taking it again yourself is fine and changes nothing.
    again = await client.post(url(mid, "take"), json={"operator_name": "Ana"}, headers=ana)
    assert again.status == 200
    assert (await again.json())["assigned_at"] == taken["assigned_at"]

    # Someone else: taking, approving, rejecting, answering, releasing are all refused,
    # naming the holder.
    refused = [
        client.post(url(mid, "take"), json={"operator_name": "Bia"}, headers=bia),
        client.post(url(mid, "approve"), json={"operator_name": "Bia"}, headers=bia),
        client.post(url(mid, "reject"), json={"operator_name": "Bia"}, headers=bia),
        client.post(url(mid, "release"), json={"operator_name": "Bia"}, headers=bia),
        client.post(url(mid, "transfer"), json={"sector": "suporte"}, headers=bia),
        client.put(
            f"{API}/messages/{mid}",
            json={"answer": "Outra.", "validated_by": "human", "operator_name": "Bia"},
            headers=bia,
        ),
    ]
    for request in refused:
        response = await request
        assert "Ana" in await error_of(response, 409)
        assert (await response.json())["error"]["code"] == "conflict"
    stored = await (await client.get(f"{API}/messages/{mid}")).json()
    assert (stored["validated_by"], stored["answer"], stored["assigned_to"]) == (
        "ai",
        ANSWER,
        "Ana",
    )

    # The holder approves: the assignment ends with the wait.
    response = await client.post(url(mid, "approve"), json={"operator_name": "Ana"}, headers=ana)
    assert response.status == 200, await response.text()
    approved = await response.json()
    assert (approved["validated_by"], approved["assigned_to"], approved["assigned_at"]) == (
        "human",
        None,
        None,
    )
    # Answered: nobody can take it any more, and a second approval is still a 409.
    message = await error_of(
        await client.post(url(mid, "take"), json={"operator_name": "Bia"}, headers=bia), 409
    )
    assert "already answered by Ana" in message
    await error_of(await client.post(url(mid, "approve"), json={}, headers=ana), 409)


async def test_without_a_name_the_key_s_name_holds_it(client, settings):
    caio = await operator(client, settings, "caio")
    message = await post(client, "Meu boleto venceu, ainda posso pagar?")
    response = await client.post(url(message["id"], "take"), headers=caio)
    assert response.status == 200, await response.text()
    assert (await response.json())["assigned_to"] == "caio"
    # The same key signed in under a name is someone else.
    response = await client.post(
        url(message["id"], "approve"),
        json={"answer": "Pode sim.", "operator_name": "Dani"},
        headers=caio,
    )
    assert "caio" in await error_of(response, 409)


async def test_release_is_the_holder_s_or_an_admin_s(client, settings):
    ana = await operator(client, settings, "key-ana")
    bia = await operator(client, settings, "key-bia")
    mid = (await post(client, "Quero cancelar meu pedido."))["id"]

    await client.post(url(mid, "take"), json={"operator_name": "Ana"}, headers=ana)
    response = await client.post(url(mid, "release"), json={"operator_name": "Ana"}, headers=ana)
    assert response.status == 200, await response.text()
    assert (await response.json())["assigned_to"] is None
    # Released: the next one takes it.
    response = await client.post(url(mid, "take"), json={"operator_name": "Bia"}, headers=bia)
    assert (await response.json())["assigned_to"] == "Bia"
    # Releasing a message nobody holds, or one held by someone else.
    await error_of(
        await client.post(url(mid, "release"), json={"operator_name": "Ana"}, headers=ana), 409
    )
    # An admin (the test client's key) may release anyone's, and answer over them.
    response = await client.post(url(mid, "release"))
    assert (await response.json())["assigned_to"] is None
    await client.post(url(mid, "take"), json={"operator_name": "Bia"}, headers=bia)
    response = await client.post(url(mid, "approve"), json={"answer": "Cancelado."})
    assert response.status == 200, await response.text()
    body = await response.json()
    assert (body["validated_by"], body["assigned_to"]) == ("human", None)
    free = await client.post(url(mid, "release"), json={"operator_name": "Ana"}, headers=ana)
    assert free.status == 200  # nobody holds it: nothing to release


async def test_rejecting_ends_the_assignment(client, settings):
    ana = await operator(client, settings, "key-ana")
    mid = (await suggested(client))["id"]
    await client.post(url(mid, "take"), json={"operator_name": "Ana"}, headers=ana)
    response = await client.post(url(mid, "reject"), json={"operator_name": "Ana"}, headers=ana)
    assert response.status == 200, await response.text()
    body = await response.json()
    assert (body["validated_by"], body["assigned_to"]) == ("pending", None)


async def test_transfer_moves_the_message_to_another_sector_s_queue(client, settings):
    ana = await operator(client, settings, "key-ana")
    mid = (await wait_until_triaged(client, (await post(client, QUESTION, "vendas"))["id"]))["id"]
    await client.post(url(mid, "take"), json={"operator_name": "Ana"}, headers=ana)

    response = await client.post(
        url(mid, "transfer"), json={"sector": "nowhere", "operator_name": "Ana"}, headers=ana
    )
    assert response.status == 422
    error = (await response.json())["error"]
    assert [d["field"] for d in error["details"]] == ["sector"]
    assert "financeiro" in error["message"]  # names the sectors that exist
    response = await client.post(url(mid, "transfer"), json={}, headers=ana)
    assert response.status == 422
    assert [d["field"] for d in (await response.json())["error"]["details"]] == ["sector"]

    response = await client.post(
        url(mid, "transfer"), json={"sector": "financeiro", "operator_name": "Ana"}, headers=ana
    )
    assert response.status == 200, await response.text()
    moved = await response.json()
    assert (moved["sector"], moved["assigned_to"], moved["sector_confidence"]) == (
        "financeiro",
        None,
        None,
    )
    assert moved["route_reason"] == {"method": "transfer", "from": "vendas", "by": "Ana"}
    queue = await (await client.get(f"{API}/operator/queue?sector=financeiro")).json()
    assert [i["id"] for i in queue["items"]] == [mid]
    queue = await (await client.get(f"{API}/operator/queue?sector=vendas")).json()
    assert mid not in [i["id"] for i in queue["items"]]

    response = await client.post(url(mid, "transfer"), json={"sector": "vendas"})
    assert response.status == 200  # nobody holds it now: anyone may move it back
    await client.put(f"{API}/messages/{mid}", json={"answer": "Oi.", "validated_by": "human"})
    await error_of(await client.post(url(mid, "transfer"), json={"sector": "suporte"}), 409)


async def test_unknown_message_is_a_404(client):
    for action in ("take", "release"):
        await error_of(await client.post(url(999_999, action)), 404)
    await error_of(await client.post(url(999_999, "transfer"), json={"sector": "vendas"}), 404)


async def test_of_operators_taking_at_once_exactly_one_wins(client, settings):
    names = ["Ana", "Bia", "Caio", "Dani", "Edu"]
    headers = [await operator(client, settings, f"key-{name}") for name in names]
    mids = [(await post(client, f"Preciso de ajuda com o pedido {n}."))["id"] for n in range(4)]
    for mid in mids:
        answers = await asyncio.gather(
            *(
                client.post(url(mid, "take"), json={"operator_name": name}, headers=h)
                for name, h in zip(names, headers, strict=True)
            )
        )
        statuses = [a.status for a in answers]
        assert sorted(statuses) == [200] + [409] * (len(names) - 1), statuses
        winner = names[statuses.index(200)]
        stored = await (await client.get(f"{API}/messages/{mid}")).json()
        assert stored["assigned_to"] == winner
        for answer, name in zip(answers, names, strict=True):
            if answer.status == 409:
                assert winner in (await answer.json())["error"]["message"], name


async def test_the_live_feed_tells_taking_and_releasing(client, settings):
    key = await issue_key(settings.async_database_url or "", "operator", name="key-ana")
    mid = (await post(client, "Quero trocar o endereço de entrega."))["id"]
    await wait_until_triaged(client, mid)
    stream = await open_stream(client, key)
    try:
        await client.post(url(mid, "take"), json={"operator_name": "Ana"}, headers=bearer(key))
        taken = await next_event(stream, ASSIGNED, mid)
        assert taken["message"]["assigned_to"] == "Ana"
        await client.post(url(mid, "release"), json={"operator_name": "Ana"}, headers=bearer(key))
        released = await next_event(stream, ASSIGNED, mid)
        assert released["message"]["assigned_to"] is None
    finally:
        stream.close()


async def test_the_console_config_says_its_language_without_a_key(client, settings, aiohttp_client):
    from config.settings import ConsoleLanguage
    from gateway.app import create_app

    response = await client.get("/console/config.json", headers={"Authorization": ""})
    assert response.status == 200
    assert await response.json() == {"language": "pt-BR"}
    english = await aiohttp_client(
        create_app(settings.model_copy(update={"console_language": ConsoleLanguage.EN}))
    )
    assert await (await english.get("/console/config.json")).json() == {"language": "en"}


async def test_a_key_says_who_it_is_and_whether_it_is_an_admins(client, settings):
    db = settings.async_database_url or ""
    for role in ("operator", "admin"):
        headers = bearer(await issue_key(db, role, name=f"key-{role}"))
        response = await client.get(f"{API}/operator/me", headers=headers)
        assert response.status == 200, await response.text()
        assert await response.json() == {"name": f"key-{role}", "role": role}
    integrator = bearer(await issue_key(db, "integrator", name="erp"))
    response = await client.get(f"{API}/operator/me", headers=integrator)
    assert response.status == 403
    response = await client.get(f"{API}/operator/me", headers=bearer("atd_not-a-key"))
    assert response.status == 401


async def test_the_queue_of_what_one_operator_holds_or_of_what_nobody_holds(client, settings):
    db = settings.async_database_url or ""
    ana = await operator(client, settings, "key-ana")
    ids = [(await post(client, text, "suporte"))["id"] for text in ("um", "dois", "três", "quatro")]
    for mid, name in ((ids[0], "Ana"), (ids[2], "Bia")):
        body = {"operator_name": name}
        assert (await client.post(url(mid, "take"), json=body, headers=ana)).status == 200
    await run_sql(
        db,
        f"UPDATE chat_interactions SET created_at = now() - interval '1 hour' "
        f"WHERE id IN ({ids[0]}, {ids[1]})",
    )

    async def listed(**params) -> tuple[list[int], int, int]:
        response = await client.get(f"{API}/operator/queue", params=params, headers=ana)
        assert response.status == 200, await response.text()
        page = await response.json()
        return [i["id"] for i in page["items"]], page["total"], page["late"]

    assert await listed() == (ids, 4, 2)
    assert await listed(held_by="Ana") == ([ids[0]], 1, 1)
    assert await listed(held_by="Bia", sector="suporte") == ([ids[2]], 1, 0)
    assert await listed(held_by="Caio") == ([], 0, 0)
    assert await listed(free="true") == ([ids[1], ids[3]], 2, 1)
    assert await listed(free="true", sector="vendas") == ([], 0, 0)

    for params in ({"free": "true", "held_by": "Ana"}, {"free": "talvez"}):
        response = await client.get(f"{API}/operator/queue", params=params, headers=ana)
        assert response.status == 422, await response.text()
        error = (await response.json())["error"]
        assert [d["field"] for d in error["details"]] == ["free"], error


async def test_the_queue_of_one_customer_holds_all_their_waiting_lines(client, settings):
    ana = await operator(client, settings, "key-ana")
    other = str(uuid.uuid4())
    theirs = [(await post(client, f"linha {i}", "suporte"))["id"] for i in range(12)]
    response = await client.post(
        f"{API}/messages/", json={"client_id": other, "message": "outro", "sector": "vendas"}
    )
    assert response.status == 201
    answered = theirs.pop(0)
    body = {"answer": "Resolvido.", "validated_by": "human"}
    assert (await client.put(f"{API}/messages/{answered}", json=body)).status == 200

    async def listed(**params) -> tuple[list[int], int]:
        response = await client.get(f"{API}/operator/queue", params=params, headers=ana)
        assert response.status == 200, await response.text()
        page = await response.json()
        return [i["id"] for i in page["items"]], page["total"]

    # More than the history's latest ten, across pages, oldest first; the answered one is
    # not waiting, and the other customer's line is not theirs.
    assert await listed(client_id=CLIENT, per_page=100) == (theirs, 11)
    assert await listed(client_id=CLIENT, per_page=5) == (theirs[:5], 11)
    assert await listed(client_id=CLIENT, sector="vendas") == ([], 0)
    assert (await listed(client_id=other))[1] == 1
    response = await client.get(
        f"{API}/operator/queue", params={"client_id": "not-a-uuid"}, headers=ana
    )
    assert response.status == 422
    error = (await response.json())["error"]
    assert [d["field"] for d in error["details"]] == ["client_id"], error
