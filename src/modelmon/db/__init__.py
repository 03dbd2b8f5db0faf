"""The metadata database: SQLAlchemy models, sessions and Alembic migrations."""

from modelmon.db.session import Database, database_url

__all__ = ["Database", "database_url"]
