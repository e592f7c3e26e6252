"""Persistence: SQLModel tables, the queries the core runs, and Alembic migrations."""
