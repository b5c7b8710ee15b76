"""What an order is looked up against (RULES O3, O5, O6), pure: the sucursal's products by
clave and the key of an order's customer.

Duplicate claves: two Gestionix products may carry one clave (the catalog flow rejects both,
P2); an order line still needs one of them, so the active, for-sale one wins, then the oldest
(lowest product id).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mappings import gestionix_fields as G
from mappings import handy_fields as H
from mappings.names import normalize_name

# What the index keeps of a product: the order mapping reads the id and the taxes, the
# preference below active and for_sale (a 50 000-product catalog is held for the whole run).
INDEXED_FIELDS = (G.PRODUCT_ID, G.PRODUCT_KEY, G.PRODUCT_ACTIVE, G.PRODUCT_FOR_SALE)


def indexed_fields(product: Any) -> Any:
    """What the index keeps of a Gestionix product (INDEXED_FIELDS and its taxes)."""
    if not isinstance(product, dict):
        return product
    return {name: product[name] for name in (*INDEXED_FIELDS, G.PRODUCT_TAXES) if name in product}


def products_index(products: Iterable[dict], taxes: Iterable[dict]) -> dict[str, dict]:
    """clave -> product (INDEXED_FIELDS and its taxes). A tax entry that carries only its id is
    completed from GET /taxes. Two products with one clave: `product_preference` decides."""
    tax_by_id = {tax.get(G.TAX_ID): tax for tax in taxes if isinstance(tax, dict)}
    completed: dict[Any, dict] = {}  # one dict per distinct tax entry, shared by its products
    index: dict[str, dict] = {}
    for product in products:
        clave = product.get(G.PRODUCT_KEY)
        if not isinstance(clave, str) or not clave.strip():
            continue
        product = indexed_fields(product) | {
            G.PRODUCT_TAXES: [
                _completed_tax(tax, tax_by_id, completed)
                for tax in product.get(G.PRODUCT_TAXES) or []
            ]
        }
        current = index.get(clave.strip())
        if current is None or product_preference(product) < product_preference(current):
            index[clave.strip()] = product
    return index


def product_preference(product: dict) -> tuple:
    """Sort key among products of one clave, best first: active and for sale, then the oldest."""
    usable = (
        product.get(G.PRODUCT_ACTIVE) is not False and product.get(G.PRODUCT_FOR_SALE) is not False
    )
    return (not usable, str(product.get(G.PRODUCT_ID)).zfill(20))


def _completed_tax(tax: Any, tax_by_id: dict[Any, dict], completed: dict[Any, dict]) -> Any:
    if not isinstance(tax, dict):
        return tax
    try:
        key = tuple(tax.items())
        hash(key)
    except TypeError:  # an unhashable value in a broken entry: not shared
        return {**tax_by_id.get(tax.get(G.TAX_ID), {}), **tax}
    if key not in completed:
        completed[key] = {**tax_by_id.get(tax.get(G.TAX_ID), {}), **tax}
    return completed[key]


def customer_key(order: dict) -> str:
    """The Handy customer code (O3/O4: one resolution per customer); a code-less customer is
    keyed by its normalised description, else business name ("name:..."; "name:" when none)."""
    customer = order.get(H.ORDER_CUSTOMER) if isinstance(order.get(H.ORDER_CUSTOMER), dict) else {}
    code = customer.get(H.CUSTOMER_CODE)
    if code is not None and str(code).strip():
        return str(code).strip()
    names = [customer.get(H.CUSTOMER_DESCRIPTION), customer.get(H.CUSTOMER_BUSINESS_NAME)]
    return "name:" + next((normalize_name(n) for n in names if normalize_name(n)), "")
