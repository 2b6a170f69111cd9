"""Access control for every request, and the admin routes that manage API keys.

One middleware enforces what the operations declare (`Operation.roles`): a route with
roles needs `Authorization: Bearer <key>` of one of them (401 without a valid key, 403
with the wrong role), and so does any other path under the API prefix. Requests are
rate-limited per key, or per client address when they carry no valid key; webhooks are
left to their channel's own signature check and to the platforms' retries. A CORS
preflight from an allowed origin (`gateway.http.cors`) needs no key either.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler

from config.errors import Forbidden, TooManyRequests, Unauthorized
from config.settings import Settings
from gateway.http import keys
from gateway.http.cors import is_preflight
from gateway.http.operations import Operation, PathParam, allow
from gateway.http.parsing import parse_body, path_text
from gateway.http.ratelimit import TokenBucketLimiter
from gateway.http.responses import json_model
from gateway.schemas.access import ApiKeyCreate, ApiKeyCreated, ApiKeyList, ApiKeyOut
from gateway.services.access import Principal, Role

PRINCIPAL = web.RequestKey("principal", Principal)
_AUTH_DISABLED = Principal(None, "auth-disabled", Role.ADMIN)


@dataclass
class AccessPolicy:
    """What the middleware needs: the operation of each route, and the two limiters."""

    api_prefix: str
    auth_disabled: bool
    by_key: TokenBucketLimiter
    by_address: TokenBucketLimiter
    operations: dict[web.AbstractRoute, Operation]

    @classmethod
    def of(cls, settings: Settings) -> AccessPolicy:
        return cls(
            api_prefix=settings.api_prefix,
            auth_disabled=settings.auth_disabled,
            by_key=TokenBucketLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst),
            by_address=TokenBucketLimiter(
                settings.anonymous_rate_limit_per_minute, settings.anonymous_rate_limit_burst
            ),
            operations={},
        )


POLICY = web.AppKey("access_policy", AccessPolicy)


def _limit(limiter: TokenBucketLimiter, key: object, who: str) -> None:
    retry_after = limiter.take(key)
    if retry_after is not None:
        raise TooManyRequests(
            f"too many requests from this {who}; try again in {retry_after}s",
            retry_after=retry_after,
        )


def _bearer(request: web.Request) -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


@web.middleware
async def access_control(request: web.Request, handler: Handler) -> web.StreamResponse:
    policy = request.app[POLICY]
    operation = policy.operations.get(request.match_info.route)
    path = request.path
    under_api = path == policy.api_prefix or path.startswith(policy.api_prefix + "/")
    needs_key = operation.roles is not None if operation is not None else under_api
    address = request.remote or "unknown"
    # A browser's CORS preflight never carries a key; the request it asks about does.
    if not needs_key or is_preflight(request):
        if not path.startswith("/webhooks/"):
            _limit(policy.by_address, address, "address")
        return await handler(request)

    if policy.auth_disabled:
        principal: Principal | None = _AUTH_DISABLED
    else:
        key = _bearer(request)
        principal = await request.app[keys.API_KEYS].authenticate(key) if key else None
    if principal is None:
        # Failed attempts count against the address, which slows guessing keys down.
        _limit(policy.by_address, address, "address")
        raise Unauthorized(
            "send a valid API key as `Authorization: Bearer <key>`"
            + (" (this key is unknown or revoked)" if _bearer(request) else ""),
            headers={"WWW-Authenticate": 'Bearer realm="atende"'},
        )
    _limit(policy.by_key, principal.key_id or principal.name, "API key")
    if operation is not None and principal.role not in (operation.roles or ()):
        allowed = ", ".join(sorted(operation.roles or ()))
        raise Forbidden(f"the {principal.role} role may not do this; it needs one of: {allowed}")
    request[PRINCIPAL] = principal
    return await handler(request)


async def create_key(request: web.Request) -> web.Response:
    body = await parse_body(request, ApiKeyCreate)
    issued = await request.app[keys.API_KEYS].issue(name=body.name, role=body.role)
    return json_model(
        ApiKeyCreated(**ApiKeyOut.of(issued.row).model_dump(), key=issued.key), status=201
    )


async def list_keys(request: web.Request) -> web.Response:
    rows = await request.app[keys.API_KEYS].list()
    return json_model(ApiKeyList(items=[ApiKeyOut.of(row) for row in rows]))


async def revoke_key(request: web.Request) -> web.Response:
    row = await request.app[keys.API_KEYS].revoke(path_text(request, "key"))
    return json_model(ApiKeyOut.of(row))


OPERATIONS = (
    Operation(
        "POST",
        "/admin/keys",
        create_key,
        "Create an API key; the answer holds the key, shown this once",
        "access",
        ApiKeyCreated,
        status=201,
        body=ApiKeyCreate,
        errors=(400, 409, 415, 422),
        roles=allow(),
    ),
    Operation(
        "GET",
        "/admin/keys",
        list_keys,
        "Every API key: name, role, prefix, created, last used, revoked (never the key)",
        "access",
        ApiKeyList,
        roles=allow(),
    ),
    Operation(
        "DELETE",
        "/admin/keys/{key}",
        revoke_key,
        "Revoke an API key, named by its name or prefix; it stops working at once",
        "access",
        ApiKeyOut,
        path_params=(PathParam("key", {"type": "string"}, "The key's name or prefix."),),
        errors=(404, 422),
        roles=allow(),
    ),
)
