"""`atende eval --reviews SPLIT`: the decision after operators worked through a stream.

The default figures score a history frozen before any operator reviewed anything, so they
cannot show what atende learns from its operators. With `--reviews`, the rows of another
split of the same file arrive first, as customers' messages, in a fixed shuffled order and
in batches, through the gateway's own path: stored as REST messages, embedded, routed and
given a suggestion by the pipeline worker, then reviewed through the operator service as
an operator who knows each row's label would:

- a right suggestion is approved (it joins the validated history at once);
- a wrong one is rejected (the rejection lowers that answer for similar messages), and the
  right answer written instead (which joins the history too);
- a message with no suggestion gets the right answer written by hand;
- a suggestion made to an out-of-scope message is rejected, and nothing is written.

Messages of the intents the split leaves out are not in the stream: those intents stay
unanswered, so the missing-intent silence still measures what nothing validated answers.
Once the stream is done, the model is re-fitted and each sector's bar set from the reviews,
as `atende calibrate --apply` would, and the split's questions are asked as usual.

That measures "after a stretch of reviews" on a larger history; it is reported as its own
row, never as the default decision's figures.

`--reviews history` takes the stream from the evaluated split itself, for data with one
split (and for tuning on `dev` alone): half of each answer's history rows, and half of the
out-of-scope messages, arrive as reviews instead of being loaded or asked. The history at
the end is then the one the default run starts from, so the two differ only in what the
reviews did (the rejections, and the bars `atende calibrate` set from them).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.sectors import SectorCatalog
from config.settings import Settings
from gateway.embeddings import Embedder
from gateway.evaluation.data import Example, stratified_split
from gateway.schemas.messages import MessageCreate
from gateway.services.assignments import Actor
from gateway.services.calibration import (
    DAYS,
    MIN_REVIEWS,
    TARGET,
    calibrate_from_database,
    store_calibration,
)
from gateway.services.embedding import EmbeddingWorker
from gateway.services.messages import MessageService
from gateway.services.operators import OperatorService
from gateway.services.pipeline import build_pipeline
from gateway.services.suggestions import Calibration, SuggestionMaker
from storage.answer_vectors import AnswerVectorRepository
from storage.repositories import MessageRepository, MetaRepository
from storage.reviews import ReviewRepository, answer_key
from storage.routing import RoutingRepository

# `--reviews history`: the stream comes from the evaluated split's own history.
OWN_HISTORY = "history"
# Messages that arrive between two rounds of reviews: later ones are weighed against
# what operators approved and rejected in the rounds before.
ROUND = 32
OPERATOR = Actor(name="eval-operator")


@dataclass
class ReviewTally:
    """What the simulated operator did with the stream."""

    split: str
    arrived: int = 0
    approved: int = 0  # right suggestions, approved as they were
    corrected: int = 0  # wrong suggestions, rejected and answered right
    written: int = 0  # no suggestion: answered by hand
    rejected_out_of_scope: int = 0
    ignored_out_of_scope: int = 0
    # The bar each sector got from the reviews (`atende calibrate`'s rule); a sector with
    # too few reviews keeps the model's own and is not named.
    sector_bars: dict[str, float] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return dict(self.__dict__)


def review_stream(
    reviewed: Sequence[Example], questions: Sequence[Example], seed: int
) -> list[Example]:
    """The rows the operator reviews: the other split's, less the intents left out of
    this one, in an order fixed by the seed."""
    left_out = {e.intent for e in questions if e.missing}
    stream = [e for e in reviewed if e.out_of_scope or (e.intent and e.intent not in left_out)]
    random.Random(seed).shuffle(stream)
    return stream


def stream_from_history(
    history: Sequence[Example], questions: Sequence[Example], seed: int
) -> tuple[list[Example], list[Example], list[Example]]:
    """History, questions and review stream for `--reviews history`: half of each label's
    history rows and half of the out-of-scope questions move to the stream."""
    kept, arriving = stratified_split(list(history), 0.5, seed)
    out = [e for e in questions if e.out_of_scope]
    random.Random(seed).shuffle(out)
    moved = out[: len(out) // 2]
    gone = {id(e) for e in moved}
    asked = [e for e in questions if id(e) not in gone]
    stream = arriving + moved
    random.Random(seed).shuffle(stream)
    return kept, asked, stream


async def run_reviews(
    settings: Settings,
    catalog: SectorCatalog,
    sessions: async_sessionmaker[AsyncSession],
    embedder: Embedder,
    maker: SuggestionMaker,
    stream: Sequence[Example],
    *,
    split: str,
    refit: bool = True,
    progress: Callable[[str, int, int], None] = lambda stage, done, total: None,
) -> tuple[ReviewTally, dict[int, Example]]:
    """Review `stream` against the scratch database's history, then calibrate on it (the
    sectors' bars only, without `refit`, as `atende calibrate --keep-model`); the `maker`
    takes the calibration. Returns the tally and the rows that joined the validated
    history, by id."""
    meta = MetaRepository(sessions)
    # The pipeline reads what `atende calibrate --apply` stored, as in the gateway.
    await store_calibration(meta, maker.calibration)
    pipeline = build_pipeline(settings, catalog, sessions, embedder)
    repository = MessageRepository(sessions)
    messages = MessageService(
        repository, catalog, embedder, max_message_chars=settings.max_message_chars
    )
    worker = EmbeddingWorker(
        sessions, repository, embedder, batch_size=settings.embedding_batch_size, pipeline=pipeline
    )
    operators = OperatorService(messages, RoutingRepository(sessions), pipeline.suggestions)
    tally = ReviewTally(split=split, arrived=len(stream))
    validated: dict[int, Example] = {}
    await pipeline.refresh_calibration(force=True)
    for start in range(0, len(stream), ROUND):
        batch = stream[start : start + ROUND]
        rows = [
            await messages.create(MessageCreate(client_id=uuid.uuid4(), message=e.text))
            for e in batch
        ]
        await worker.drain()
        for row, example in zip(rows, batch, strict=True):
            if await _review(operators, messages, row.id, example, tally):
                validated[row.id] = example
        progress("reviews", min(start + ROUND, len(stream)), len(stream))
    report = await calibrate_from_database(
        maker,
        ReviewRepository(sessions),
        embedder,
        AnswerVectorRepository(sessions),
        sectors=catalog.names,
        days=DAYS,  # as `atende calibrate` by default
        target=TARGET,
        min_reviews=MIN_REVIEWS,
        refit=refit,
    )
    after: Calibration = report.after
    maker.calibration = after
    tally.sector_bars = dict(sorted(after.sector_thresholds.items()))
    return tally, validated


async def _review(
    operators: OperatorService,
    messages: MessageService,
    interaction_id: int,
    example: Example,
    tally: ReviewTally,
) -> bool:
    """One review as an operator who knows the label; True when the row joined the
    validated history."""
    row = await messages.get(interaction_id)
    suggested = row.validated_by == "ai" and bool(row.answer)
    if example.out_of_scope:
        if suggested:
            await operators.reject(interaction_id, actor=OPERATOR)
            tally.rejected_out_of_scope += 1
        else:
            tally.ignored_out_of_scope += 1
        return False
    right = example.validated_answer
    if suggested and answer_key(row.answer or "") == answer_key(right):
        await operators.approve(
            interaction_id, answer=None, operator_name=OPERATOR.name, actor=OPERATOR
        )
        tally.approved += 1
        return True
    if suggested:
        await operators.reject(interaction_id, actor=OPERATOR)
        tally.corrected += 1
    else:
        tally.written += 1
    await operators.approve(
        interaction_id, answer=right, operator_name=OPERATOR.name, actor=OPERATOR
    )
    return True
