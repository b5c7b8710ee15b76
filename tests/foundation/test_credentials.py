"""Credential blocks (A2): secrets never appear in repr, str, dumps, logs or exceptions."""

from __future__ import annotations

import logging

import pytest
from pydantic import ValidationError

from clients.credentials import GestionixCredentials, HandyCredentials

TOKEN = "handy-token-7f3c-SECRET"
PASSWORD = "gx-password-91ab-SECRET"


def _renderings(block) -> list[str]:
    return [repr(block), str(block), block.model_dump_json(), str(block.model_dump()), f"{block}"]


def test_a2_secrets_hidden_in_repr_and_dumps():
    """A2: the token and the password never show when a block is printed or serialised."""
    handy = HandyCredentials(api_token=TOKEN)
    gestionix = GestionixCredentials(user="ops@example.mx", password=PASSWORD)
    for text in _renderings(handy) + _renderings(gestionix):
        assert TOKEN not in text and PASSWORD not in text
    assert handy.api_token.get_secret_value() == TOKEN
    assert gestionix.password.get_secret_value() == PASSWORD


def test_a2_secrets_hidden_in_logs(caplog):
    caplog.set_level(logging.DEBUG)
    logger = logging.getLogger("hgsync.test")
    handy = HandyCredentials(api_token=TOKEN)
    gestionix = GestionixCredentials(user="ops@example.mx", password=PASSWORD)
    logger.debug("loaded %r and %s", handy, gestionix)
    assert caplog.text and TOKEN not in caplog.text and PASSWORD not in caplog.text


def test_a2_secrets_hidden_in_validation_errors():
    with pytest.raises(ValidationError) as error:
        HandyCredentials(api_token=TOKEN, base_url="not-a-url")
    assert TOKEN not in str(error.value)
    with pytest.raises(ValidationError) as error:
        GestionixCredentials(user="ops@example.mx", password=PASSWORD, base_url="ftp://x")
    assert PASSWORD not in str(error.value)


def test_base_url_is_normalised():
    assert HandyCredentials(api_token=TOKEN, base_url="http://127.0.0.1:8701/api/v2/").base_url == (
        "http://127.0.0.1:8701/api/v2"
    )
