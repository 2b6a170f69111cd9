"""Saved replies: answers operators keep ready to send ("respostas prontas").

Revision ID: 0012
Revises: 0011

A reply belongs to one sector, or to every sector when `sector` is empty. Its title is
what operators find it by, so two replies of one sector may not share a title, whatever
its case: the unique index below says so, and a second operator saving the same title
at the same moment gets a conflict rather than a twin.
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE saved_replies (
            id bigserial PRIMARY KEY,
            title text NOT NULL CHECK (length(btrim(title)) > 0),
            text text NOT NULL CHECK (length(btrim(text)) > 0),
            sector text,
            created_by text,
            updated_by text,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        "CREATE UNIQUE INDEX saved_replies_sector_title "
        "ON saved_replies (coalesce(sector, ''), lower(title))"
    )
    op.execute(
        "CREATE TRIGGER saved_replies_touch BEFORE UPDATE ON saved_replies "
        "FOR EACH ROW EXECUTE FUNCTION atende_touch_updated_at()"
    )


def downgrade() -> None:
    op.execute("DROP TABLE saved_replies")
