"""Tenants of a running sandbox: their two credential blocks saved in Prefect, and the
TenantConfig naming them."""

from __future__ import annotations

import uuid

from clients.credentials import GestionixCredentials, HandyCredentials
from mappings.tenant import TenantConfig
from sandbox.server import Sandbox


def save_tenant_blocks(sb: Sandbox, slug: str) -> tuple[str, str]:
    """Save the two credential blocks of `slug` pointing at `sb`; returns their names."""
    handy_name, gestionix_name = f"{slug}-handy", f"{slug}-gestionix"
    HandyCredentials(base_url=sb.handy_url, api_token=sb.handy_token).save(
        handy_name,
        overwrite=True,
        _sync=True,  # also from async tests: async_dispatch would return a coroutine
    )
    GestionixCredentials(
        base_url=sb.gestionix_url, user=sb.gestionix_user, password=sb.gestionix_password
    ).save(gestionix_name, overwrite=True, _sync=True)
    return handy_name, gestionix_name


def make_tenant(sb: Sandbox, slug: str | None = None, **overrides) -> TenantConfig:
    """A tenant of the sandbox's demo company and branch, with fresh blocks; `overrides` replace
    any TenantConfig field (the A3 switches, the branch...)."""
    slug = slug or f"t-{uuid.uuid4().hex[:8]}"
    handy_name, gestionix_name = save_tenant_blocks(sb, slug)
    fields = {
        "slug": slug,
        "gestionix_branch": sb.branch_name,
        "gestionix_company": sb.company_id,
        "handy_credentials": handy_name,
        "gestionix_credentials": gestionix_name,
    }
    return TenantConfig(**{**fields, **overrides})
