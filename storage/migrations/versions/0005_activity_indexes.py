"""Indexes for the operator console's live feed.

Revision ID: 0005
Revises: 0004

The events stream (`GET /api/v1/operator/events`) asks, about twice a second per open
console, which messages and deliveries changed in the last few seconds; `updated_at` is
kept by the `atende_touch_updated_at` trigger on both tables, so an index on it answers
that without reading the whole table.
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX ix_chat_interactions_updated ON chat_interactions (updated_at)")
    op.execute("CREATE INDEX ix_deliveries_updated ON deliveries (updated_at)")


def downgrade() -> None:
    op.execute("DROP INDEX ix_deliveries_updated")
    op.execute("DROP INDEX ix_chat_interactions_updated")
