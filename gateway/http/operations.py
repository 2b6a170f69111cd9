"""The REST API described once: each operation's route, handler, models and roles.

`gateway.app` registers these routes, `gateway.http.access` enforces their roles and
`gateway.http.openapi` documents the same list, so neither the OpenAPI document nor the
access policy can drift from what is served.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web
from pydantic import BaseModel

from gateway.services.access import Role

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class PathParam:
    name: str
    schema: dict[str, object]
    description: str = ""


def allow(*roles: Role) -> frozenset[Role]:
    """The roles that may call an operation; admin may call every one."""
    return frozenset({Role.ADMIN, *roles})


# The ids of rows: PostgreSQL bigints from 1 (gateway.http.parsing.path_int).
MAX_ID = 2**63 - 1


def row_id(description: str) -> PathParam:
    """An `{id}` path parameter: a row's id."""
    return PathParam("id", {"type": "integer", "minimum": 1, "maximum": MAX_ID}, description)


MESSAGE_ID = row_id("The message's id.")
CLIENT_ID = PathParam("client_id", {"type": "string", "format": "uuid"}, "The customer.")


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # relative to the API prefix unless `absolute`
    handler: Handler
    summary: str
    tag: str
    response: type[BaseModel] | None
    status: int = 200
    # What a success answer is when it is not a JSON model (`response` None): its media
    # type, documented as text. None: no body is documented.
    text_media_type: str | None = None
    body: type[BaseModel] | None = None
    # The body may be left out (every field of `body` then takes its default); the
    # OpenAPI document says so, as `requestBody.required: false`.
    body_optional: bool = False
    query: type[BaseModel] | None = None
    path_params: tuple[PathParam, ...] = ()
    errors: tuple[int, ...] = ()
    absolute: bool = False
    extra_responses: dict[int, str] = field(default_factory=dict)
    # Who may call it (see `allow`); None: anyone, without a key. Every route under the
    # API prefix must name its roles (`gateway.http.system.add_routes` checks).
    roles: frozenset[Role] | None = None

    def full_path(self, prefix: str) -> str:
        return self.path if self.absolute else prefix + self.path
