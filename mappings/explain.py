"""One record's story and its verdict in one sentence (X5), pure: works on the plain dicts of
store.history.record_story and, with --live, of tasks.explain.read_live. It answers the seed's FAQ
("¿Por qué no aparece uno de mis productos de Gestionix en Handy?") for one product, order or
customer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mappings.bindings import BindingStatus, Entity

LEFT_OUT_VERDICTS = {
    "not_for_sale": "not in Handy: not for sale in Gestionix since the run of {since}",
    "inactive": "in Handy but disabled: inactive in Gestionix since the run of {since}",
    "rejected": "not in Handy: its Gestionix data cannot be synced since the run of {since} ({reason})",
    "not_in_branch": "disabled in Handy: no longer in the sucursal's Gestionix catalog since the run of {since}",
}


def when(value: Any) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if isinstance(value, datetime) else str(value or "-")


def _real_items(story: dict[str, Any]) -> list[dict[str, Any]]:
    return [item for item in story["items"] if not item["dry_run"]]


def _last(story: dict[str, Any], *actions: str) -> dict[str, Any] | None:
    found = [i for i in _real_items(story) if i["action"] in actions]
    return found[-1] if found else None


def _binding(story: dict[str, Any]) -> dict[str, Any] | None:
    exact = [b for b in story["bindings"] if b["handy_key"] == story["key"]]
    return (exact or story["bindings"] or [None])[0]


def order_verdict(story: dict[str, Any], live: dict[str, Any] | None = None) -> str:
    letters = [letter for letter in story["dead_letters"] if letter["resolved_at"] is None]
    refused = next(
        (letter for letter in letters if letter["entity"] == Entity.ORDER_DELETION), None
    )
    if refused:
        return (
            f"deleted in Handy but its Gestionix document is still there: Gestionix refused the deletion "
            f"on {when(refused['first_seen'])} ({refused['reason']}); an operator replay retries it "
            f"(hgsync replay --tenant {story['tenant']} --key {story['key']})"
        )
    held = next((letter for letter in letters if letter["entity"] == Entity.ORDER), None)
    if held:
        return (
            f"not in Gestionix: held since {when(held['first_seen'])} after {held['attempts']} "
            f"attempt(s): {held['reason']}"
        )
    binding = _binding(story)
    status = binding["status"] if binding else None
    if status == BindingStatus.PUSHED:
        pushed = _last(story, "pushed")
        folio = (
            f" folio {pushed['details']['folio']}"
            if pushed and pushed["details"].get("folio")
            else ""
        )
        run = f"the run of {when(pushed['started_at'])}" if pushed else when(binding["synced_at"])
        return f"in Gestionix as {binding['gestionix_key']}{folio}, pushed by {run}"
    if status == BindingStatus.DELETED:
        edited = (
            " (old version of an edited order)" if (binding.get("data") or {}).get("edited") else ""
        )
        deleted = _last(story, "deleted")
        run = f"the run of {when(deleted['started_at'])}" if deleted else when(binding["synced_at"])
        return f"deleted in Handy{edited}: its Gestionix document {binding['gestionix_key']} was deleted by {run}"
    if status == BindingStatus.TOMBSTONED:
        return (
            f"deleted in Handy before it was pushed: never sent to Gestionix "
            f"({(binding.get('data') or {}).get('tombstone_reason') or 'tombstoned'}, {when(binding['synced_at'])})"
        )
    if status == BindingStatus.SKIPPED:
        return f"not pushed on purpose: {(binding.get('data') or {}).get('skip_reason', 'skipped')}"
    if status == BindingStatus.INTENT:
        return (
            f"being pushed: a run started writing it at {when(binding['synced_at'])} and has not confirmed "
            "the document; the next run finds it by its reference and binds it, never twice"
        )
    last = _last(story, "failed", "skipped")
    if last:
        return f"not in Gestionix yet: the {last['flow']} run of {when(last['started_at'])} said: {last['reason']}"
    if live is not None and live.get("handy") is None:
        return "not a Handy order of this tenant: Handy does not know this id"
    if live is not None and live.get("gestionix"):
        return f"in Gestionix as {live['gestionix']} but unknown to the store (created by hand or by another tool)"
    return (
        "never seen by a run: not read yet (the next orders run reads its window) or not a Handy order "
        "id of this tenant (--live asks Handy)"
    )


def product_verdict(story: dict[str, Any], live: dict[str, Any] | None = None) -> str:
    left = story["left_out"]
    if left and left["ended_at"] is None:
        return LEFT_OUT_VERDICTS[left["reason_code"]].format(
            since=when(left["since"]), reason=left["reason"]
        )
    binding = _binding(story)
    failed = _last(story, "failed")
    if failed and (binding is None or failed["started_at"] > binding["synced_at"]):
        return f"not as in Gestionix: the write of the run of {when(failed['started_at'])} failed: {failed['reason']}"
    if binding and binding["status"] == BindingStatus.ENABLED:
        return f"in Handy and enabled, as last written by the run of {when(binding['synced_at'])}"
    if binding and binding["status"] == BindingStatus.DISABLED:
        return f"in Handy but disabled since the run of {when(binding['synced_at'])}"
    if live is not None and live.get("other_branches"):
        return (
            f"not in Handy: in Gestionix it belongs to sucursal {', '.join(live['other_branches'])}, "
            f"not to {live['branch']}"
        )
    if live is not None and live.get("in_branch"):
        return (
            "in the sucursal's Gestionix catalog but not synced yet: the next catalog run writes it"
        )
    if live is not None:
        return "not in Handy: Gestionix has no product with this clave in any sucursal"
    return (
        "not in Handy: no catalog run has listed it in the sucursal's catalog: it belongs to another "
        "sucursal or is not in Gestionix (--live looks)"
    )


def customer_verdict(story: dict[str, Any], live: dict[str, Any] | None = None) -> str:
    binding = _binding(story)
    created = _last(story, "created")
    if created and created["flow"] == "orders":
        client = created["details"].get("client_id") or (binding or {}).get("gestionix_key")
        return (
            f"created in Gestionix as client {client} from a Handy order by the orders run of "
            f"{when(created['started_at'])}"
        )
    if binding:
        return (
            f"bound: Handy {binding['handy_key']} ↔ Gestionix client {binding['gestionix_key']}, "
            f"{binding['status']} since {when(binding['synced_at'])}"
        )
    last = _last(story, "skipped", "failed")
    if last:
        return f"not synced: the {last['flow']} run of {when(last['started_at'])} said: {last['reason']}"
    return (
        "never synced: no customers run listed it among the sucursal's clients and no order created it "
        "(--live looks in both systems)"
    )


VERDICTS = {
    Entity.ORDER: order_verdict,
    Entity.PRODUCT: product_verdict,
    Entity.CUSTOMER: customer_verdict,
}


def verdict(story: dict[str, Any], live: dict[str, Any] | None = None) -> str:
    return VERDICTS[story["entity"]](story, live)


def story_markdown(story: dict[str, Any], sentence: str, live: dict[str, Any] | None = None) -> str:
    """The whole story, newest facts last, as markdown (CLI and the explain flow's artifact)."""
    lines = [f"### {story['tenant']} · {story['entity']} {story['key']}", "", f"**{sentence}**", ""]
    lines.append("#### Bindings")
    lines += [
        f"- Handy {b['handy_key']} ↔ Gestionix {b['gestionix_key'] or '-'}: {b['status']} "
        f"({when(b['synced_at'])}) {b['data'] or ''}".rstrip()
        for b in story["bindings"]
    ] or ["- none"]
    if story["entity"] == Entity.PRODUCT:
        left = story["left_out"]
        lines += [
            "",
            "#### Left out of Handy",
            (
                f"- {left['reason']} — since {when(left['since'])} (store run {left['since_run_id']})"
                + (f", back in since {when(left['ended_at'])}" if left["ended_at"] else "")
            )
            if left
            else "- no",
        ]
    lines += ["", "#### Runs that named it"]
    lines += [
        f"- {when(i['started_at'])} {i['flow']}{' [dry run]' if i['dry_run'] else ''} (store run "
        f"{i['run_id']}, flow run {i['flow_run_id'] or '-'}): {i['action']}"
        + (f" — {i['reason']}" if i["reason"] else "")
        + (f" {i['details']}" if i["details"] else "")
        for i in story["items"]
    ] or ["- none"]
    if story["entity"] == Entity.ORDER:
        lines += ["", "#### Dead letters"]
        lines += [
            f"- {d['entity']}: {d['reason']} — attempts {d['attempts']}, first {when(d['first_seen'])}, "
            f"last {when(d['last_seen'])}, "
            + (
                f"resolved {when(d['resolved_at'])}"
                if d["resolved_at"]
                else (
                    "open, retried each run" if d["retry"] else "open, waits for an operator replay"
                )
            )
            for d in story["dead_letters"]
        ] or ["- none"]
    if live is not None:
        lines += ["", "#### Now (--live)"] + [f"- {name}: {value}" for name, value in live.items()]
    return "\n".join(lines) + "\n"
