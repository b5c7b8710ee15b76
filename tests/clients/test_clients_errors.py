"""The one error table (RULES X2) and how error bodies are read."""

from __future__ import annotations

import pickle

import httpx
import pytest

from clients.errors import (
    ApiError,
    ClientError,
    Conflict,
    CredentialsError,
    Fatal,
    NotFound,
    Permanent,
    Reauth,
    Retryable,
    ValidationFailed,
    classify,
    error_from_response,
    is_retryable,
    parse_error_body,
    redact,
    retry_condition_fn,
)
from tests.kit.mocked_apis import GX_TOKEN, HANDY_TOKEN, assert_no_secrets


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (429, Retryable),
        (500, Retryable),
        (502, Retryable),
        (503, Retryable),
        (504, Retryable),
        (408, Retryable),
        (599, Retryable),
        (400, ValidationFailed),
        (422, ValidationFailed),
        (404, NotFound),
        (409, Conflict),
        (401, Reauth),
        (403, Permanent),
        (405, Permanent),
        (501, Permanent),
        (302, Permanent),
    ],
)
def test_x2_given_a_status_when_classified_then_retryable_only_for_temporary_failures(
    status, expected
):
    assert classify(status) is expected


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (httpx.ReadTimeout("t"), Retryable),
        (httpx.ConnectTimeout("t"), Retryable),
        (httpx.PoolTimeout("t"), Retryable),
        (httpx.ConnectError("refused"), Retryable),
        (httpx.ReadError("reset"), Retryable),
        (httpx.RemoteProtocolError("dropped"), Retryable),
        (httpx.UnsupportedProtocol("ftp"), Permanent),
        (httpx.TooManyRedirects("loop"), Permanent),
        (RuntimeError("a bug"), Permanent),
    ],
)
def test_x2_given_a_transport_exception_when_classified_then_retryable_for_timeouts_and_drops(
    exc, expected
):
    assert classify(None, exc) is expected


def test_x2_given_permanent_subclasses_then_none_is_retryable():
    for cls in (NotFound, Conflict, ValidationFailed):
        assert issubclass(cls, Permanent) and not issubclass(cls, Retryable)


def test_x2_a_lost_credential_is_fatal_so_no_per_record_handler_catches_it():
    """X2: a 401 after a fresh login is not retried and is not one record's fault: it is Fatal,
    outside ApiError, so `except ApiError` (dead-letter this record) can never swallow it."""
    assert issubclass(CredentialsError, Fatal) and issubclass(CredentialsError, ClientError)
    assert not issubclass(CredentialsError, ApiError)
    with pytest.raises(CredentialsError):
        try:
            raise CredentialsError("bad token", system="handy", status=401)
        except ApiError:  # a per-record handler
            pytest.fail("a per-record handler caught a lost credential")
    assert not is_retryable(CredentialsError("bad token", status=401))
    assert not is_retryable(Reauth("x"))  # handled by one re-login inside the client, never blindly


@pytest.mark.parametrize(
    ("exc", "retried"),
    [
        (Retryable("busy", status=503), True),
        (ValidationFailed("bad price", status=422), False),
        (NotFound("gone", status=404), False),
        (CredentialsError("bad token", status=401), False),
        (httpx.ReadTimeout("t"), True),
        (KeyError("bug"), False),
    ],
)
def test_x2_given_a_failed_prefect_state_when_asking_retry_condition_fn_then_follows_the_table(
    exc, retried
):
    from prefect.states import Failed

    assert retry_condition_fn(None, None, Failed(data=exc)) is retried


def test_x2_given_a_retryable_wrapped_by_a_task_error_then_still_retried():
    try:
        try:
            raise Retryable("busy", status=503)
        except Retryable as inner:
            raise RuntimeError("task failed") from inner
    except RuntimeError as outer:
        assert is_retryable(outer)


def test_given_a_handy_422_body_when_parsed_then_field_errors_keep_the_rejected_value():
    message, fields, _, _ = parse_error_body(
        b'{"errors":[{"object":"com.locus.product.Product","field":"price",'
        b'"rejected-value":"$500.00","message":"La propiedad Precio debe ser un n\xc3\xbamero v\xc3\xa1lido"}]}'
    )
    assert fields == [
        {
            "field": "price",
            "message": "La propiedad Precio debe ser un número válido",
            "rejected_value": "$500.00",
            "object": "com.locus.product.Product",
        }
    ]
    assert message.startswith("price: La propiedad Precio")


def test_given_a_gestionix_422_body_when_parsed_then_message_and_field_errors():
    message, fields, details, _ = parse_error_body(
        b'{"message":"Datos inv\xc3\xa1lidos","errors":[{"field":"tax_id","message":"RFC inv\xc3\xa1lido"}],"code":7}'
    )
    assert message == "Datos inválidos"
    assert fields == [{"field": "tax_id", "message": "RFC inválido"}]
    assert details == {"code": 7}


@pytest.mark.parametrize(
    "body",
    [
        b"<html><head><title>502</title></head><body>Bad gateway "
        + b"x" * 5000
        + b"</body></html>",
        b'{"message": "trunc',
        b"\xff\xfe\x00garbage",
        b"",
        b"null",
        b"[1, 2]",
        b'"just a string"',
        b'{"detail": [{"loc": ["body", "price"], "msg": "field required"}]}',
    ],
)
def test_given_odd_or_truncated_bodies_when_building_an_error_then_never_crashes(body):
    error = error_from_response(system="handy", method="GET", path="/x", status=502, content=body)
    assert isinstance(error, Retryable)
    assert len(str(error)) < 800


def test_given_a_fastapi_style_422_when_parsed_then_field_from_loc():
    _, fields, _, _ = parse_error_body(
        b'{"detail": [{"loc": ["body", "price"], "msg": "field required"}]}'
    )
    assert fields == [{"field": "price", "message": "field required"}]


def test_given_texts_with_secrets_when_redacted_then_masked():
    text = f'Authorization: Bearer {HANDY_TOKEN} {{"password": "hunter22", "access_token": "{GX_TOKEN}"}} {GX_TOKEN}'
    cleaned = redact(text, secrets=[HANDY_TOKEN])
    assert_no_secrets(cleaned)
    assert "hunter22" not in cleaned


def test_given_an_api_error_when_pickled_then_every_field_survives():
    error = Conflict(
        "ya facturada",
        system="gestionix",
        status=409,
        method="DELETE",
        path="/sales/7",
        details={"existing_id": 7},
        attempts=2,
    )
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is Conflict and clone.__getstate__() == error.__getstate__()
    assert str(clone) == str(error)


def test_given_an_error_when_rendered_then_names_system_call_status_and_reason():
    error = NotFound(
        "Producto no encontrado", system="handy", status=404, method="GET", path="/product/X"
    )
    assert str(error) == "handy GET /product/X answered 404: Producto no encontrado"
    assert isinstance(error, ApiError)
