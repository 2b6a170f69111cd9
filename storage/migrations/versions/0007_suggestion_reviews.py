"""What operators did with each suggestion: approved as it was, edited, or rejected.

Revision ID: 0007
Revises: 0006

Every review is a label. An approved or edited answer becomes validated history on its
own row; a rejection used to leave no trace at all (the row went back to `pending`
without its suggestion). Keeping each review lets the suggester weigh down an answer
operators rejected for similar messages, lets `atende calibrate` re-fit thresholds from
real decisions, and lets the console show acceptance and precision per sector.

The index on `chat_interactions.created_at` serves the analytics over a date range.
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE suggestion_reviews (
            id bigserial PRIMARY KEY,
            interaction_id bigint NOT NULL
                REFERENCES chat_interactions (id) ON DELETE CASCADE,
            sector text,
            outcome text NOT NULL CHECK (outcome IN ('approved', 'edited', 'rejected')),
            suggested_answer text NOT NULL,
            final_answer text,
            confidence double precision,
            method text,
            operator_name text,
            created_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX ix_suggestion_reviews_created ON suggestion_reviews (created_at)")
    op.execute(
        "CREATE INDEX ix_suggestion_reviews_interaction ON suggestion_reviews (interaction_id)"
    )
    op.execute("CREATE INDEX ix_chat_interactions_created ON chat_interactions (created_at)")


def downgrade() -> None:
    op.execute("DROP INDEX ix_chat_interactions_created")
    op.execute("DROP TABLE suggestion_reviews")
