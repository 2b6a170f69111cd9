"""Messages an operator closes without answering.

Revision ID: 0013
Revises: 0012

A customer's "ok, obrigado!", spam or the same question sent twice needs no answer, but
every message waited in the operators' queue until a human answered it: the only way
out was to send the customer something. `closed_at` takes such a message out of the
queue, with who closed it and why (`close_reason`); answering it later reopens it.

The queue's partial index now leaves closed messages out too, so the queue's reads stay
on rows that wait.
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# storage.models.CLOSE_REASONS when this revision was written: a migration keeps its own.
REASONS = ("no_reply_needed", "spam", "duplicate")


def upgrade() -> None:
    reasons = ", ".join(f"'{r}'" for r in REASONS)
    op.execute(
        f"""
        ALTER TABLE chat_interactions
            ADD COLUMN closed_at timestamptz,
            ADD COLUMN closed_by text,
            ADD COLUMN close_reason text CHECK (close_reason IN ({reasons})),
            ADD CONSTRAINT chat_interactions_closed_with_reason
                CHECK ((closed_at IS NULL) = (close_reason IS NULL))
        """
    )
    op.execute("DROP INDEX ix_chat_interactions_open")
    op.execute(
        "CREATE INDEX ix_chat_interactions_open ON chat_interactions (sector, created_at, id) "
        "WHERE validated_by <> 'human' AND closed_at IS NULL"
    )


def downgrade() -> None:
    op.execute("DROP INDEX ix_chat_interactions_open")
    op.execute(
        "CREATE INDEX ix_chat_interactions_open ON chat_interactions (sector, created_at, id) "
        "WHERE validated_by <> 'human'"
    )
    op.execute(
        """
        ALTER TABLE chat_interactions
            DROP CONSTRAINT chat_interactions_closed_with_reason,
            DROP COLUMN close_reason,
            DROP COLUMN closed_by,
            DROP COLUMN closed_at
        """
    )
