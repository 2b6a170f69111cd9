"""Operator, knowledge-base and pipeline routes: parse, call a service, shape the response."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web
from pydantic import BaseModel

from gateway.http import keys
from gateway.http.access import PRINCIPAL
from gateway.http.assignments import actor_of, message_action
from gateway.http.operations import MESSAGE_ID, Handler, Operation, allow
from gateway.http.parsing import parse_body, parse_query, path_int, text_content
from gateway.http.responses import json_model
from gateway.schemas.messages import MessageOut, MessagePage
from gateway.schemas.operators import (
    AnswerList,
    AnswersQuery,
    ApprovedOut,
    ApproveRequest,
    AssignmentRequest,
    CandidateList,
    CandidateOut,
    CandidatesQuery,
    KnowledgeImportRequest,
    KnowledgeImportResult,
    OperatorIdentity,
    PipelineLatency,
    PipelineLatencyQuery,
    QueueItem,
    QueuePage,
    QueueQuery,
    RankedAnswerOut,
    TogetherOutcome,
)
from gateway.services.access import Role
from gateway.services.assignments import Together
from gateway.services.knowledge import KnowledgePair

# Raw files may be sent as they are, besides the JSON form.
_FILE_TYPES = {"text/csv": "csv", "application/x-ndjson": "jsonl", "application/jsonl": "jsonl"}


async def identity(request: web.Request) -> web.Response:
    principal = request[PRINCIPAL]
    return json_model(OperatorIdentity(name=principal.name, role=principal.role.value))


async def queue(request: web.Request) -> web.Response:
    query = parse_query(request, QueueQuery)
    # Every open console reads the queue after each live event: the reads of one page
    # asked at once are made once (shared_reads), each after its callers asked.
    key = tuple(sorted(query.model_dump(mode="json").items()))
    body = await request.app[keys.QUEUE_READS].read(key, lambda: _queue_page(request, query))
    return web.Response(body=body, content_type="application/json")


async def _queue_page(request: web.Request, query: QueueQuery) -> bytes:
    target = request.app[keys.SETTINGS].response_target
    now = datetime.now(UTC)
    found = await request.app[keys.OPERATORS].queue(
        sector=query.sector,
        page=query.page,
        per_page=query.per_page,
        late_before=now - target,
        held_by=query.held_by,
        free=query.free,
        client_id=query.client_id,
    )
    items = [
        QueueItem(
            **MessageOut.of(r).model_dump(),
            waiting_seconds=round(max(0.0, (now - r.created_at).total_seconds()), 1),
            late=r.answered_at is None and r.created_at < now - target,
        )
        for r in found.items
    ]
    paged = dict(MessagePage.of(items, found.total, query))  # type: ignore[arg-type]
    return (
        QueuePage(
            **{**paged, "items": items},
            late=found.tallied,  # the open queue's tally: past the target, unanswered
            response_target_seconds=int(target.total_seconds()),
        )
        .model_dump_json()
        .encode()
    )


async def candidates(request: web.Request) -> web.Response:
    query = parse_query(request, CandidatesQuery)
    ranked = await request.app[keys.OPERATORS].candidates(
        path_int(request, "id"), limit=query.limit
    )
    items = [
        CandidateOut(
            id=c.neighbour.id,
            sector=c.neighbour.sector,
            message=c.neighbour.message,
            answer=c.neighbour.answer or "",
            # The cosine, which the threshold beside it reads (a calibrated projection
            # may rank them otherwise: they come in its order).
            similarity=round(c.neighbour.cosine, 4),
            same_sector=c.same_sector,
            above_threshold=c.above_threshold,
        )
        for c in ranked.candidates
    ]
    return json_model(
        CandidateList(
            message=MessageOut.of(ranked.message), threshold=ranked.threshold, items=items
        )
    )


async def answers(request: web.Request) -> web.Response:
    query = parse_query(request, AnswersQuery)
    ranked = await request.app[keys.OPERATORS].answers(path_int(request, "id"), limit=query.limit)
    items = [
        RankedAnswerOut(
            answer=a.answer,
            sector=a.sector,
            similarity=round(a.similarity, 4),
            source_ids=a.source_ids,
        )
        for a in ranked.answers
    ]
    return json_model(
        AnswerList(
            message=MessageOut.of(ranked.message),
            confidence=None if ranked.confidence is None else round(ranked.confidence, 4),
            min_confidence=ranked.min_confidence,
            items=items,
        )
    )


async def approve(request: web.Request) -> web.Response:
    interaction_id = path_int(request, "id")
    body = await parse_body(request, ApproveRequest) if request.can_read_body else ApproveRequest()
    actor = actor_of(request, body.operator_name)
    together = Together(body.together, actor) if body.together else None
    row = await request.app[keys.OPERATORS].approve(
        interaction_id,
        answer=body.answer,
        operator_name=body.operator_name,
        actor=actor,
        together=together,
    )
    outcomes = together.outcomes if together is not None else {}
    return json_model(
        ApprovedOut(
            **MessageOut.of(row).model_dump(),
            together=[
                TogetherOutcome(id=i, closed=reason is None, reason=reason)
                for i, reason in outcomes.items()
            ],
        )
    )


async def reject(request: web.Request) -> web.Response:
    body = await parse_body(request, AssignmentRequest) if request.can_read_body else None
    actor = actor_of(request, body.operator_name if body else None)
    row = await request.app[keys.OPERATORS].reject(path_int(request, "id"), actor=actor)
    return json_model(MessageOut.of(row))


async def import_knowledge(request: web.Request) -> web.Response:
    knowledge = request.app[keys.KNOWLEDGE]
    fmt = _FILE_TYPES.get(request.content_type)
    if fmt is not None:
        pairs = knowledge.parse(text_content(await request.read()), fmt)
    else:
        body = await parse_body(request, KnowledgeImportRequest)
        pairs = knowledge.parse_items(
            [KnowledgePair(i.question, i.answer, i.sector) for i in body.items]
        )
    result = await knowledge.import_pairs(pairs)
    return json_model(
        KnowledgeImportResult(received=result.received, added=result.added, skipped=result.skipped)
    )


async def pipeline_latency(request: web.Request) -> web.Response:
    query = parse_query(request, PipelineLatencyQuery)
    stats = await request.app[keys.OPERATORS].pipeline_latency(minutes=query.minutes)
    return json_model(PipelineLatency.model_validate({"minutes": query.minutes, **stats}))


def _ranking(
    name: str, handler: Handler, summary: str, response: type[BaseModel], query: type[BaseModel]
) -> Operation:
    """What the validated history offers one message, read by an operator."""
    return Operation(
        "GET",
        f"/operator/messages/{{id}}/{name}",
        handler,
        summary,
        "operators",
        response,
        query=query,
        path_params=(MESSAGE_ID,),
        errors=(404, 422),
        roles=allow(Role.OPERATOR),
    )


OPERATIONS = (
    Operation(
        "GET",
        "/operator/me",
        identity,
        "Who the key is and its role: how the console signs in, and what it offers (an admin "
        "may give back a colleague's message and delete anyone's note)",
        "operators",
        OperatorIdentity,
        roles=allow(Role.OPERATOR),
    ),
    Operation(
        "GET",
        "/operator/queue",
        queue,
        "Messages waiting for a human (with a suggestion or no answer), oldest first",
        "operators",
        QueuePage,
        query=QueueQuery,
        errors=(404, 422),
        roles=allow(Role.OPERATOR),
    ),
    _ranking(
        "candidates",
        candidates,
        "Validated answers nearest to one message, ranked, with similarity and source",
        CandidateList,
        CandidatesQuery,
    ),
    _ranking(
        "answers",
        answers,
        "The answers the suggestion decision ranks for one message, best first, whether or"
        " not the first clears the bar",
        AnswerList,
        AnswersQuery,
    ),
    message_action(
        "approve",
        approve,
        "Approve the suggested (or an edited) answer, or answer a message with no "
        "suggestion: validated_by becomes human, the answer goes to the customer, and the "
        "customer's other lines in `together` leave the queue with it",
        ApproveRequest,
        ApprovedOut,
    ),
    message_action(
        "reject",
        reject,
        "Reject the suggestion: the message goes back to pending without an answer",
        AssignmentRequest,
    ),
    Operation(
        "POST",
        "/admin/kb/import",
        import_knowledge,
        "Import validated question-answer pairs (JSON items, text/csv or application/x-ndjson)",
        "knowledge",
        KnowledgeImportResult,
        body=KnowledgeImportRequest,
        errors=(400, 415, 422, 503),
        roles=allow(),
    ),
    Operation(
        "GET",
        "/pipeline/latency",
        pipeline_latency,
        "Receipt-to-suggestion time of the messages received in the last `minutes` (60)",
        "operators",
        PipelineLatency,
        query=PipelineLatencyQuery,
        errors=(422,),
        roles=allow(Role.OPERATOR),
    ),
)
