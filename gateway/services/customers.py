"""Blocking a customer: an account that sends spam or abuse all day stops filling the queue.

A blocked customer's messages are still stored as they arrive, acknowledged to their
platform and searchable; they arrive closed (reason `blocked`), so no operator is asked to
answer them and nothing is sent back. Blocking also closes those of theirs already waiting.
Unblocking lets their next messages wait again; those closed meanwhile stay closed, each
can be reopened. Only Telegram and WhatsApp customers are blocked: a REST client is the
integrator's own to stop.
"""

from __future__ import annotations

import uuid

import structlog

from config.errors import NotFound
from gateway.services.assignments import Actor
from storage.channels import Customer
from storage.customers import CustomerRepository

log = structlog.get_logger(__name__)


def _unknown(client_id: uuid.UUID) -> NotFound:
    return NotFound(
        f"no Telegram or WhatsApp customer with id {client_id} (REST clients are not blocked "
        "here: the integrator stops them)"
    )


class CustomerService:
    def __init__(self, repository: CustomerRepository) -> None:
        self._repository = repository

    async def get(self, client_id: uuid.UUID) -> Customer:
        customer = await self._repository.get(client_id)
        if customer is None:
            raise _unknown(client_id)
        return customer

    async def block(self, client_id: uuid.UUID, actor: Actor) -> tuple[Customer, list[int]]:
        """The customer, blocked, and the ids of their waiting messages this closed."""
        blocked = await self._repository.block(client_id, actor.name)
        if blocked is None:
            raise _unknown(client_id)
        customer, closed = blocked
        log.info("customer_blocked", client_id=str(client_id), by=actor.name, closed=len(closed))
        return customer, closed

    async def unblock(self, client_id: uuid.UUID, actor: Actor) -> Customer:
        customer = await self._repository.unblock(client_id)
        if customer is None:
            raise _unknown(client_id)
        log.info("customer_unblocked", client_id=str(client_id), by=actor.name)
        return customer
