"""The store's schema is Alembic's (store/migrations): each process brings a database to the
head revision the first time it opens it (store.db.get_engine), on SQLite and PostgreSQL alike.

A database already at HEAD costs one small query and no Alembic import (scheduled runs start
often). A store made before Alembic (tables created by SQLModel's create_all, no version table)
is upgraded like an empty one: the first revision creates only the tables and indexes it lacks,
so its rows stay and it is recorded at that revision. On PostgreSQL an advisory lock makes
concurrent workers migrate one at a time; the others then find it done.
"""

from __future__ import annotations

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

HEAD = "0001"  # the newest revision in store/migrations/versions (tests check it is Alembic's head)
VERSION_TABLE = "alembic_version"
_PG_LOCK = 0x68677379  # pg_advisory_xact_lock key: "hgsy"


def upgrade(engine: Engine) -> None:
    """Bring the database behind `engine` to HEAD (nothing to do when it is there already)."""
    with engine.connect() as connection:
        if revision(connection) == HEAD:
            return
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})
            if revision(connection) != HEAD:
                from alembic import command  # only when there is something to migrate

                command.upgrade(alembic_config(connection), "head")
    except DBAPIError:
        # SQLite has no advisory lock: a process that opened the same new file at the same
        # moment may have recorded the revision first. Its work is as good as ours.
        with engine.connect() as connection:
            if revision(connection) != HEAD:
                raise


def revision(connection: Connection) -> str | None:
    """The database's Alembic revision; None when it has no version table (empty, or pre-Alembic)."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    return connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def alembic_config(connection: Connection | None = None):
    """Alembic's configuration for store/migrations; with `connection`, migrations run on it
    (inside the caller's transaction)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "store:migrations")
    if connection is not None:
        config.attributes["connection"] = connection
    return config
