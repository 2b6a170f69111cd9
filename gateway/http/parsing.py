"""Turning a request's body, query and path into validated models, or a 4xx naming the field."""

from __future__ import annotations

import json
import uuid
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from gateway.errors import BadRequest, FieldProblem, UnsupportedMediaType, ValidationFailed

Model = TypeVar("Model", bound=BaseModel)

MAX_BODY_BYTES = 1024 * 1024


def _problems(exc: ValidationError, prefix: str = "") -> list[FieldProblem]:
    problems = []
    for err in exc.errors():
        field = ".".join(str(part) for part in err["loc"]) or "body"
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "is not a known field"
        problems.append(FieldProblem(prefix + field, message))
    return problems


def _fail(problems: list[FieldProblem]) -> ValidationFailed:
    summary = "; ".join(f"{p.field}: {p.message}" for p in problems)
    return ValidationFailed(f"invalid request: {summary}", details=problems)


async def parse_body(request: web.Request, model: type[Model]) -> Model:
    if request.content_type != "application/json":
        raise UnsupportedMediaType(
            f"send the body as application/json (got {request.content_type or 'no content type'})"
        )
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise BadRequest(f"the body is larger than {MAX_BODY_BYTES} bytes")
    raw = await request.read()
    try:
        data = json.loads(raw)
    except UnicodeDecodeError as exc:
        raise BadRequest("the body is not UTF-8 text") from exc
    except json.JSONDecodeError as exc:
        raise BadRequest(
            f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
            details=[FieldProblem("body", exc.msg)],
        ) from exc
    if not isinstance(data, dict):
        raise _fail([FieldProblem("body", "must be a JSON object")])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _fail(_problems(exc)) from exc


def parse_query(request: web.Request, model: type[Model]) -> Model:
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as exc:
        raise _fail(_problems(exc)) from exc


def path_int(request: web.Request, name: str) -> int:
    raw = request.match_info[name]
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if not 1 <= value <= 2**63 - 1:
        raise _fail([FieldProblem(name, f"must be a positive whole number, got {raw!r}")])
    return value


def path_uuid(request: web.Request, name: str) -> uuid.UUID:
    raw = request.match_info[name]
    try:
        return uuid.UUID(raw)
    except ValueError as exc:
        raise _fail([FieldProblem(name, f"must be a UUID, got {raw!r}")]) from exc
