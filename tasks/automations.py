"""Install the automations of automations.yaml on the Prefect server, pointed at one notification
block (X4). Reinstalling replaces the automations of the same name, so it is safe to run again."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

import yaml
from prefect import get_client
from prefect.automations import AutomationCore
from prefect.exceptions import ObjectNotFound

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FILE = PROJECT_ROOT / "automations.yaml"
PLACEHOLDER = "BLOCK_DOCUMENT_ID"
HELD_TOO_LONG = "hgsync: order held too long"
ORDERS_NOT_COMPLETED = "hgsync: orders run not completed"


class AlertsError(Exception):
    """The file or the notification block is not usable; the message says what to do."""


def load(
    path: Path,
    block_document_id: UUID,
    *,
    held_limit_minutes: float | None = None,
    late_limit_minutes: float | None = None,
) -> list[AutomationCore]:
    """The file's automations with the block filled in and the limits (seconds in the file) changed."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw: list[dict[str, Any]] = data["automations"] if isinstance(data, dict) else data
    limits = {HELD_TOO_LONG: held_limit_minutes, ORDERS_NOT_COMPLETED: late_limit_minutes}
    automations = []
    for entry in raw:
        for action in entry.get("actions", []):
            if action.get("block_document_id") == PLACEHOLDER:
                action["block_document_id"] = str(block_document_id)
        if limits.get(entry["name"]) is not None:
            entry["trigger"]["within"] = float(limits[entry["name"]]) * 60
        automations.append(AutomationCore.model_validate(entry))
    return automations


async def block_document_id(block: str) -> UUID:
    """`<block type slug>/<name>` (as `prefect block ls` shows it) -> the block document's id."""
    type_slug, _, name = block.partition("/")
    if not name:
        raise AlertsError(
            f"--block {block!r}: give <type>/<name>, e.g. slack-webhook/ops (see `prefect block ls`)"
        )
    async with get_client() as client:
        try:
            document = await client.read_block_document_by_name(
                name, type_slug, include_secrets=False
            )
        except ObjectNotFound:
            raise AlertsError(
                f"notification block {block!r} not found on the Prefect server: create it in the UI "
                "(Blocks → Slack Webhook / Email / Microsoft Teams Webhook / Custom Webhook) or with "
                "Python, then run this again"
            ) from None
    return document.id


async def install(automations: list[AutomationCore]) -> list[tuple[str, UUID]]:
    """Create each automation, replacing any of the same name; returns (name, id) pairs."""
    created = []
    async with get_client() as client:
        for automation in automations:
            for existing in await client.read_automations_by_name(automation.name):
                await client.delete_automation(existing.id)
            created.append((automation.name, await client.create_automation(automation)))
    return created
