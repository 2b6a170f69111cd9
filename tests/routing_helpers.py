"""Helpers shared by the routing, suggestion and operator tests."""

from __future__ import annotations

import asyncio

API = "/api/v1"
CLIENT = "5b1f0d3e-3c55-4c52-9a57-1d2b7e0f4a10"


async def post(client, message: str, sector: str | None = None) -> dict:
    body = {"client_id": CLIENT, "message": message}
    if sector is not None:
        body["sector"] = sector
    response = await client.post(f"{API}/messages/", json=body)
    assert response.status == 201, await response.text()
    return await response.json()


async def wait_until_triaged(client, interaction_id: int, within: float = 30.0) -> dict:
    """Poll the API until the worker has routed and suggested for the message."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        response = await client.get(f"{API}/messages/{interaction_id}")
        body = await response.json()
        if body.get("pipeline_ms") is not None:
            return body
        if loop.time() > deadline:
            raise AssertionError(f"message {interaction_id} was not triaged in {within}s")
        await asyncio.sleep(0.05)


async def import_kb(client, items: list[dict]) -> dict:
    response = await client.post(f"{API}/admin/kb/import", json={"items": items})
    assert response.status == 200, await response.text()
    return await response.json()


async def kb_ids(client, questions: list[str]) -> dict[str, int]:
    """The ids of imported pairs, by question, found through the search route."""
    ids = {}
    for question in questions:
        response = await client.post(
            f"{API}/messages/search",
            json={"query": question, "limit": 1, "similarity_threshold": 0.99},
        )
        [hit] = (await response.json())["items"]
        assert hit["message"] == question
        ids[question] = hit["id"]
    return ids
