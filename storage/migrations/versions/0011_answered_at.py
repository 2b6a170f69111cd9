"""When each message was first answered, for the time customers wait for an answer.

Revision ID: 0011
Revises: 0010

`answered_at` is set once: when a human first validates the message's answer (approved,
edited, written, or set by an integrator), or when a sector's auto-send queues its
suggestion for the customer. Messages stored already answered (the knowledge base, an
integrator's history) keep it empty: nobody waited for them.

Messages answered before this revision get the time their answer was first queued for
delivery, else the time an operator first approved or edited their suggestion; a message
with neither keeps it empty, as unknown, and is left out of the response times.
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE chat_interactions ADD COLUMN answered_at timestamptz")
    op.execute(
        """
        UPDATE chat_interactions m SET answered_at = coalesce(
            (SELECT min(d.created_at) FROM deliveries d WHERE d.interaction_id = m.id),
            (SELECT min(r.created_at) FROM suggestion_reviews r
             WHERE r.interaction_id = m.id AND r.outcome IN ('approved', 'edited'))
        )
        WHERE m.validated_by = 'human' OR EXISTS (
            SELECT 1 FROM deliveries d WHERE d.interaction_id = m.id
        )
        """
    )


def downgrade() -> None:
    op.execute("ALTER TABLE chat_interactions DROP COLUMN answered_at")
