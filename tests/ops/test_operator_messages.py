"""Errors a person can act on (issue 19, part 5) and a demo/sandbox that never damages a deployment
(part 4): each message names what failed and what to do, in one line, without a traceback."""

from __future__ import annotations

import asyncio
import shutil
import socket

import httpx
import prefect  # noqa: F401  (Prefect configures its logging here, not inside a CliRunner)
import pytest
from typer.testing import CliRunner

from cli import app
from clients.errors import Unreachable
from clients.gestionix import GestionixClient
from clients.handy import HandyClient
from clients.ratelimit import RetryPolicy
from ops import deployments
from store import runs

ONE_TRY = RetryPolicy(max_attempts=1)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_refused_connection_names_the_system_and_its_url():
    url = f"http://127.0.0.1:{_closed_port()}/api/v2"

    async def call():
        async with HandyClient(url, "tok", tenant="t", retry_policy=ONE_TRY) as handy:
            await handy.list_users()

    with pytest.raises(Unreachable) as caught:
        asyncio.run(call())
    assert str(caught.value).startswith(f"Handy at {url} refused the connection")


def test_dns_failure_names_the_system_and_its_url():
    def no_such_host(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno -2] Name or service not known", request=request)

    url = "https://api.gestionix.invalid/api/v3"

    async def call():
        async with GestionixClient(
            url,
            "u@x.mx",
            "pw-secret",
            tenant="t",
            retry_policy=ONE_TRY,
            transport=httpx.MockTransport(no_such_host),
        ) as gestionix:
            await gestionix.list_companies()

    with pytest.raises(Unreachable) as caught:
        asyncio.run(call())
    text = str(caught.value)
    assert text.startswith(f"Gestionix at {url} cannot be reached: its host name is not found")
    assert "pw-secret" not in text


@pytest.fixture
def yaml_copy(tmp_path):
    path = tmp_path / "prefect.yaml"
    shutil.copy(deployments.DEFAULT_PREFECT_YAML, path)
    return path


@pytest.mark.flow
def test_a4_tenant_check_on_stopped_systems_names_both_urls_and_gives_up_after_two_tries(
    prefect_harness, yaml_copy
):
    """A stopped sandbox: each system's line names its URL; the check does not spend a run's
    retry budget (2 attempts, not 6), so it ends in seconds."""
    from clients.credentials import GestionixCredentials, HandyCredentials

    handy_url = f"http://127.0.0.1:{_closed_port()}/api/v2"
    gestionix_url = f"http://127.0.0.1:{_closed_port()}/api/v3"
    HandyCredentials(base_url=handy_url, api_token="tok").save(
        "demo-handy", overwrite=True, _sync=True
    )
    GestionixCredentials(base_url=gestionix_url, user="u", password="pw").save(
        "demo-gestionix", overwrite=True, _sync=True
    )
    result = CliRunner().invoke(app, ["tenant", "check", "demo", "--file", str(yaml_copy)])
    assert result.exit_code == 1
    assert f"FAIL Handy credentials: Handy at {handy_url} refused the connection" in result.output
    assert f"Gestionix at {gestionix_url} refused the connection" in result.output
    assert "(after 2 attempts)" in result.output and "Traceback" not in result.output


@pytest.mark.flow
def test_a4_run_before_activation_fails_in_one_line_without_traceback(prefect_harness, yaml_copy):
    result = CliRunner().invoke(
        app, ["run", "orders", "--tenant", "demo", "--file", str(yaml_copy)]
    )
    assert result.exit_code == 1
    expected = (
        "demo-orders: Failed — tenant demo has no orders cursor: run activate first (RULES A4), "
        "or pass since (a backfill start date)"
    )
    assert result.stdout.strip().splitlines() == [expected]
    assert "Traceback" not in result.stdout + result.stderr


def test_run_with_an_unknown_tenant_lists_the_known_ones(yaml_copy):
    result = CliRunner().invoke(
        app, ["run", "orders", "--tenant", "nosuch", "--file", str(yaml_copy)]
    )
    assert result.exit_code == 1
    assert "tenant 'nosuch' is not in prefect.yaml; known tenants: demo" in result.output


def test_run_with_an_unknown_flow_lists_the_flows(yaml_copy):
    result = CliRunner().invoke(app, ["run", "order", "--tenant", "demo", "--file", str(yaml_copy)])
    assert (
        result.exit_code == 1
        and "no flow 'order'; the flows are: catalog, customers, orders" in result.output
    )


def test_report_on_an_unknown_tenant_fails_with_a_message(yaml_copy):
    result = CliRunner().invoke(app, ["report", "--tenant", "nosuch", "--file", str(yaml_copy)])
    assert result.exit_code == 1
    assert (
        "tenant 'nosuch' is not in prefect.yaml; known tenants: demo; and the store has no run"
        in result.output
    )


def test_report_of_a_removed_tenant_still_shows_its_history(yaml_copy):
    """A7: a tenant removed from prefect.yaml keeps its store rows, and they stay reportable."""
    run_id = runs.start("gone", "orders")
    runs.finish("gone", run_id, counts={"read": 1}, status="completed", summary="1 read")
    result = CliRunner().invoke(app, ["report", "--tenant", "gone", "--file", str(yaml_copy)])
    assert result.exit_code == 0, result.output


def test_report_table_keeps_the_dry_run_mark(yaml_copy):
    """ "[dry run] …" is text, not Rich markup: the table must show it."""
    run_id = runs.start("demo", "catalog", dry_run=True)
    runs.finish(
        "demo", run_id, counts={"read": 3}, status="completed", summary="[dry run] would create 3"
    )
    result = CliRunner().invoke(app, ["report", "--tenant", "demo", "--file", str(yaml_copy)])
    assert result.exit_code == 0, result.output
    assert "[dry run] would create 3" in result.output


def test_tenant_add_refuses_a_bad_slug_before_asking_for_secrets(yaml_copy, monkeypatch):
    monkeypatch.delenv("HGSYNC_HANDY_TOKEN", raising=False)
    monkeypatch.delenv("HGSYNC_GESTIONIX_PASSWORD", raising=False)
    result = CliRunner().invoke(
        app,
        ["tenant", "add", "Bad Slug!", "--branch", "Matriz", "--file", str(yaml_copy)],
        input="",
    )
    assert result.exit_code == 1
    assert result.output.strip() == (
        "tenant 'Bad Slug!': a slug is 1-63 lowercase letters, digits or dashes, not starting or "
        "ending with a dash (e.g. abarrotes-lupita)"
    )


def test_tenant_add_explains_a_bad_setting_in_one_line(yaml_copy, monkeypatch):
    monkeypatch.setenv("HGSYNC_HANDY_TOKEN", "tok")
    monkeypatch.setenv("HGSYNC_GESTIONIX_PASSWORD", "pw")
    result = CliRunner().invoke(
        app,
        [
            "tenant",
            "add",
            "lupita",
            "--branch",
            "Matriz",
            "--gestionix-user",
            "a@b.mx",
            "--handy-url",
            "hub.handy.la/api/v2",
            "--yaml-only",
            "--file",
            str(yaml_copy),
        ],
    )
    assert result.exit_code == 1
    assert (
        result.output.strip()
        == "tenant lupita: base_url: base_url 'hub.handy.la/api/v2' must start with http:// or https://"
    )


def test_sandbox_on_a_busy_port_says_so_in_one_line():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = CliRunner().invoke(
            app,
            [
                "sandbox",
                "--handy-port",
                str(port),
                "--gestionix-port",
                "0",
                "--products",
                "5",
                "--customers",
                "2",
            ],
        )
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Handy sandbox: port {port} on 127.0.0.1 is in use (Address already in use); "
        "stop what holds it or pass --handy-port N (0 = any free port)"
    )
    assert "Traceback" not in result.stdout


@pytest.mark.flow
def test_demo_never_overwrites_the_demo_tenants_blocks(
    prefect_harness, monkeypatch, tmp_path, capsys
):
    """`hgsync demo` with 8701 busy (a running `hgsync sandbox`) says so, uses free ports, and saves
    its own blocks: the deployed demo tenant's blocks keep their URLs and secrets."""
    from clients.credentials import GestionixCredentials, HandyCredentials
    from ops.demo import HANDY_PORT, run_demo

    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", HANDY_PORT))
        holder.listen()
    except OSError:
        pass  # already busy: the demo meets the same situation

    monkeypatch.setenv(
        "HGSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'unused.db'}"
    )  # restored after the test
    HandyCredentials(base_url="http://127.0.0.1:8701/api/v2", api_token="deployed").save(
        "demo-handy", overwrite=True, _sync=True
    )
    GestionixCredentials(
        base_url="http://127.0.0.1:8702/api/v3", user="u", password="deployed"
    ).save("demo-gestionix", overwrite=True, _sync=True)
    try:
        assert run_demo(products=20, customers=5, cycles=1) == 0
    finally:
        holder.close()
    assert "ports 8701/8702 are busy" in capsys.readouterr().out
    handy = HandyCredentials.load("demo-handy", _sync=True)
    gestionix = GestionixCredentials.load("demo-gestionix", _sync=True)
    assert (
        handy.api_token.get_secret_value() == "deployed"
        and handy.base_url == "http://127.0.0.1:8701/api/v2"
    )
    assert gestionix.password.get_secret_value() == "deployed"
    assert (
        HandyCredentials.load("demo-run-handy", _sync=True).api_token.get_secret_value()
        == "demo-handy-token"
    )
