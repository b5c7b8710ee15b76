"""Operator tooling beside cli.py: prefect.yaml as the list of tenants and deployments
(deployments), the `hgsync tenant` commands (the group in tenant_commands;
tenant_onboarding, tenant_operations), `report` and `alerts` (report_command,
alerts_command) and what cli.py shares with them (cli_support), the
`hgsync sandbox` command (sandbox_command) and `hgsync demo` (demo). It may import every room
(flows, tasks, store, clients, sandbox); none of them imports it."""
