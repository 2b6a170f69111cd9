"""chat_interactions, sectors and meta, with pgvector.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The vector size follows the configured embedding model; storage.migrate passes it.
    dim = int(op.get_context().config.attributes.get("embedding_dim", 384))
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.execute(
        """
        CREATE TABLE sectors (
            name text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_-]{0,62}$'),
            description text NOT NULL DEFAULT '',
            created_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        f"""
        CREATE TABLE chat_interactions (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            client_id uuid NOT NULL,
            sector text REFERENCES sectors (name) ON UPDATE CASCADE
                CHECK (sector ~ '^[a-z][a-z0-9_-]{{0,62}}$'),
            message text NOT NULL CHECK (length(message) > 0),
            answer text,
            operator_name text,
            validated_by text NOT NULL DEFAULT 'pending'
                CHECK (validated_by IN ('pending', 'ai', 'human')),
            channel text NOT NULL DEFAULT 'rest'
                CHECK (channel IN ('rest', 'telegram', 'whatsapp')),
            channel_account text NOT NULL DEFAULT '',
            external_id text,
            embedding vector({dim}),
            embedding_model text,
            embed_attempts integer NOT NULL DEFAULT 0,
            embed_error text,
            embed_after timestamptz NOT NULL DEFAULT now(),
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT chat_interactions_channel_message_key
                UNIQUE (channel, channel_account, external_id)
        )
        """
    )
    op.execute("CREATE INDEX ix_chat_interactions_client ON chat_interactions (client_id, id)")
    op.execute("CREATE INDEX ix_chat_interactions_sector ON chat_interactions (sector, id)")
    # The worker's queue: rows still waiting for a vector, oldest first.
    op.execute(
        "CREATE INDEX ix_chat_interactions_unembedded ON chat_interactions (embed_after, id) "
        "WHERE embedding IS NULL"
    )
    op.execute(
        "CREATE INDEX ix_chat_interactions_embedding ON chat_interactions "
        "USING hnsw (embedding vector_cosine_ops)"
    )
    op.execute(
        """
        CREATE FUNCTION atende_touch_updated_at() RETURNS trigger AS $$
        BEGIN
            NEW.updated_at := now();
            RETURN NEW;
        END
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        "CREATE TRIGGER chat_interactions_touch BEFORE UPDATE ON chat_interactions "
        "FOR EACH ROW EXECUTE FUNCTION atende_touch_updated_at()"
    )
    op.execute(
        """
        CREATE TABLE atende_meta (
            key text PRIMARY KEY,
            value jsonb NOT NULL
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE atende_meta")
    op.execute("DROP TABLE chat_interactions")
    op.execute("DROP FUNCTION atende_touch_updated_at()")
    op.execute("DROP TABLE sectors")
