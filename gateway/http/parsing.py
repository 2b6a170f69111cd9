"""Turning a request's body, query and path into validated models, or a 4xx naming the field."""

from __future__ import annotations

import json
import uuid
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from config.errors import BadRequest, FieldProblem, UnsupportedMediaType, ValidationFailed
from connectors.base import UNSTORABLE_TEXT, is_storable
from gateway.http.operations import MAX_ID

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


def _unstorable(value: Any, field: str) -> list[FieldProblem]:
    """Strings PostgreSQL cannot store, by where they are. An integrator's text is refused
    rather than changed, so what is stored is exactly what was sent."""
    if isinstance(value, str):
        return [] if is_storable(value) else [FieldProblem(field, UNSTORABLE_TEXT)]
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return []
    return [p for key, item in items for p in _unstorable(item, f"{field}.{key}")]


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
    data = decode_json(await request.read())
    if not isinstance(data, dict):
        raise _fail([FieldProblem("body", "must be a JSON object")])
    return _validated(model, data)


def _validated(model: type[Model], data: dict[str, Any]) -> Model:
    """`data` as `model`, every field's problem named, text PostgreSQL cannot store too."""
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        raise _fail(_problems(exc)) from exc
    problems = [p for name, value in data.items() for p in _unstorable(value, name)]
    if problems:
        raise _fail(problems)
    return parsed


def decode_json(raw: bytes) -> Any:
    """A body as JSON, or BadRequest saying why it is not."""
    try:
        return json.loads(raw)
    except UnicodeDecodeError as exc:
        raise BadRequest("the body is not UTF-8 text") from exc
    except json.JSONDecodeError as exc:
        raise BadRequest(
            f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
            details=[FieldProblem("body", exc.msg)],
        ) from exc
    except RecursionError as exc:
        raise BadRequest("the JSON nests too deeply") from exc
    except ValueError as exc:  # an integer of more digits than Python converts
        raise BadRequest(f"the JSON cannot be read: {exc}") from exc


def text_content(raw: bytes, field: str = "body") -> str:
    """A text body (CSV, JSON lines) as a string PostgreSQL can store, or a 4xx."""
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest("the body is not UTF-8 text") from exc
    problems = _unstorable(content, field)
    if problems:
        raise _fail(problems)
    return content


def parse_query(request: web.Request, model: type[Model]) -> Model:
    return _validated(model, dict(request.query))


def path_text(request: web.Request, name: str) -> str:
    """A path parameter that is free text (a sector, a key's name)."""
    raw = request.match_info[name]
    problems = _unstorable(raw, name)
    if problems:
        raise _fail(problems)
    return raw


def path_int(request: web.Request, name: str) -> int:
    raw = request.match_info[name]
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if not 1 <= value <= MAX_ID:
        raise _fail([FieldProblem(name, f"must be a whole number from 1 to {MAX_ID}, got {raw!r}")])
    return value


def path_uuid(request: web.Request, name: str) -> uuid.UUID:
    raw = request.match_info[name]
    try:
        return uuid.UUID(raw)
    except ValueError as exc:
        raise _fail([FieldProblem(name, f"must be a UUID, got {raw!r}")]) from exc
