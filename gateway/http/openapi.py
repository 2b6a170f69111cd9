"""The OpenAPI 3.1 document, built from the operations and their pydantic models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from gateway import __version__
from gateway.http.operations import Operation
from gateway.schemas.messages import ErrorBody

_ERROR_TEXT = {
    400: "Malformed request (for example, JSON that does not parse).",
    401: "No valid API key.",
    403: "The API key's role may not do this.",
    404: "Not found.",
    415: "The body is not application/json.",
    422: "A field is invalid; `error.details` names it.",
    429: "Too many requests; see Retry-After.",
    502: "The platform behind the request (Telegram, WhatsApp) refused it or is unreachable.",
    503: "A dependency (database, embedding provider) is unavailable.",
}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(model: type[BaseModel]) -> dict[str, Any]:
    return {"application/json": {"schema": _ref(model)}}


def _refs_in(node: Any) -> set[str]:
    """The component names `node` refers to, directly."""
    if isinstance(node, dict):
        found = {node["$ref"].rsplit("/", 1)[1]} if "$ref" in node else set()
        return found.union(*(_refs_in(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs_in(value) for value in node))
    return set()


def _reachable(schemas: dict[str, Any], roots: set[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name not in seen and name in schemas:
            seen.add(name)
            todo.extend(_refs_in(schemas[name]))
    return seen


def _one_of_the_sectors(schema: dict[str, Any], sectors: list[str]) -> None:
    """A `sector` string (or the string of a nullable one) lists the sectors configured."""
    for branch in schema.get("anyOf", [schema]):
        if branch.get("type") == "string":
            branch["enum"] = sectors


def name_sectors(document: dict[str, Any], sectors: list[str]) -> None:
    """Every `sector` a request carries names one of `sectors` (what GET /sectors lists),
    so that a client built from the document offers them and nothing else. Responses are
    left free: a message keeps the sector it had when a sector is later taken out."""
    schemas = document["components"]["schemas"]
    operations = [op for methods in document["paths"].values() for op in methods.values()]
    asked = _reachable(schemas, _refs_in([op.get("requestBody", {}) for op in operations]))
    answered = _reachable(schemas, _refs_in([op["responses"] for op in operations]))
    for name in asked - answered:
        sector = schemas[name].get("properties", {}).get("sector")
        if sector is not None:
            _one_of_the_sectors(sector, sectors)
    for op in operations:
        for parameter in op.get("parameters", []):
            if parameter["name"] == "sector":
                _one_of_the_sectors(parameter["schema"], sectors)


def build_openapi(
    operations: tuple[Operation, ...], prefix: str, sectors: list[str] | None = None
) -> dict[str, Any]:
    models: set[type[BaseModel]] = {ErrorBody}
    for op in operations:
        models.update(m for m in (op.body, op.response) if m is not None)
    _, defs = models_json_schema(
        [
            (m, "validation" if m in {op.body for op in operations} else "serialization")
            for m in sorted(models, key=lambda m: m.__name__)
        ],
        ref_template="#/components/schemas/{model}",
    )
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        parameters: list[dict[str, Any]] = [
            {
                "name": p.name,
                "in": "path",
                "required": True,
                "schema": dict(p.schema),
                "description": p.description,
            }
            for p in op.path_params
        ]
        if op.query is not None:
            schema = op.query.model_json_schema()
            for name, prop in schema.get("properties", {}).items():
                parameters.append({"name": name, "in": "query", "required": False, "schema": prop})
        success: dict[str, Any] = {"description": "Success"}
        if op.response is not None:
            success["content"] = _json(op.response)
        elif op.text_media_type is not None:
            success["content"] = {op.text_media_type: {"schema": {"type": "string"}}}
        responses: dict[str, Any] = {str(op.status): success}
        errors = (*op.errors, 401, 403, 429) if op.roles is not None else (*op.errors, 429)
        for status in sorted({*errors, 500}):
            responses[str(status)] = {
                "description": _ERROR_TEXT.get(status, "Unexpected error."),
                "content": _json(ErrorBody),
            }
        for status, text in op.extra_responses.items():
            responses[str(status)] = {"description": text}
            if op.response:
                responses[str(status)]["content"] = _json(op.response)
        entry: dict[str, Any] = {
            "summary": op.summary,
            "operationId": op.handler.__name__,
            "tags": [op.tag],
            "responses": responses,
        }
        if op.roles is not None:
            entry["security"] = [{"bearerAuth": []}]
            entry["description"] = "Roles: " + ", ".join(sorted(op.roles)) + "."
        else:
            entry["security"] = []  # open: no key needed
        if parameters:
            entry["parameters"] = parameters
        if op.body is not None:
            entry["requestBody"] = {"required": not op.body_optional, "content": _json(op.body)}
        paths.setdefault(op.full_path(prefix), {})[op.method.lower()] = entry
    document = {
        "openapi": "3.1.0",
        "info": {
            "title": "atende",
            "version": __version__,
            "description": "Customer-support gateway: messages, semantic search, client "
            "history and sectors.",
        },
        "paths": paths,
        "security": [{"bearerAuth": []}],
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key (`atende keys create`), sent as "
                    "`Authorization: Bearer <key>`.",
                }
            },
        },
    }
    if sectors:
        name_sectors(document, sectors)
    return document
