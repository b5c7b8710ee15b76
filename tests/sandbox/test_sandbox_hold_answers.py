"""The hook a crash test kills a worker on: Gestionix reports how many documents its API has
created (GET /_sandbox/documents_created long-polls), and `hold_answers_from_document` keeps
the answers from the N-th created document on until the knob goes back to 0."""

from __future__ import annotations

import asyncio

from sandbox.server import run_sandbox


def document_body(sb, reference: str) -> dict:
    company = sb.gestionix.companies[sb.company_id]
    product = next(iter(company.products.values()))
    client = next(iter(company.clients.values()))
    return {
        "branch_id": 310,
        "client_id": client["client_id"],
        "date": "2026-11-27T15:04:05Z",
        "reference": reference,
        "items": [
            {"product_id": product["product_id"], "quantity": 1, "unit_price": 1.0, "taxes": []}
        ],
    }


async def test_answers_held_from_the_nth_document_and_the_count_signalled(gx, sb):
    sb.set_gestionix_knobs(hold_answers_from_document=2)
    first = await gx.post("/sales_orders", json=document_body(sb, "HANDY-1"))
    assert first.status_code == 201  # before the N-th: answered at once
    second = asyncio.create_task(gx.post("/sales_orders", json=document_body(sb, "HANDY-2")))
    assert await sb.gestionix.wait_documents_created(2, timeout=10) == 2
    await asyncio.sleep(0.05)
    assert not second.done()  # created, but its answer is held
    assert await sb.gestionix.wait_documents_created(3, timeout=0.05) == 2  # timed out: 2 so far

    sb.set_gestionix_knobs(hold_answers_from_document=0)
    answer = await asyncio.wait_for(second, timeout=10)
    assert answer.status_code == 201 and answer.json()["reference"] == "HANDY-2"


def test_documents_created_long_polls_over_http():
    with run_sandbox(products=10, customers=4) as sb:
        assert sb.wait_documents_created(1, timeout=0.1) == 0  # nothing created: times out
        sb.gestionix.documents_created = 3  # as three API creates would leave it
        assert sb.wait_documents_created(2, timeout=5) == 3
