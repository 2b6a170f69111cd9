"""Who may call the REST API: API keys, their roles, and the auth-off switch.

A key is `atd_` + 8 random characters (the visible prefix) + `_` + 43 more (256 bits);
only its SHA-256 is stored, so neither the database nor the log can give a key back.
Every check reads the database, so a revoked key stops working at once.
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
import string
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import structlog
from sqlalchemy.exc import DBAPIError, OperationalError

from config.errors import (
    ConfigurationError,
    Conflict,
    NotFound,
    ServiceUnavailable,
    ValidationFailed,
)
from storage.api_keys import ApiKeyRepository, DuplicateKey
from storage.models import ApiKey

log = structlog.get_logger(__name__)

KEY_PREFIX = "atd_"
_PREFIX_ALPHABET = string.ascii_lowercase + string.digits


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    INTEGRATOR = "integrator"


@dataclass(frozen=True)
class Principal:
    """The caller a request was authenticated as."""

    key_id: int | None
    name: str
    role: Role


@dataclass(frozen=True)
class IssuedKey:
    """A new key: `key` is shown once and stored nowhere."""

    row: ApiKey
    key: str


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> tuple[str, str]:
    """A fresh key and its visible prefix."""
    prefix = KEY_PREFIX + "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(8))
    return f"{prefix}_{secrets.token_urlsafe(32)}", prefix


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_auth_switch(auth_disabled: bool, host: str) -> None:
    """Refuse auth off on anything but loopback; say loudly that it is off."""
    if not auth_disabled:
        return
    if not is_loopback(host):
        raise ConfigurationError(
            f"ATENDE_AUTH_DISABLED works only when the server binds a loopback address "
            f"(127.0.0.1, ::1, localhost), not {host!r}"
        )
    log.warning(
        "AUTH_DISABLED",
        detail="every REST request is served as admin without a key; local use only",
        host=host,
    )


class ApiKeyService:
    """Issue, list, revoke and check API keys."""

    def __init__(self, repository: ApiKeyRepository) -> None:
        self._repository = repository

    async def issue(self, *, name: str, role: Role) -> IssuedKey:
        name = name.strip()
        if not name or len(name) > 100:
            raise ValidationFailed.on("name", "must be 1 to 100 characters")
        if name.startswith(KEY_PREFIX):
            # A name must never be mistaken for another key's prefix when revoking.
            raise ValidationFailed.on("name", f"must not start with {KEY_PREFIX!r}")
        key, prefix = new_key()
        try:
            row = await self._repository.create(
                name=name, role=role.value, prefix=prefix, key_hash=hash_key(key)
            )
        except DuplicateKey as exc:
            raise Conflict(f"a key named {name!r} exists already") from exc
        log.info("api_key_created", name=name, role=role.value, prefix=prefix)
        return IssuedKey(row, key)

    async def list(self) -> list[ApiKey]:
        return await self._repository.all()

    async def revoke(self, name_or_prefix: str) -> ApiKey:
        row = await self._repository.revoke(name_or_prefix)
        if row is None:
            raise NotFound(f"no API key with the name or prefix {name_or_prefix!r}")
        log.info("api_key_revoked", name=row.name, prefix=row.prefix)
        return row

    async def authenticate(self, key: str) -> Principal | None:
        """The caller this key belongs to, or None for an unknown or revoked key."""
        if not key.startswith(KEY_PREFIX) or len(key) > 200:
            return None
        try:
            row = await self._repository.active_by_hash(hash_key(key))
        except (OperationalError, DBAPIError, OSError) as exc:
            raise ServiceUnavailable(
                "cannot check the API key: the database is unavailable"
            ) from exc
        if row is None:
            return None
        return Principal(row.id, row.name, Role(row.role))


def describe(row: ApiKey) -> dict[str, str | None]:
    """A key as listings show it: never the key, never its hash."""

    def when(moment: datetime | None) -> str | None:
        return moment.isoformat(timespec="seconds") if moment else None

    return {
        "name": row.name,
        "role": row.role,
        "prefix": row.prefix,
        "created_at": when(row.created_at),
        "last_used_at": when(row.last_used_at),
        "revoked_at": when(row.revoked_at),
    }
