"""Internal notes about a customer, for the operators only.

Revision ID: 0014
Revises: 0013

Operators on different shifts tell each other what the customer must never read ("sent
the receipt twice already", "asked to be called after 6 pm"). A note belongs to the
customer (the client_id of their messages), not to one message, so it is there whichever
of their messages an operator opens next.
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE client_notes (
            id bigserial PRIMARY KEY,
            client_id uuid NOT NULL,
            text text NOT NULL CHECK (length(btrim(text)) > 0),
            author text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX ix_client_notes_client ON client_notes (client_id, id)")


def downgrade() -> None:
    op.execute("DROP TABLE client_notes")
