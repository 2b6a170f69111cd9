"""API keys: who may call the REST API, and as which role.

Revision ID: 0004
Revises: 0003

New table api_keys. Only the SHA-256 of a key is stored (`key_hash`); `prefix` is the
key's first characters, shown in listings and accepted by `atende keys revoke`, so a key
can be named without being known. A revoked key keeps its row (revoked_at) for the record.
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE api_keys (
            id bigserial PRIMARY KEY,
            name text NOT NULL UNIQUE,
            role text NOT NULL CHECK (role IN ('admin', 'operator', 'integrator')),
            prefix text NOT NULL UNIQUE,
            key_hash text NOT NULL UNIQUE,
            created_at timestamptz NOT NULL DEFAULT now(),
            last_used_at timestamptz,
            revoked_at timestamptz
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE api_keys")
