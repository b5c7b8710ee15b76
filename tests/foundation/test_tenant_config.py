"""TenantConfig (RULES A1-A3): fields, defaults, and clear errors naming the field."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mappings.tenant import TenantConfig

BASE = {
    "slug": "abarrotes-lupita",
    "gestionix_branch": "Matriz",
    "handy_credentials": "h",
    "gestionix_credentials": "g",
}


def test_a3_switch_defaults():
    """A3: sync_customers, sync_inventory, sync_deletions, sync_customer_address and
    treat_all_as_sales_orders are all on by default."""
    tenant = TenantConfig(**BASE)
    assert (
        tenant.sync_customers,
        tenant.sync_inventory,
        tenant.sync_deletions,
        tenant.sync_customer_address,
        tenant.treat_all_as_sales_orders,
    ) == (True, True, True, True, True)
    assert tenant.handy_timezone == "America/Mexico_City"
    assert tenant.gestionix_company is None


def test_a1_one_tenant_names_exactly_one_branch_and_company():
    """A1: one sucursal chosen by name; company by id or name."""
    assert TenantConfig(**BASE, gestionix_company="92").gestionix_company == 92
    assert (
        TenantConfig(**BASE, gestionix_company=" Abarrotes SA ").gestionix_company == "Abarrotes SA"
    )
    assert (
        TenantConfig(**{**BASE, "gestionix_branch": "  Sucursal Norte "}).gestionix_branch
        == "Sucursal Norte"
    )


def test_a2_config_holds_block_names_not_secrets():
    """A2: secrets live in blocks; the tenant parameters refuse unknown keys such as a token."""
    with pytest.raises(ValidationError, match="api_token"):
        TenantConfig(**BASE, api_token="oops")
    assert "password" not in TenantConfig.model_json_schema()["properties"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("slug", "Abarrotes_Lupita", "slug"),
        ("slug", "-lupita", "slug"),
        ("slug", "", "slug"),
        ("gestionix_branch", "   ", "gestionix_branch"),
        ("handy_credentials", "", "handy_credentials"),
        ("handy_timezone", "Mars/Olympus", "handy_timezone"),
        ("order_lookback_minutes", -5, "order_lookback_minutes"),
        ("sync_inventory", "maybe", "sync_inventory"),
    ],
)
def test_invalid_values_name_the_field(field, value, message):
    with pytest.raises(ValidationError) as error:
        TenantConfig(**{**BASE, field: value})
    assert message in str(error.value)


def test_every_field_is_described_for_the_prefect_form():
    schema = TenantConfig.model_json_schema()
    missing = [name for name, prop in schema["properties"].items() if not prop.get("description")]
    assert missing == []


def test_p7_c3_mass_disable_threshold_defaults_to_10_percent_and_stays_in_0_100():
    """Deletion protection: 10 % unless the tenant says otherwise; 0 < x <= 100."""
    assert TenantConfig(**BASE).mass_disable_threshold_percent == 10
    assert (
        TenantConfig(**BASE, mass_disable_threshold_percent=100).mass_disable_threshold_percent
        == 100
    )
    for bad in (0, -1, 100.1):
        with pytest.raises(ValidationError, match="mass_disable_threshold_percent"):
            TenantConfig(**BASE, mass_disable_threshold_percent=bad)
    schema = TenantConfig.model_json_schema()["properties"]["mass_disable_threshold_percent"]
    assert "confirm_mass_disable" in schema["description"]  # the Prefect UI form explains it
