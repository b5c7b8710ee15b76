"""`hgsync tenant ...`: the group of a tenant's commands, registered by cli.py. Coming and
going (add, check, credentials, remove: its credential blocks) live in
ops/tenant_onboarding.py; operating it (set, pause, resume, list: its settings and
deployments) in ops/tenant_operations.py."""

from __future__ import annotations

import typer

from ops import tenant_onboarding, tenant_operations

tenant_app = typer.Typer(
    help="A tenant's life: add, check, set, pause, resume, credentials, remove, list.",
    no_args_is_help=True,
)

for name, command in (
    ("add", tenant_onboarding.tenant_add),
    ("check", tenant_onboarding.tenant_check),
    ("set", tenant_operations.tenant_set),
    ("pause", tenant_operations.tenant_pause),
    ("resume", tenant_operations.tenant_resume),
    ("credentials", tenant_onboarding.tenant_credentials),
    ("remove", tenant_onboarding.tenant_remove),
    ("list", tenant_operations.tenant_list),
):
    tenant_app.command(name)(command)
