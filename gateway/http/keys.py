"""Typed keys for what the application holds, set in `gateway.app`'s cleanup contexts."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from config.sectors import SectorCatalog
from config.settings import Settings
from gateway.embeddings import Embedder
from gateway.http.shared_reads import SharedReads
from gateway.telemetry.metrics import Metrics

if TYPE_CHECKING:
    pass

SETTINGS = web.AppKey("settings", Settings)
SECTORS = web.AppKey("sectors", SectorCatalog)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONS = web.AppKey("sessions", async_sessionmaker[AsyncSession])
EMBEDDER = web.AppKey("embedder", Embedder)
EMBEDDING_WORKER = web.AppKey("embedding_worker", "EmbeddingWorker")
MESSAGES = web.AppKey("messages", "MessageService")
PIPELINE = web.AppKey("pipeline", "PipelineWorker")
OPERATORS = web.AppKey("operators", "OperatorService")
ASSIGNMENTS = web.AppKey("assignments", "AssignmentService")
REPLIES = web.AppKey("replies", "ReplyService")
NOTES = web.AppKey("notes", "NoteService")
CUSTOMERS = web.AppKey("customers", "CustomerService")
KNOWLEDGE = web.AppKey("knowledge", "KnowledgeBase")
CONNECTORS = web.AppKey("connectors", "ConnectorRegistry")
INBOUND = web.AppKey("inbound", "InboundService")
OUTBOX = web.AppKey("outbox", "Outbox")
DELIVERY_WORKER = web.AppKey("delivery_worker", "DeliveryWorker")
# Called once a new message is durable: wakes whichever worker will embed it.
ON_STORED = web.AppKey("on_stored", Callable[[], None])
# The consoles' live feed (gateway.services.activity), woken by this process's changes.
ACTIVITY = web.AppKey("activity", "ActivityHub")
QUEUE_READS = web.AppKey("queue_reads", SharedReads)
API_KEYS = web.AppKey("api_keys", "ApiKeyService")
METRICS = web.AppKey("metrics", Metrics)
ANALYTICS = web.AppKey("analytics", "AnalyticsService")
