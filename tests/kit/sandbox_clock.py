"""The instant the sandbox tests freeze the sandbox's clock at."""

from __future__ import annotations

from datetime import UTC, datetime

FROZEN_AT = datetime(2026, 11, 27, 18, 0, 30, tzinfo=UTC).timestamp()
