"""`hgsync tenant add` (A2): blocks saved with the secrets, prefect.yaml extended, nothing echoed."""

from __future__ import annotations

import shutil

import pytest
from typer.testing import CliRunner

from cli import app
from clients.credentials import GestionixCredentials, HandyCredentials
from ops import deployments

pytestmark = pytest.mark.flow

TOKEN, PASSWORD = "tok-7Qx-never-shown", "pw-9Zr-never-shown"


def test_a2_tenant_add_saves_blocks_and_deployments_without_echoing_secrets(
    prefect_harness, tmp_path, monkeypatch
):
    """A2: the token and password go to SecretStr blocks only — not to prefect.yaml, not to the output."""
    path = tmp_path / "prefect.yaml"
    shutil.copy(deployments.DEFAULT_PREFECT_YAML, path)
    monkeypatch.setenv("HGSYNC_HANDY_TOKEN", TOKEN)
    monkeypatch.setenv("HGSYNC_GESTIONIX_PASSWORD", PASSWORD)
    result = CliRunner().invoke(
        app,
        [
            "tenant",
            "add",
            "abarrotes-lupita",
            "--branch",
            "Sucursal Norte",
            "--company",
            "92",
            "--gestionix-user",
            "ops@lupita.mx",
            "--handy-url",
            "http://127.0.0.1:8701/api/v2",
            "--no-sync-inventory",
            "--file",
            str(path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert TOKEN not in result.output and PASSWORD not in result.output
    text = path.read_text()
    assert TOKEN not in text and PASSWORD not in text
    tenant = deployments.tenant("abarrotes-lupita", path)
    assert tenant.sync_inventory is False and tenant.gestionix_company == 92
    assert {s.name for s in deployments.deployments(path)} >= {
        f"abarrotes-lupita-{k}" for k in deployments.FLOWS
    }
    handy = HandyCredentials.load(tenant.handy_credentials, _sync=True)
    gestionix = GestionixCredentials.load(tenant.gestionix_credentials, _sync=True)
    assert (
        handy.api_token.get_secret_value() == TOKEN
        and handy.base_url == "http://127.0.0.1:8701/api/v2"
    )
    assert gestionix.user == "ops@lupita.mx" and gestionix.password.get_secret_value() == PASSWORD


def test_tenant_add_refuses_a_bad_slug_and_a_duplicate(prefect_harness, tmp_path, monkeypatch):
    path = tmp_path / "prefect.yaml"
    shutil.copy(deployments.DEFAULT_PREFECT_YAML, path)
    monkeypatch.setenv("HGSYNC_HANDY_TOKEN", TOKEN)
    monkeypatch.setenv("HGSYNC_GESTIONIX_PASSWORD", PASSWORD)
    base = ["--branch", "Matriz", "--gestionix-user", "a@b.mx", "--file", str(path)]
    bad = CliRunner().invoke(app, ["tenant", "add", "Bad_Slug", *base])
    assert bad.exit_code != 0 and "slug" in bad.output and TOKEN not in bad.output
    dup = CliRunner().invoke(app, ["tenant", "add", "demo", *base, "--yaml-only"])
    assert dup.exit_code != 0 and "already" in dup.output
