"""Blocking a Telegram or WhatsApp customer, and reading one. No HTTP, no rules."""

from __future__ import annotations

import uuid

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.channels import Customer
from storage.models import ChatInteraction
from storage.routing import in_queue


class CustomerRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def get(self, client_id: uuid.UUID) -> Customer | None:
        async with self._sessions() as session:
            return await session.get(Customer, client_id)

    async def block(self, client_id: uuid.UUID, by: str) -> tuple[Customer, list[int]] | None:
        """Block the customer (a second block keeps the first one's time and name) and close
        their messages waiting in the queue, in one transaction; the customer and the ids
        closed, or None when there is no such customer.

        The customer's row lock orders this against the ingest's upsert of the same row, so
        a message arriving meanwhile is either closed here or arrives closed."""
        async with self._sessions.begin() as session:
            customer = await session.get(
                Customer, client_id, with_for_update=True, populate_existing=True
            )
            if customer is None:
                return None
            if customer.blocked_at is None:
                customer.blocked_at = func.now()
                customer.blocked_by = by
                await session.flush()
                await session.refresh(customer, attribute_names=["blocked_at", "blocked_by"])
            closed = await session.scalars(
                update(ChatInteraction)
                .where(ChatInteraction.client_id == client_id, *in_queue())
                .values(
                    closed_at=func.now(),
                    closed_by=by,
                    close_reason="blocked",
                    assigned_to=None,
                    assigned_at=None,
                )
                .returning(ChatInteraction.id)
                .execution_options(synchronize_session=False)
            )
            return customer, sorted(closed)

    async def unblock(self, client_id: uuid.UUID) -> Customer | None:
        """Their next messages wait in the queue again; those closed stay closed."""
        async with self._sessions.begin() as session:
            customer = await session.get(
                Customer, client_id, with_for_update=True, populate_existing=True
            )
            if customer is not None:
                customer.blocked_at = None
                customer.blocked_by = None
            return customer
