"""Issue 21 (item 7): the store's schema is Alembic's. `alembic upgrade head` on an empty database
gives exactly the SQLModel models (autogenerate finds nothing to do), on SQLite and, when
HGSYNC_TEST_POSTGRES_URL is set, on PostgreSQL; a store made before Alembic is brought under it
with its rows; every process migrates the store it opens (store.db.get_engine)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from mappings.bindings import BindingStatus, Entity
from store import binder, schema
from store.db import Store, dispose_all, get_engine, normalised_url
from store.models import Binding, LeftOut
from tests.kit.store_backends import BACKENDS, POSTGRES_URL


@pytest.fixture(params=BACKENDS)
def empty_url(request, tmp_path) -> Iterator[str]:
    """A database with none of our tables and no Alembic version."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    url = normalised_url(POSTGRES_URL)
    dispose_all()  # no pooled connection of another test holds a lock on what is dropped
    engine = create_engine(url)
    SQLModel.metadata.drop_all(engine)
    with engine.begin() as connection:
        connection.execute(text(f"DROP TABLE IF EXISTS {schema.VERSION_TABLE}"))
    engine.dispose()
    yield url
    dispose_all()


@pytest.fixture
def engine(empty_url) -> Iterator[Engine]:
    engine = create_engine(empty_url)
    yield engine
    engine.dispose()


def differences(engine: Engine) -> list:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, SQLModel.metadata)


def test_the_head_constant_is_alembics_head():
    """store.schema.HEAD (the fast path of every process start) names the newest revision."""
    assert ScriptDirectory.from_config(schema.alembic_config()).get_current_head() == schema.HEAD


def test_upgrade_head_on_an_empty_database_gives_exactly_the_models(engine):
    with engine.begin() as connection:
        command.upgrade(schema.alembic_config(connection), "head")
        assert schema.revision(connection) == schema.HEAD
    assert differences(engine) == []


def test_the_check_sees_a_model_the_migrations_lack(engine):
    """The comparison can fail: a table the models have and the database lacks is reported."""
    with engine.begin() as connection:
        command.upgrade(schema.alembic_config(connection), "head")
        connection.execute(text("DROP TABLE leftout"))
    found = differences(engine)
    assert [(diff[0], diff[1].name) for diff in found] == [
        ("add_table", "leftout"),
        ("add_index", "ix_leftout_tenant"),
    ]


def test_the_store_migrates_an_empty_database_when_it_opens_it(empty_url):
    store_engine = get_engine(empty_url)
    with store_engine.connect() as connection:
        assert schema.revision(connection) == schema.HEAD
    assert differences(store_engine) == []
    binder.bind(
        "acme", Entity.ORDER, "1", None, status=BindingStatus.INTENT, store=Store(empty_url)
    )
    assert (
        binder.get("acme", Entity.ORDER, "1", store=Store(empty_url)).status == BindingStatus.INTENT
    )


@pytest.mark.parametrize(
    "missing", [None, LeftOut.__tablename__], ids=["all-tables", "older-store"]
)
def test_a_store_made_before_alembic_keeps_its_rows_and_is_recorded_at_head(
    engine, empty_url, missing
):
    """A store created by create_all (no version table), possibly before the left-out table
    existed: opening it creates what it lacks, keeps every row, and records the head revision."""
    tables = [t for t in SQLModel.metadata.sorted_tables if t.name != missing]
    SQLModel.metadata.create_all(engine, tables=tables)
    synced = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    with Session(engine) as session:
        session.add(
            Binding(
                tenant="acme",
                entity="order",
                handy_key="7",
                gestionix_key="sale:9",
                status="pushed",
                data={"folio": "A-1"},
                synced_at=synced,
            )
        )
        session.commit()

    store_engine = get_engine(empty_url)

    with store_engine.connect() as connection:
        assert schema.revision(connection) == schema.HEAD
        assert inspect(connection).has_table(LeftOut.__tablename__)
    assert differences(store_engine) == []
    with Session(store_engine) as session:
        (kept,) = session.exec(select(Binding)).all()
    assert (kept.handy_key, kept.gestionix_key, kept.status, kept.data) == (
        "7",
        "sale:9",
        "pushed",
        {"folio": "A-1"},
    )
    assert kept.status == BindingStatus.PUSHED and kept.entity == Entity.ORDER


def test_a_store_at_head_is_not_migrated_again(empty_url, monkeypatch):
    """Scheduled runs open the store often: at head, Alembic is not even called."""
    get_engine(empty_url)
    dispose_all()
    monkeypatch.setattr(
        command, "upgrade", lambda *_: pytest.fail("migrated a store already at head")
    )
    with get_engine(empty_url).connect() as connection:
        assert schema.revision(connection) == schema.HEAD
