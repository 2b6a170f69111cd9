"""Crash-safe delivery: who claimed a delivery, and whether its send had started.

Revision ID: 0006
Revises: 0005

A delivery worker takes an id from `delivery_worker_ids` and holds a session-level
advisory lock on it for its whole life; it writes that id in `claimed_by` on every
delivery it claims, and `send_started_at` (committed) just before the platform call.
When a worker dies its connection closes and the lock goes with it, so any other worker
can tell an abandoned claim from a live one at once: one whose send never started goes
back to the queue, one whose send had started is failed as `interrupted` (at most once).
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # integer, so an id fits the two-key form of the advisory lock functions; CYCLE, as
    # an id is only needed unique among the workers alive at one time.
    op.execute("CREATE SEQUENCE delivery_worker_ids AS integer CYCLE")
    op.execute(
        """
        ALTER TABLE deliveries
            ADD COLUMN claimed_by integer,
            ADD COLUMN send_started_at timestamptz
        """
    )
    # The recovery sweep runs every few seconds and only ever looks at claimed rows.
    op.execute(
        "CREATE INDEX ix_deliveries_sending ON deliveries (claimed_by) WHERE status = 'sending'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX ix_deliveries_sending")
    op.execute("ALTER TABLE deliveries DROP COLUMN send_started_at, DROP COLUMN claimed_by")
    op.execute("DROP SEQUENCE delivery_worker_ids")
