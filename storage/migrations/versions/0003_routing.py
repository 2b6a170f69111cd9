"""Routing and suggestions: each message's sector decision, suggestion and pipeline state.

Revision ID: 0003
Revises: 0002

New columns on chat_interactions:
- route_confidence, route_reason: how the router chose the sector (NULL when the
  sector came with the message).
- suggestion: the suggested answer's provenance (method, source interaction ids,
  similarity, threshold); the answer itself lives in `answer` with validated_by = 'ai'.
- pipeline_done_at: NULL while routing and suggestion are still to do; the worker's
  queue is the rows with a vector and this NULL. pipeline_attempts counts failures.
- pipeline_ms: milliseconds from receipt (created_at) to the end of that step.
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE chat_interactions
            ADD COLUMN route_confidence double precision,
            ADD COLUMN route_reason jsonb,
            ADD COLUMN suggestion jsonb,
            ADD COLUMN pipeline_done_at timestamptz,
            ADD COLUMN pipeline_attempts integer NOT NULL DEFAULT 0,
            ADD COLUMN pipeline_ms double precision
        """
    )
    # Rows stored before this revision are history, not new work.
    op.execute("UPDATE chat_interactions SET pipeline_done_at = created_at")
    # The pipeline's queue: embedded rows still waiting for routing and suggestion.
    op.execute(
        "CREATE INDEX ix_chat_interactions_pipeline ON chat_interactions (id) "
        "WHERE pipeline_done_at IS NULL AND embedding IS NOT NULL"
    )
    # The operators' queue: everything not yet validated by a human, oldest first.
    op.execute(
        "CREATE INDEX ix_chat_interactions_open ON chat_interactions (sector, created_at, id) "
        "WHERE validated_by <> 'human'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX ix_chat_interactions_open")
    op.execute("DROP INDEX ix_chat_interactions_pipeline")
    op.execute(
        """
        ALTER TABLE chat_interactions
            DROP COLUMN pipeline_ms,
            DROP COLUMN pipeline_attempts,
            DROP COLUMN pipeline_done_at,
            DROP COLUMN suggestion,
            DROP COLUMN route_reason,
            DROP COLUMN route_confidence
        """
    )
