"""The databases the store tests run on: SQLite always, PostgreSQL when
HGSYNC_TEST_POSTGRES_URL is set."""

from __future__ import annotations

import os

import pytest

POSTGRES_URL = os.environ.get("HGSYNC_TEST_POSTGRES_URL")

BACKENDS = [pytest.param("sqlite", id="sqlite")]
BACKENDS.append(
    pytest.param(
        "postgresql",
        id="postgresql",
        marks=pytest.mark.skipif(not POSTGRES_URL, reason="HGSYNC_TEST_POSTGRES_URL not set"),
    )
)
