"""REST callbacks: an approved answer POSTed as JSON to the integrator's URL, signed.

The body's raw bytes are signed with HMAC-SHA256 under `ATENDE_REST_CALLBACK_SECRET`
and the signature sent as `X-Atende-Signature: sha256=<hex>`, the format Meta uses, so
integrators verify it the same way. `X-Atende-Delivery` carries the delivery id: the
same id twice means a retry of one send, which a receiver may use to drop duplicates.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.base import Connector, SendFailed, Sent
from connectors.http import JsonHttpClient, encode_json
from connectors.signing import signature_header

SIGNATURE_HEADER = "X-Atende-Signature"
DELIVERY_HEADER = "X-Atende-Delivery"


class RestCallbackConnector(Connector):
    channel = "rest"
    account = ""
    max_text_chars = None  # one JSON body carries the whole answer
    receiver_drops_repeats = True  # by X-Atende-Delivery

    def __init__(self, *, http: JsonHttpClient, secret: str | None) -> None:
        self._http = http
        self._secret = secret

    async def send(self, recipient: str, text: str, *, context: Mapping[str, Any]) -> Sent:
        payload = {"event": "answer.approved", **context, "answer": text}
        body = encode_json(payload)
        headers = {DELIVERY_HEADER: str(context.get("delivery_id", ""))}
        if self._secret:
            headers[SIGNATURE_HEADER] = signature_header(self._secret, body)
        reply = await self._http.post(recipient, body, headers=headers)
        if 200 <= reply.status < 300:
            return Sent(None)
        reason = f"the callback answered HTTP {reply.status}"
        if reply.status >= 500 or reply.status in (408, 429):
            raise SendFailed(
                f"http_{reply.status}", reason, permanent=False, retry_after=reply.retry_after
            )
        raise SendFailed(f"http_{reply.status}", reason, permanent=True)
