"""Per-tenant configuration (RULES A1-A3). Holds block *names*, never secrets (A2)."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


class TenantConfig(BaseModel):
    """One client company: a Handy account, a Gestionix company and one sucursal (A1)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    slug: str = Field(
        description="Short tenant id: lowercase letters, digits and dashes (e.g. 'abarrotes-lupita').",
    )
    gestionix_branch: str = Field(
        description="Name of the Gestionix sucursal to sync (case and accents ignored).",
    )
    gestionix_company: int | str | None = Field(
        default=None,
        description="Gestionix company id or name; leave empty when the user has a single company.",
    )
    handy_credentials: str = Field(
        description="Name of the HandyCredentials block holding Handy's URL and API token.",
    )
    gestionix_credentials: str = Field(
        description="Name of the GestionixCredentials block holding Gestionix's URL, user and password.",
    )
    handy_timezone: str = Field(
        default="America/Mexico_City",
        description="Time zone Handy reads query dates in (IANA name).",
    )
    sync_customers: bool = Field(
        default=True, description="Copy Gestionix customers into Handy (C1-C7)."
    )
    sync_inventory: bool = Field(
        default=True,
        description="Set Handy free-use stock from Gestionix stock minus route stock (I1-I3).",
    )
    sync_deletions: bool = Field(
        default=True,
        description="Delete the Gestionix document when its Handy order is deleted (D1-D4).",
    )
    sync_customer_address: bool = Field(
        default=True,
        description="Send the address (not only the name) of customers created in Gestionix (O4).",
    )
    treat_all_as_sales_orders: bool = Field(
        default=True,
        description="On: sales and presales both become Gestionix pedidos. Off: sales become ventas (O2).",
    )
    order_lookback_minutes: int = Field(
        default=15,
        ge=0,
        le=24 * 60,
        description="Minutes re-read before the cursor on every order/deletion run (late arrivals).",
    )
    mass_disable_threshold_percent: float = Field(
        default=10,
        gt=0,
        le=100,
        description=(
            "Deletion protection (P7, C3): a catalog or customer run that would disable more than this "
            "% of the enabled products/customers it synced (and at least 5) stops before writing, "
            "until run once with confirm_mass_disable. 100 turns the protection off."
        ),
    )

    @field_validator("slug")
    @classmethod
    def _slug_shape(cls, value: str) -> str:
        if not SLUG_PATTERN.fullmatch(value):
            raise ValueError(
                f"slug {value!r} must be 1-63 lowercase letters, digits or dashes, "
                "not starting or ending with a dash"
            )
        return value

    @field_validator("gestionix_branch", "handy_credentials", "gestionix_credentials")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value or not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    @field_validator("gestionix_company")
    @classmethod
    def _company(cls, value: int | str | None) -> int | str | None:
        if isinstance(value, str):
            value = value.strip()
            if not value:
                return None
            if value.isdigit():
                return int(value)
        return value

    @field_validator("handy_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value
