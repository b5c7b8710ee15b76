"""The Gestionix document one order sends (RULES O3-O7): its draft with the client (O3, O4) and
the seller filled in, and what the run reports about it (return lines left out, O7; lines without
taxes, O6; fixed-amount taxes, O5). An order that cannot have its document ends here (order_run).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from mappings import gestionix_fields as G
from mappings import handy_fields as H
from mappings.bindings import Entity
from mappings.money import cents
from mappings.order_customers import match_seller
from mappings.order_documents import OrderDocument
from mappings.order_lookup import customer_key
from mappings.orders import OrderRejected, OrderSkipped
from tasks.order_customers import CustomerResolution, customer_for
from tasks.order_run import PushRun, dead_letter, not_pushable, transient
from tasks.orders import OrderWork, draft_document


async def order_document(run: PushRun, work: OrderWork) -> OrderDocument | None:
    """The order's document with its client (O3, O4) and seller; None when the order stops here:
    its customer could not be had (held or dead-lettered with the reason) or it cannot be pushed."""
    customer = customer_key(work.order)
    resolution = run.customers.get(customer) or CustomerResolution(
        problem="customer was not resolved"
    )
    if resolution.to_create is not None:  # O4: created once, on demand
        resolution = await customer_for(run, resolution.to_create)
    if resolution.transient:
        transient(run, work, resolution.problem or "customer not resolved")
        return None
    if resolution.problem:
        await dead_letter(run, work, resolution.problem)
        return None
    try:
        draft = work.draft or draft_document(work, run.connection, run.catalog)
    except (OrderRejected, OrderSkipped) as exc:
        await not_pushable(run, work, exc)
        return None
    seller_id = match_seller(work.order.get(H.ORDER_CREATED_BY), run.catalog.sellers)
    document = replace(
        draft,
        body={
            **draft.body,
            G.DOCUMENT_CLIENT_ID: resolution.client_id,
            G.DOCUMENT_SELLER_ID: seller_id,
        },
    )
    _report_returns(run, work, document)
    _report_taxes(run, work, document)
    return document


def _report_returns(run: PushRun, work: OrderWork, document: OrderDocument) -> None:
    """O7: return lines are not pushed as sold lines; the run says so."""
    if document.excluded_returns:
        codes = ", ".join(str(line.product_code) for line in document.excluded_returns)
        run.audit.item(
            Entity.ORDER,
            work.key,
            "note",
            f"{len(document.excluded_returns)} return lines not pushed ({codes})",
        )


def _report_taxes(run: PushRun, work: OrderWork, document: OrderDocument) -> None:
    """O6: a line of a product without transferred percentage taxes is pushed without taxes and
    named in the audit; P6/O5: a fixed-amount tax left out is named once per product per run."""
    for code in document.untaxed_products:
        run.audit.count("untaxed lines")
        run.audit.item(
            Entity.ORDER,
            work.key,
            "reported",
            f"O6: product {code} has no transferred percentage taxes in Gestionix: "
            "its line is pushed without taxes",
        )
    for line in document.lines:
        if line.fixed_taxes and line.product_code not in run.fixed_tax_reported:
            run.fixed_tax_reported.add(line.product_code)
            run.audit.item(
                Entity.PRODUCT,
                line.product_code,
                "reported",
                f"O5: fixed-amount tax {', '.join(line.fixed_taxes)} not considered "
                f"(only percentage taxes count); first seen on order {work.key}",
            )


def document_extra(document: OrderDocument) -> dict[str, Any]:
    return {
        "doc_type": document.doc_type,
        "client_id": document.body.get(G.DOCUMENT_CLIENT_ID),
        "lines": len(document.lines),
        "total": str(cents(document.expected_gestionix_total)),
    }
