"""Who is answering a message: an operator takes it from the queue, and others see it.

Revision ID: 0008
Revises: 0007

`assigned_to` is the operator's name as signed in to the console (the API key's name
when none was given); `assigned_at` is when they took it. Both are cleared when the
message is approved, rejected, released or transferred to another sector. Every change
goes through the row's `updated_at` trigger, so the console's live feed carries it.
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE chat_interactions
            ADD COLUMN assigned_to text,
            ADD COLUMN assigned_at timestamptz
        """
    )


def downgrade() -> None:
    op.execute("ALTER TABLE chat_interactions DROP COLUMN assigned_at, DROP COLUMN assigned_to")
