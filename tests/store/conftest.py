"""The store tests run once on SQLite and once more on PostgreSQL when HGSYNC_TEST_POSTGRES_URL is set."""

from __future__ import annotations

import os

import pytest
from sqlmodel import SQLModel

from store.db import get_engine

POSTGRES_URL = os.environ.get("HGSYNC_TEST_POSTGRES_URL")

BACKENDS = [pytest.param("sqlite", id="sqlite")]
BACKENDS.append(
    pytest.param(
        "postgresql",
        id="postgresql",
        marks=pytest.mark.skipif(not POSTGRES_URL, reason="HGSYNC_TEST_POSTGRES_URL not set"),
    )
)


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = POSTGRES_URL
        engine = get_engine(url)
        SQLModel.metadata.drop_all(engine)
        SQLModel.metadata.create_all(engine)
    yield url
