"""Customers an operator blocked: their messages are kept, but never wait in the queue.

Revision ID: 0016
Revises: 0015

A Telegram or WhatsApp account that sends spam or abuse all day filled the queue, one
message at a time, each closed as spam by hand. `blocked_at` and `blocked_by` on the
customer say that their messages arrive closed (`close_reason = 'blocked'`), stored and
searchable as ever, and nothing is suggested or sent to them until someone unblocks them.
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# storage.models.CLOSE_REASONS before and after this revision: a migration keeps its own.
BEFORE = ("no_reply_needed", "spam", "duplicate", "answered_together")
AFTER = (*BEFORE, "blocked")


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
    op.execute(
        """
        ALTER TABLE customers
            ADD COLUMN blocked_at timestamptz,
            ADD COLUMN blocked_by text,
            ADD CONSTRAINT customers_blocked_by_someone
                CHECK ((blocked_at IS NULL) = (blocked_by IS NULL))
        """
    )
    _allow(AFTER)


def downgrade() -> None:
    # The older schema has no word for these: they become what they were closed as before.
    op.execute("UPDATE chat_interactions SET close_reason = 'spam' WHERE close_reason = 'blocked'")
    _allow(BEFORE)
    op.execute(
        """
        ALTER TABLE customers
            DROP CONSTRAINT customers_blocked_by_someone,
            DROP COLUMN blocked_by,
            DROP COLUMN blocked_at
        """
    )
