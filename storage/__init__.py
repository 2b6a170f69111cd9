"""atende's storage: PostgreSQL with pgvector, reached through SQLAlchemy's asyncio API."""
