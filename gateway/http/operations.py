"""The REST API described once: each operation's route, handler and models.

`gateway.app` registers these routes and `gateway.http.openapi` documents the same
list, so the OpenAPI document cannot drift from what is served.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web
from pydantic import BaseModel

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class PathParam:
    name: str
    schema: dict[str, object]
    description: str = ""


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # relative to the API prefix unless `absolute`
    handler: Handler
    summary: str
    tag: str
    response: type[BaseModel] | None
    status: int = 200
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    path_params: tuple[PathParam, ...] = ()
    errors: tuple[int, ...] = ()
    absolute: bool = False
    extra_responses: dict[int, str] = field(default_factory=dict)

    def full_path(self, prefix: str) -> str:
        return self.path if self.absolute else prefix + self.path
