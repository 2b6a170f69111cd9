"""Channels: customers, what an inbound message carried, and outbound deliveries.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One row per person on a channel (a Telegram user id, a WhatsApp number), whichever
    # of atende's bots or numbers they write to; its id is the client_id of their messages.
    # channel_account is the account they last wrote to.
    op.execute(
        """
        CREATE TABLE customers (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            channel text NOT NULL CHECK (channel IN ('telegram', 'whatsapp')),
            channel_user_id text NOT NULL,
            channel_account text NOT NULL,
            profile_name text,
            last_inbound_at timestamptz NOT NULL DEFAULT now(),
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT customers_channel_user_key UNIQUE (channel, channel_user_id)
        )
        """
    )
    # message_type: text, photo, image, reaction, location... (the channel's own word);
    # media: the platform's media reference (id, mime type, file name), never the bytes;
    # reply_to: where an answer goes (Telegram chat id, WhatsApp number, REST callback URL);
    # update_key: the delivery's own id (Telegram update_id) as a second duplicate guard
    # beside external_id (the message's id on its chat).
    op.execute(
        """
        ALTER TABLE chat_interactions
            ADD COLUMN message_type text NOT NULL DEFAULT 'text',
            ADD COLUMN media jsonb,
            ADD COLUMN reply_to text,
            ADD COLUMN update_key text,
            ADD CONSTRAINT chat_interactions_channel_update_key
                UNIQUE (channel, channel_account, update_key)
        """
    )
    op.execute(
        """
        CREATE TABLE deliveries (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            interaction_id bigint NOT NULL REFERENCES chat_interactions (id) ON DELETE CASCADE,
            answer_hash text NOT NULL,
            part integer NOT NULL CHECK (part >= 1),
            parts integer NOT NULL CHECK (parts >= part),
            channel text NOT NULL CHECK (channel IN ('rest', 'telegram', 'whatsapp')),
            channel_account text NOT NULL DEFAULT '',
            recipient text NOT NULL,
            body text NOT NULL,
            status text NOT NULL DEFAULT 'pending' CHECK (
                status IN ('pending', 'sending', 'sent', 'delivered', 'read', 'failed')
            ),
            platform_message_id text,
            attempts integer NOT NULL DEFAULT 0,
            next_attempt_at timestamptz NOT NULL DEFAULT now(),
            claimed_at timestamptz,
            last_error_code text,
            last_error_reason text,
            sent_at timestamptz,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            -- One send per part of one approved answer, whoever approves it how often.
            CONSTRAINT deliveries_answer_part_key UNIQUE (interaction_id, answer_hash, part)
        )
        """
    )
    op.execute(
        "CREATE INDEX ix_deliveries_due ON deliveries (next_attempt_at, id) "
        "WHERE status = 'pending'"
    )
    op.execute(
        "CREATE INDEX ix_deliveries_platform_message ON deliveries "
        "(channel, channel_account, platform_message_id) WHERE platform_message_id IS NOT NULL"
    )
    op.execute(
        "CREATE TRIGGER deliveries_touch BEFORE UPDATE ON deliveries "
        "FOR EACH ROW EXECUTE FUNCTION atende_touch_updated_at()"
    )


def downgrade() -> None:
    op.execute("DROP TABLE deliveries")
    op.execute(
        """
        ALTER TABLE chat_interactions
            DROP CONSTRAINT chat_interactions_channel_update_key,
            DROP COLUMN update_key,
            DROP COLUMN reply_to,
            DROP COLUMN media,
            DROP COLUMN message_type
        """
    )
    op.execute("DROP TABLE customers")
