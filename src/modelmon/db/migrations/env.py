"""Alembic environment: migrations run on the connection modelmon hands over."""

from __future__ import annotations

from alembic import context

from modelmon.db.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # `alembic` on the command line: use the configured URL
    from modelmon.db.session import make_engine

    engine = make_engine(context.config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
