"""What an order is looked up against (O3-O6): the products index by clave, the customer key."""

from __future__ import annotations

from mappings.order_lookup import (
    INDEXED_FIELDS,
    customer_key,
    indexed_fields,
    product_preference,
    products_index,
)

TAXES = [{"tax_id": 1, "name": "IVA", "rate": 0.16, "type": "transferred", "factor": "rate"}]


def gx_product(product_id: int, key: str, **overrides):
    return {
        "product_id": product_id,
        "key": key,
        "name": f"P{product_id}",
        "active": True,
        "for_sale": True,
        "price": 10.0,
        "taxes": [{"tax_id": 1}],
        "stock": [{"branch_id": 1, "quantity": 5}],
        "category": {"name": "Bebidas"},
        **overrides,
    }


def test_o5_index_of_lean_pages_equals_the_raw_catalog_and_keeps_only_what_orders_read():
    pages = [
        [gx_product(3, "A", active=False), gx_product(1, "B")],
        [
            gx_product(2, "A"),
            gx_product(4, " "),
            gx_product(5, "C", taxes=[{"tax_id": 9, "rate": 0.08}]),
        ],
    ]
    lean = [indexed_fields(p) for page in pages for p in page]  # what read_catalog keeps per page
    paged = products_index(lean, TAXES)
    assert paged == products_index([p for page in pages for p in page], TAXES)
    assert set(paged) == {"A", "B", "C"}
    assert (
        paged["A"]["product_id"] == 2
    )  # the active one wins over an inactive one of a page before
    assert paged["B"]["taxes"] == [{**TAXES[0]}]  # completed from GET /taxes
    assert paged["C"]["taxes"] == [{"tax_id": 9, "rate": 0.08}]  # unknown id: kept as read
    assert all(set(p) <= {*INDEXED_FIELDS, "taxes"} for p in paged.values())  # no name, stock...


def test_o6_duplicate_clave_the_active_for_sale_product_wins_then_the_oldest():
    """O6 with a clave Gestionix holds twice: the line goes to the active, for-sale product;
    among equals to the oldest (lowest id, compared as numbers, not as text)."""
    newer, older = gx_product(10, "A"), gx_product(9, "A")
    inactive, not_for_sale = gx_product(1, "A", active=False), gx_product(2, "A", for_sale=False)
    assert products_index([newer, inactive, older, not_for_sale], TAXES)["A"]["product_id"] == 9
    assert products_index([inactive, not_for_sale], TAXES)["A"]["product_id"] == 1
    assert product_preference(older) < product_preference(newer) < product_preference(inactive)
    assert products_index([gx_product(5, " A ")], TAXES).keys() == {"A"}  # clave compared stripped


def test_o3_o4_an_order_customer_is_keyed_by_its_code_else_its_normalised_name():
    """O3/O4: one resolution per customer: its Handy code; a code-less one by its normalised
    description, else business name, so "Tienda Lucía" and "tienda  lucia" are one customer."""
    assert customer_key({"customer": {"code": " C-1 ", "description": "X"}}) == "C-1"
    assert (
        customer_key({"customer": {"code": "", "description": "Tienda Lucía"}})
        == (customer_key({"customer": {"description": "tienda  lucia"}}))
        == "name:tienda lucia"
    )
    assert (
        customer_key({"customer": {"description": " ", "businessName": "Lucía SA"}})
        == "name:lucia sa"
    )
    assert customer_key({"customer": None}) == customer_key({}) == "name:"
