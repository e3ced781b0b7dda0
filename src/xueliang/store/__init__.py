"""Storage: SQLAlchemy models, repositories and Alembic migrations (SQLite by default, PostgreSQL in production)."""
