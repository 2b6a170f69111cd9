"""Each answer's own vector, kept between calibrations.

Revision ID: 0010
Revises: 0009

`atende calibrate` teaches the answer model each answer's own text (embedded as the side
of a search a question looks for). Answers are long: embedding a thousand of them took
about two minutes on two cores, and a dry run followed by `--apply` paid it twice. The
vectors depend only on the answer and the model, so they are kept here and embedded once.

An answer is keyed by the digest the answer model names it by (storage.reviews.
answer_digest, of its answer_key: case and spacing folded), as answers can be longer
than a btree entry may be.
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE answer_vectors (
            model_id text NOT NULL,
            answer_digest text NOT NULL,
            embedding vector NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (model_id, answer_digest)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE answer_vectors")
