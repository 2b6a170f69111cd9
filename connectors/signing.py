"""Webhook authentication shared by every channel: shared secrets and HMAC-SHA256 bodies.

Every comparison is constant-time; a missing credential is 401, a wrong one 403.
"""

from __future__ import annotations

import hashlib
import hmac

from config.errors import Forbidden, Unauthorized

SHA256_PREFIX = "sha256="


def hmac_sha256_hex(key: str, body: bytes) -> str:
    return hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def signature_header(key: str, body: bytes) -> str:
    """The `sha256=<hex>` value that signs `body` (Meta's and atende's callback format)."""
    return SHA256_PREFIX + hmac_sha256_hex(key, body)


def check_shared_secret(given: str | None, expected: str, header: str) -> None:
    if not given:
        raise Unauthorized(f"the {header} header is missing")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise Forbidden(f"the {header} header does not match")


def check_body_signature(given: str | None, key: str, body: bytes, header: str) -> None:
    """`given` must be `sha256=` and the HMAC-SHA256 of the raw `body` under `key`."""
    if not given:
        raise Unauthorized(f"the {header} header is missing")
    expected = signature_header(key, body)
    if not hmac.compare_digest(given.strip().lower().encode(), expected.encode()):
        raise Forbidden(f"the {header} header does not sign this body")
