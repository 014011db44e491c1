"""Alembic environment of the case store: runs on the connection ``migrate`` hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from fraudops.cases.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # `alembic upgrade` from a shell, with sqlalchemy.url set
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
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
