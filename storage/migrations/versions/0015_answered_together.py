"""A message closed because the answer to another of the customer's messages covered it.

Revision ID: 0015
Revises: 0014

Customers on Telegram and WhatsApp write in bursts ("oi", "bom dia", "meu pix não caiu"),
and each line is a message in the queue. One answer covers them all, but the other lines
stayed in the queue until an operator closed them as if they needed no answer, which the
analytics then counted as such. `answered_together` says what happened: the customer got
an answer, in another message.
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# storage.models.CLOSE_REASONS before and after this revision: a migration keeps its own.
BEFORE = ("no_reply_needed", "spam", "duplicate")
AFTER = (*BEFORE, "answered_together")


def _allow(reasons: tuple[str, ...]) -> None:
    listed = ", ".join(f"'{r}'" for r in reasons)
    op.execute(
        f"""
        ALTER TABLE chat_interactions
            DROP CONSTRAINT chat_interactions_close_reason_check,
            ADD CONSTRAINT chat_interactions_close_reason_check
                CHECK (close_reason IN ({listed}))
        """
    )


def upgrade() -> None:
    _allow(AFTER)


def downgrade() -> None:
    # The older schema has no word for these: they become what they were closed as before.
    op.execute(
        "UPDATE chat_interactions SET close_reason = 'no_reply_needed' "
        "WHERE close_reason = 'answered_together'"
    )
    _allow(BEFORE)
