"""The mocked hosts and credentials of the client tests, and the check that none of the secrets
shows in a text."""

from __future__ import annotations

HANDY_URL = "https://hub.handy.test/api/v2"
GESTIONIX_URL = "https://api.gestionix.test/api/v3"
HANDY_TOKEN = "handy-token-SECRET-4f9a1c"
GX_USER = "ops@tenant.test"
GX_PASSWORD = "gx-password-SECRET-77"
GX_TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyIjo5M30.c2lnbmF0dXJl"
GX_TOKEN_2 = "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyIjo5NH0.c2lnbmF0dXJlMg"
SECRETS = (HANDY_TOKEN, GX_PASSWORD, GX_TOKEN, GX_TOKEN_2)


def assert_no_secrets(*texts: object) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in str(text), f"secret leaked into {text!r}"
