"""Edits that replaced the suggested answer: read as rejections of it.

Revision ID: 0017
Revises: 0016

An operator who deletes a suggestion and writes another answer in its box approves the
message "edited", and until now that told the suggester nothing against the answer it
had offered: only a rejection did. `replaced` marks such edits (storage.reviews,
`replaced_answer`), the edits recorded before are marked by the same rule, and the
partial index the suggester reads rejections through now holds them too.

The rule is copied here as it stood at this revision, not imported: a migration must do
the same to every database it ever runs on, whatever the rule becomes later.
"""

from __future__ import annotations

import re
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

BATCH = 1000
REPLACED_BELOW = 2 / 3  # storage.reviews at this revision
_WORD = re.compile(r"\w+")


def _words(answer: str | None) -> set[str]:
    decomposed = unicodedata.normalize("NFKD", (answer or "").lower())
    return set(_WORD.findall("".join(ch for ch in decomposed if not unicodedata.combining(ch))))


def replaced_answer(suggested: str | None, sent: str | None) -> bool:
    words = _words(suggested)
    if not words:
        return False
    return len(words & _words(sent)) / len(words) < REPLACED_BELOW


def _mark_earlier_edits() -> None:
    connection = op.get_bind()
    last = 0
    while True:
        rows = connection.execute(
            sa.text(
                "SELECT id, suggested_answer, final_answer FROM suggestion_reviews"
                " WHERE outcome = 'edited' AND id > :last ORDER BY id LIMIT :n"
            ),
            {"last": last, "n": BATCH},
        ).all()
        if not rows:
            return
        last = rows[-1].id
        marked = [{"id": r.id} for r in rows if replaced_answer(r.suggested_answer, r.final_answer)]
        if marked:
            connection.execute(
                sa.text("UPDATE suggestion_reviews SET replaced = true WHERE id = :id"), marked
            )


def upgrade() -> None:
    op.execute(
        "ALTER TABLE suggestion_reviews ADD COLUMN replaced boolean NOT NULL DEFAULT false,"
        " ADD CONSTRAINT suggestion_reviews_replaced_edits"
        " CHECK (NOT replaced OR outcome = 'edited')"
    )
    _mark_earlier_edits()
    op.execute("DROP INDEX ix_suggestion_reviews_rejected")
    op.execute(
        "CREATE INDEX ix_suggestion_reviews_rejected ON suggestion_reviews (interaction_id)"
        " WHERE outcome = 'rejected' OR replaced"
    )


def downgrade() -> None:
    op.execute("DROP INDEX ix_suggestion_reviews_rejected")
    op.execute(
        "CREATE INDEX ix_suggestion_reviews_rejected ON suggestion_reviews (interaction_id)"
        " WHERE outcome = 'rejected'"
    )
    op.execute(
        "ALTER TABLE suggestion_reviews DROP CONSTRAINT suggestion_reviews_replaced_edits,"
        " DROP COLUMN replaced"
    )
