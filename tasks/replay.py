"""Dead-letter replay (X1, D3): release letters for retry, then read back what became of each."""

from __future__ import annotations

from prefect import task

from mappings.tenant import TenantConfig
from store import dead_letters
from tasks.options import RUN_ONCE
from tasks.store_calls import store_call


@task(name="select-dead-letters", **RUN_ONCE)
async def select_letters(tenant: TenantConfig, key: str | None, release: bool) -> list[dict]:
    """The open letters to replay (one key or all); with `release`, marked for retry now."""
    return await store_call(_select_letters, tenant, key, release)


def _select_letters(tenant: TenantConfig, key: str | None, release: bool) -> list[dict]:
    if release:
        letters = dead_letters.release(tenant.slug, key=key)
    else:
        letters = [
            letter
            for letter in dead_letters.open_letters(tenant.slug)
            if key is None or letter.key == str(key)
        ]
    return [
        {
            "entity": letter.entity,
            "key": letter.key,
            "reason": letter.reason,
            "attempts": letter.attempts,
        }
        for letter in letters
    ]


@task(name="replay-outcomes", **RUN_ONCE)
async def outcomes(tenant: TenantConfig, selected: list[dict]) -> list[dict]:
    """Per replayed letter: resolved, or still open with its (new) reason."""
    return await store_call(_outcomes, tenant, selected)


def _outcomes(tenant: TenantConfig, selected: list[dict]) -> list[dict]:
    results = []
    for item in selected:
        letter = dead_letters.get(tenant.slug, item["entity"], item["key"])
        if letter is None or letter.resolved_at is not None:
            results.append({**item, "outcome": "resolved", "reason": ""})
        else:
            results.append(
                {
                    **item,
                    "outcome": "still failing",
                    "reason": letter.reason,
                    "attempts": letter.attempts,
                }
            )
    return results
