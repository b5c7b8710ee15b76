"""The store tests run once on SQLite and once more on PostgreSQL when HGSYNC_TEST_POSTGRES_URL is set."""

from __future__ import annotations

import pytest
from sqlmodel import SQLModel

from store.db import Store
from tests.kit.store_backends import BACKENDS, POSTGRES_URL


@pytest.fixture(params=BACKENDS)
def db(request, tmp_path) -> Store:
    """The store the test hands to every store function (`store=db`)."""
    if request.param == "sqlite":
        return Store(f"sqlite:///{tmp_path / 'store.db'}")
    store = Store(POSTGRES_URL)
    SQLModel.metadata.drop_all(store.engine)
    SQLModel.metadata.create_all(store.engine)
    return store
