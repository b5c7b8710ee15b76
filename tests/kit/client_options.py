"""Clients built with test options (short timeouts, a fault-injecting transport) through the
seam every run uses: the credential blocks' get_client()."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from clients.credentials import GestionixCredentials, HandyCredentials


def build_clients_with(
    patch: pytest.MonkeyPatch,
    *,
    handy: Mapping[str, Any] | None = None,
    gestionix: Mapping[str, Any] | None = None,
) -> None:
    """Until `patch` is undone, every client the blocks build gets these keyword arguments
    (they win over the caller's: a test's 0.5 s timeout beats a run's 30 s)."""
    for block, options in ((HandyCredentials, handy), (GestionixCredentials, gestionix)):
        if options:
            patch.setattr(block, "get_client", _with_options(block.get_client, dict(options)))


def _with_options(get_client: Any, options: dict[str, Any]) -> Any:
    def get_client_with_options(self: Any, **kwargs: Any) -> Any:
        return get_client(self, **{**kwargs, **options})

    return get_client_with_options
