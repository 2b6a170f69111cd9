"""What every analytics query counts: customers' messages (knowledge-base pairs are stored
as messages too, `storage.routing.KB_CHANNEL`/`KB_ACCOUNT`, and are history, not customers),
and, for a range [start, end), those received in it. Each is SQL over the alias `m` of
chat_interactions.
"""

from __future__ import annotations

from storage.routing import KB_ACCOUNT, KB_CHANNEL

CUSTOMER = f"NOT (m.channel = '{KB_CHANNEL}' AND m.channel_account = '{KB_ACCOUNT}')"
IN_RANGE = "m.created_at >= :start AND m.created_at < :end"
