"""prefect.yaml is read by `prefect deploy` as YAML 1.1 (PyYAML safe_load): every value
`hgsync tenant add` writes must come back from that reader exactly as written (A2's tenant
parameters, A1's sucursal and company, the slugs of S1-S3's deployments)."""

from __future__ import annotations

import shutil

import pytest
from rich.console import Console

from mappings.tenant import TenantConfig
from ops import deployments

# Strings a YAML 1.1 reader turns into something else when written plain, and strings that need
# quoting or escaping in any YAML.
HOSTILE = [
    "yes",
    "No",
    "on",
    "OFF",
    "y",
    "n",
    "true",
    "False",
    "~",
    "null",
    "Null",
    "",
    "12:30",
    "1:02:03",
    "0123",
    "0o17",
    "1e3",
    "1_000",
    "0x1F",
    "0b101",
    "1.5",
    ".inf",
    "-.nan",
    "2026-11-27",
    "2026-11-27 08:00:00",
    " leading",
    "trailing ",
    "  ",
    "*alias",
    "&anchor",
    "# comment",
    "a # b",
    "key: value",
    "'single'",
    '"double"',
    "it's",
    "back\\slash",
    "line\nbreak",
    "tab\there",
    "nul\x00byte",
    "- dash",
    "? question",
    "!tag",
    "%percent",
    "@at",
    "`tick",
    "[list]",
    "{map}",
    "a, b",
    "Sucursal Peñón",
    "Café “Norte”",
    "=",
    "<<",
]


def prefect_deploy_reads(path) -> list[dict]:
    """The deployments exactly as `prefect deploy` loads them (its own reader and model)."""
    from prefect.cli.deploy._config import _load_deploy_configs_and_actions

    configs, _actions = _load_deploy_configs_and_actions(path, console=Console(quiet=True))
    return configs


@pytest.fixture
def yaml_copy(tmp_path):
    path = tmp_path / "prefect.yaml"
    shutil.copy(deployments.DEFAULT_PREFECT_YAML, path)
    return path


@pytest.mark.parametrize("value", HOSTILE, ids=[repr(v) for v in HOSTILE])
def test_a1_hostile_branch_and_company_read_by_prefect_deploy_as_written(yaml_copy, value):
    """A1: a sucursal or company called `yes`, `12:30`, `0123`, `~`... reaches the flow as that
    string, through the very loader `prefect deploy` uses, and through `hgsync run`'s reader."""
    config = TenantConfig(  # an empty or blank branch is refused by TenantConfig itself
        slug="lupita",
        gestionix_branch=value if value.strip() else "Matriz",
        gestionix_company=value or None,
        handy_credentials="lupita-handy",
        gestionix_credentials="lupita-gestionix",
    )
    deployments.add_tenant(config, yaml_copy)
    wanted = config.model_dump(mode="json")
    ours = [d for d in prefect_deploy_reads(yaml_copy) if d["name"].startswith("lupita-")]
    assert len(ours) == len(deployments.FLOWS)
    for deployment in ours:
        assert deployment["parameters"]["tenant"] == wanted, deployment["name"]
        assert TenantConfig(**deployment["parameters"]["tenant"]) == config
    assert deployments.tenant("lupita", yaml_copy) == config
    assert deployments.find("lupita", "orders", yaml_copy).tenant == config


@pytest.mark.parametrize("value", HOSTILE, ids=[repr(v) for v in HOSTILE])
def test_every_hostile_string_round_trips_through_yaml_1_1_as_key_and_value(tmp_path, value):
    import yaml

    path = tmp_path / "values.yaml"
    with path.open("w", encoding="utf-8") as handle:
        deployments._yaml().dump(
            deployments.quoted_where_needed({value: [value, {"v": value}]}), handle
        )
    with path.open(encoding="utf-8") as handle:
        assert yaml.safe_load(handle) == {value: [value, {"v": value}]}


@pytest.mark.parametrize("slug", ["yes", "no", "on", "off", "null", "0123", "1e3", "1-2", "y"])
def test_s3_hostile_slugs_name_their_deployments_as_written(yaml_copy, slug):
    """S3 relies on one deployment per tenant x flow: a slug that YAML 1.1 would read as a bool,
    a number or null keeps its name, its tags and its tenant key."""
    config = TenantConfig(
        slug=slug,
        gestionix_branch="Matriz",
        handy_credentials=f"{slug}-handy",
        gestionix_credentials=f"{slug}-gestionix",
    )
    deployments.add_tenant(config, yaml_copy)
    ours = [d for d in prefect_deploy_reads(yaml_copy) if d["parameters"]["tenant"]["slug"] == slug]
    assert sorted(d["name"] for d in ours) == sorted(f"{slug}-{key}" for key in deployments.FLOWS)
    assert all(d["tags"][0] == f"tenant:{slug}" for d in ours)
    assert slug in deployments.tenants(yaml_copy)


def test_ordinary_values_stay_plain_and_the_file_stays_ascii(yaml_copy):
    """Only what needs quoting is quoted (the file stays readable), and non-ASCII is escaped so
    the file reads the same in any locale's encoding."""
    config = TenantConfig(
        slug="abarrotes-lupita",
        gestionix_branch="Sucursal Norte",
        gestionix_company="Peñón 12:30",
        handy_credentials="abarrotes-lupita-handy",
        gestionix_credentials="abarrotes-lupita-gestionix",
    )
    deployments.add_tenant(config, yaml_copy)
    text = yaml_copy.read_text(encoding="utf-8")
    assert "gestionix_branch: Sucursal Norte\n" in text
    assert "handy_timezone: America/Mexico_City\n" in text
    assert text.isascii()
    assert deployments.tenant("abarrotes-lupita", yaml_copy).gestionix_company == "Peñón 12:30"


@pytest.mark.parametrize("value", ["yes", "OFF", "12:30", "0123", "~", "1e3"])
def test_a7_tenant_set_writes_hostile_values_read_by_prefect_deploy_as_written(yaml_copy, value):
    """A7: changing a setting with `tenant set` quotes like `tenant add` does."""
    config = TenantConfig(
        slug="lupita",
        gestionix_branch="Matriz",
        handy_credentials="lupita-handy",
        gestionix_credentials="lupita-gestionix",
    )
    deployments.add_tenant(config, yaml_copy)
    changed = config.model_copy(update={"gestionix_branch": value, "gestionix_company": value})
    deployments.update_tenant(changed, yaml_copy)
    ours = [d for d in prefect_deploy_reads(yaml_copy) if d["name"].startswith("lupita-")]
    assert ours and all(d["parameters"]["tenant"] == changed.model_dump(mode="json") for d in ours)
