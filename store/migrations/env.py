"""Alembic environment: migrates the connection store.schema hands over, or (the `alembic`
command line) the store of HGSYNC_DATABASE_URL / HGSYNC_HOME, like every hgsync process."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

from store import models  # noqa: F401  (registers the tables)

target_metadata = SQLModel.metadata


def _render_item(kind: str, item: Any, _autogen_context: Any) -> str | bool:
    # SQLModel's str columns are plain VARCHARs: revisions spell them sa.String, not sqlmodel's type
    if kind == "type" and isinstance(item, AutoString):
        return f"sa.String(length={item.length!r})"
    return False


def _migrate(connection) -> None:
    context.configure(
        connection=connection, target_metadata=target_metadata, render_item=_render_item
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _migrate(connection)
else:
    from sqlalchemy import create_engine

    from store.db import database_url, normalised_url

    engine = create_engine(
        context.config.get_main_option("sqlalchemy.url") or normalised_url(database_url())
    )
    with engine.connect() as opened:
        _migrate(opened)
    engine.dispose()
