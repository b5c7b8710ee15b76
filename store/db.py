"""Engine and sessions. SQLite by default, PostgreSQL (or anything SQLAlchemy speaks) by URL."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import event, make_url, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

from store import models, schema  # noqa: F401  (models registers the tables)

_lock = threading.Lock()
_engines: dict[str, Engine] = {}


def hgsync_home() -> Path:
    return Path(os.environ.get("HGSYNC_HOME", Path.home() / ".hgsync")).expanduser()


def database_url() -> str:
    url = os.environ.get("HGSYNC_DATABASE_URL")
    if url:
        return url
    home = hgsync_home()
    home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home / 'state.db'}"


def normalised_url(url: str) -> str:
    # psycopg 3 is the driver we ship; plain postgresql:// would ask for psycopg2.
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def get_engine(url: str | None = None) -> Engine:
    """One engine per URL per process; the database is migrated to the head revision on first
    use (store/schema.py)."""
    url = normalised_url(url or database_url())
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _create(url)
            schema.upgrade(engine)
            _engines[url] = engine
        return engine


def _create(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            # WAL: readers never block the writer; NORMAL: a commit costs no fsync of the WAL.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    connect_args = {}
    if url.startswith("postgresql"):
        # A lease holder frozen (SIGSTOP, VM pause) inside a fenced transaction keeps the lease
        # row locked (store.leases.fence) and its successor waiting: the server ends a session
        # idle in its transaction for a quarter of the lease TTL (ours are never idle but for a
        # few ms), so the successor still has most of its own TTL when it gets the lease. Store
        # calls run in worker threads (tasks/store_calls.py), so one is nearly always open.
        ttl = float(os.environ.get("HGSYNC_LEASE_TTL_SECONDS", "120"))
        connect_args["options"] = f"-c idle_in_transaction_session_timeout={int(ttl * 250)}"
    return create_engine(
        url, pool_pre_ping=True, pool_size=5, max_overflow=10, connect_args=connect_args
    )


def dispose_all() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def database_now(session: Session) -> datetime:
    """The database server's clock (UTC, aware). Leases and windows are judged by it, so a worker
    whose own clock is minutes off cannot take a live lease or read a window into the future."""
    if session.get_bind().dialect.name == "sqlite":
        text_now = session.execute(text("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')")).scalar_one()
        return datetime.fromisoformat(text_now).replace(tzinfo=UTC)
    dialect = session.get_bind().dialect.name
    # clock_timestamp(), not now(): now() is frozen at the start of the transaction.
    query = "SELECT clock_timestamp()" if dialect == "postgresql" else "SELECT CURRENT_TIMESTAMP"
    value = session.execute(text(query)).scalar_one()
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def database_time(store: Store | None = None) -> datetime:
    with session_scope(store) as session:
        return database_now(session)


class Store:
    """One database, handed to whoever reads or writes it (`store=` of every store function): its
    engine (one per URL per process, migrated on first use), its transactions and its clock.
    `Store()` is the process's store as the environment names it (HGSYNC_DATABASE_URL, else
    SQLite under HGSYNC_HOME); `Store(url)` any other."""

    __slots__ = ("url",)

    def __init__(self, url: str | None = None) -> None:
        self.url = normalised_url(url or database_url())

    def __repr__(self) -> str:  # the URL may carry a password: never shown
        return f"Store({make_url(self.url).render_as_string(hide_password=True)!r})"

    @property
    def engine(self) -> Engine:
        return get_engine(self.url)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise


@contextmanager
def session_scope(store: Store | None = None) -> Iterator[Session]:
    """A transaction on `store` (the environment's store when None)."""
    with (store or Store()).session() as session:
        yield session
