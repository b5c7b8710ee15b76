"""X5 without Prefect: which products a catalog read leaves out and why, and the one-sentence
verdicts built from a record's story."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from mappings.explain import order_verdict, product_verdict, story_markdown
from mappings.left_out import INACTIVE, NOT_FOR_SALE, NOT_IN_BRANCH, REJECTED, left_out_products

RUN = datetime(2026, 11, 28, 8, 0)


def test_x5_left_out_products_by_reason_with_keys_for_unusable_claves():
    """X5: not for sale, refused (by clave, or by Gestionix id when the clave is unusable),
    inactive (desired but disabled) and bound-but-no-longer-listed; enabled desired ones are not."""
    desired = pd.DataFrame(
        [
            {"key": "OK-1", "gestionix_id": 1, "enabled": True},
            {"key": "INA-1", "gestionix_id": 2, "enabled": False},
        ]
    )
    rejected = pd.DataFrame(
        [
            {"gestionix_id": 3, "key": None, "code": "A/B", "rule": "P4", "reason": "has /"},
            {"gestionix_id": 4, "key": None, "code": None, "rule": "P3", "reason": "empty"},
        ]
    )
    not_for_sale = pd.DataFrame([{"gestionix_id": 5, "gestionix_key": "NFS-1", "code": "NFS-1"}])

    out = left_out_products(
        desired, rejected, not_for_sale, ["OK-1", "INA-1", "GONE-1", None], "Matriz"
    )

    assert {key: code for key, (code, _, _) in out.items()} == {
        "NFS-1": NOT_FOR_SALE,
        "A/B": REJECTED,
        "id 4": REJECTED,
        "INA-1": INACTIVE,
        "GONE-1": NOT_IN_BRANCH,
    }
    assert out["A/B"][1] == "P4: has /" and out["id 4"][2] == "4"
    assert "sucursal Matriz" in out["GONE-1"][1]


def _story(entity="product", key="REF-600", **parts):
    return {
        "tenant": "demo",
        "entity": entity,
        "key": key,
        "bindings": [],
        "items": [],
        "dead_letters": [],
        "left_out": None,
        **parts,
    }


def test_x5_product_verdicts_answer_the_faq():
    """X5 (the seed's FAQ): left out for a reason, synced, or unknown here — and, live, in another
    sucursal."""
    not_for_sale = _story(
        left_out={"reason_code": "not_for_sale", "reason": "P1", "since": RUN, "ended_at": None}
    )
    assert (
        product_verdict(not_for_sale)
        == "not in Handy: not for sale in Gestionix since the run of 2026-11-28 08:00 UTC"
    )
    back_in = _story(
        left_out={"reason_code": "inactive", "reason": "", "since": RUN, "ended_at": RUN},
        bindings=[
            {
                "handy_key": "REF-600",
                "gestionix_key": "REF-600",
                "status": "enabled",
                "data": {},
                "synced_at": RUN,
            }
        ],
    )
    assert product_verdict(back_in).startswith("in Handy and enabled")
    assert "another sucursal" in product_verdict(_story())
    assert product_verdict(
        _story(), {"branch": "Matriz", "in_branch": False, "other_branches": ["Norte"]}
    ) == ("not in Handy: in Gestionix it belongs to sucursal Norte, not to Matriz")


def test_x5_order_verdict_prefers_the_open_dead_letter_and_ignores_dry_runs():
    """X5: a held order says since when, how many attempts and why; a dry-run item alone says nothing."""
    held = _story(
        "order",
        "77",
        dead_letters=[
            {
                "entity": "order",
                "reason": "product REF-9 not in Gestionix",
                "retry": True,
                "attempts": 3,
                "first_seen": RUN,
                "last_seen": RUN,
                "resolved_at": None,
            }
        ],
    )
    assert order_verdict(held) == (
        "not in Gestionix: held since 2026-11-28 08:00 UTC after 3 attempt(s): "
        "product REF-9 not in Gestionix"
    )
    dry = _story(
        "order",
        "78",
        items=[
            {
                "action": "failed",
                "reason": "x",
                "details": {},
                "run_id": 1,
                "flow": "orders",
                "flow_run_id": None,
                "started_at": RUN,
                "dry_run": True,
            }
        ],
    )
    assert order_verdict(dry).startswith("never seen by a run")
    assert "[dry run]" in story_markdown(dry, order_verdict(dry))
