"""Rejections read on every suggestion: a partial index over them alone.

Revision ID: 0009
Revises: 0008

Before suggesting, the suggester reads the answers operators rejected for similar
messages (`RoutingRepository.rejected_near`). Rejections are a small part of the reviews,
so they get an index of their own instead of a scan of every review.
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX ix_suggestion_reviews_rejected ON suggestion_reviews (interaction_id)"
        " WHERE outcome = 'rejected'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX ix_suggestion_reviews_rejected")
