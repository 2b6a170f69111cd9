"""The schema as the migrations build it, on a database that starts empty."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from storage import migrate
from storage.database import create_engine


@pytest.fixture
async def migrated(empty_db_url):
    engine = create_engine(empty_db_url)
    await migrate.upgrade(engine, 384)
    yield engine
    await engine.dispose()


async def test_migrations_from_empty_reach_head(migrated):
    assert await migrate.current_revision(migrated) == migrate.head_revision()
    async with migrated.connect() as conn:
        extension = await conn.scalar(
            text("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        )
        assert extension is not None
        column = await conn.scalar(
            text(
                "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = 'chat_interactions'::regclass AND attname = 'embedding'"
            )
        )
        assert column == "vector(384)"
        index = await conn.scalar(
            text(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_chat_interactions_embedding'"
            )
        )
        assert "hnsw" in index
        assert "vector_cosine_ops" in index
        types = dict(
            (
                await conn.execute(
                    text(
                        "SELECT column_name, data_type FROM information_schema.columns "
                        "WHERE table_name = 'chat_interactions'"
                    )
                )
            ).all()
        )
        assert types["client_id"] == "uuid"
        assert types["created_at"] == types["updated_at"] == "timestamp with time zone"


async def test_migrating_twice_changes_nothing(migrated):
    await migrate.upgrade(migrated, 384)
    assert await migrate.current_revision(migrated) == migrate.head_revision()


async def _insert(conn, **values) -> int:
    row = {"client_id": uuid.uuid4(), "message": "oi", **values}
    columns = ", ".join(row)
    params = ", ".join(f":{name}" for name in row)
    return await conn.scalar(
        text(f"INSERT INTO chat_interactions ({columns}) VALUES ({params}) RETURNING id"), row
    )


@pytest.mark.parametrize(
    "values",
    [
        {"validated_by": "robot"},
        {"channel": "fax"},
        {"message": ""},
        {"sector": "not-configured"},  # not in the sectors table
        {"sector": "Bad Name"},
    ],
)
async def test_constraints_refuse_bad_rows(migrated, values):
    async with migrated.begin() as conn:
        await conn.execute(text("INSERT INTO sectors (name) VALUES ('geral')"))
    with pytest.raises(IntegrityError):
        async with migrated.begin() as conn:
            await _insert(conn, **values)


async def test_defaults_trigger_and_channel_uniqueness(migrated):
    async with migrated.begin() as conn:
        row_id = await _insert(conn, channel="telegram", channel_account="bot", external_id="u:1")
        before = (
            await conn.execute(
                text(
                    "SELECT validated_by, created_at, updated_at FROM chat_interactions "
                    "WHERE id = :id"
                ),
                {"id": row_id},
            )
        ).one()
        assert before.validated_by == "pending"
        assert before.created_at == before.updated_at
    async with migrated.begin() as conn:
        await conn.execute(
            text("UPDATE chat_interactions SET answer = 'ok' WHERE id = :id"), {"id": row_id}
        )
        after = await conn.scalar(
            text("SELECT updated_at FROM chat_interactions WHERE id = :id"), {"id": row_id}
        )
        assert after > before.updated_at
    with pytest.raises(IntegrityError):
        async with migrated.begin() as conn:
            await _insert(conn, channel="telegram", channel_account="bot", external_id="u:1")
    async with migrated.begin() as conn:
        # The same id on another bot, and REST rows without an id, are distinct messages.
        await _insert(conn, channel="telegram", channel_account="other", external_id="u:1")
        await _insert(conn)
        await _insert(conn)


async def test_migration_sizes_vectors_for_the_configured_model(empty_db_url):
    engine = create_engine(empty_db_url)
    try:
        await migrate.upgrade(engine, 512)
        async with engine.connect() as conn:
            column = await conn.scalar(
                text(
                    "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                    "WHERE attrelid = 'chat_interactions'::regclass AND attname = 'embedding'"
                )
            )
        assert column == "vector(512)"
    finally:
        await engine.dispose()


async def test_answered_at_is_filled_in_for_messages_answered_before_it(empty_db_url):
    # Four messages under revision 0010: answered and sent, answered by approving a
    # suggestion on the REST channel (nothing sent), answered with no trace of when, and
    # auto-sent by its sector (still a suggestion). Revision 0011 dates what it can.
    engine = create_engine(empty_db_url)
    try:
        await migrate.upgrade(engine, 384, revision="0010")
        async with engine.begin() as conn:
            sent = await _insert(conn, validated_by="human", answer="Ok.", channel="telegram")
            approved = await _insert(conn, validated_by="human", answer="Ok.")
            unknown = await _insert(conn, validated_by="human", answer="Ok.")
            auto = await _insert(conn, validated_by="ai", answer="Ok.", channel="telegram")
            waiting = await _insert(conn)
            for interaction_id, at in ((sent, "2026-11-02"), (auto, "2026-11-03")):
                await conn.execute(
                    text(
                        "INSERT INTO deliveries (interaction_id, answer_hash, part, parts,"
                        " channel, recipient, body, created_at)"
                        " VALUES (:id, 'h', 1, 1, 'telegram', '42', 'Ok.', :at)"
                    ),
                    {"id": interaction_id, "at": date.fromisoformat(at)},
                )
            await conn.execute(
                text(
                    "INSERT INTO suggestion_reviews (interaction_id, outcome, suggested_answer,"
                    " created_at) VALUES (:id, 'rejected', 'Não.', '2026-11-04'),"
                    " (:id, 'approved', 'Ok.', '2026-11-05')"
                ),
                {"id": approved},
            )
        await migrate.upgrade(engine, 384)
        async with engine.connect() as conn:
            answered = dict(
                (
                    await conn.execute(
                        text("SELECT id, answered_at::date::text FROM chat_interactions")
                    )
                ).all()
            )
    finally:
        await engine.dispose()
    assert answered == {
        sent: "2026-11-02",
        approved: "2026-11-05",
        unknown: None,
        auto: "2026-11-03",
        waiting: None,
    }


async def test_edits_recorded_before_are_marked_where_they_replaced_the_answer(empty_db_url):
    # Under revision 0016 an edit was an edit: 0017 reads each one's two texts.
    suggested = "Para o Nordeste a entrega leva de 5 a 8 dias úteis."
    reviews = {
        "reworded": ("edited", "No Nordeste a entrega leva de 5 a 8 dias úteis, Maria."),
        "another answer": ("edited", "A segunda via do boleto está em Minha conta."),
        "approved": ("approved", suggested),
        "rejected": ("rejected", None),
    }
    engine = create_engine(empty_db_url)
    try:
        await migrate.upgrade(engine, 384, revision="0016")
        async with engine.begin() as conn:
            message = await _insert(conn, validated_by="human", answer="Ok.")
            ids = {}
            for name, (outcome, final) in reviews.items():
                ids[name] = await conn.scalar(
                    text(
                        "INSERT INTO suggestion_reviews (interaction_id, outcome,"
                        " suggested_answer, final_answer) VALUES (:id, :outcome, :s, :f)"
                        " RETURNING id"
                    ),
                    {"id": message, "outcome": outcome, "s": suggested, "f": final},
                )
        await migrate.upgrade(engine, 384)
        async with engine.connect() as conn:
            marked = dict(
                (await conn.execute(text("SELECT id, replaced FROM suggestion_reviews"))).all()
            )
        with pytest.raises(IntegrityError):
            # Only an edit can have replaced the answer.
            async with engine.begin() as conn:
                await conn.execute(
                    text("UPDATE suggestion_reviews SET replaced = true WHERE id = :id"),
                    {"id": ids["approved"]},
                )
    finally:
        await engine.dispose()
    assert {name: marked[i] for name, i in ids.items()} == {
        "reworded": False,
        "another answer": True,
        "approved": False,
        "rejected": False,
    }
