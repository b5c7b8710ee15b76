"""explain: the whole story of one order, product or customer, with its verdict (X5), as a
markdown artifact for the UI (deployment `<slug>-explain`, run by hand with entity and key)."""

from __future__ import annotations

from typing import Literal

from prefect import flow
from prefect.artifacts import acreate_markdown_artifact
from prefect.states import Completed, State

from flows.runs import run_name
from mappings.explain import story_markdown, verdict
from mappings.tenant import TenantConfig
from tasks.connect import connect
from tasks.explain import read_live, read_story


@flow(name="explain", flow_run_name=run_name("explain"))
async def explain(
    tenant: TenantConfig,
    entity: Literal["order", "product", "customer"],
    key: str,
    live: bool = False,
) -> State:
    """Everything the integration did with one record (bindings, every run that named it, dead
    letters, why it was left out) and, with `live`, what Handy and Gestionix hold now; the
    verdict in one sentence is the run's message, the story the `<slug>-explain` artifact."""
    story = await read_story(tenant.slug, entity, str(key))
    now = None
    if live:
        async with connect(tenant) as connection:
            now = await read_live(connection, entity, str(key))
    sentence = verdict(story, now)
    markdown = story_markdown(story, sentence, now)
    await acreate_markdown_artifact(
        key=f"{tenant.slug}-explain",
        markdown=markdown,
        description=f"{tenant.slug} {entity} {key}: {sentence}"[:500],
    )
    return Completed(message=f"{entity} {key}: {sentence}", data=markdown)
