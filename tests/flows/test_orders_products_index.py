"""order_push's Gestionix products index (O5): lean, same answers as from the raw catalog."""

from __future__ import annotations

from tasks.orders import INDEXED_FIELDS, indexed_fields, products_index

TAXES = [{"tax_id": 1, "name": "IVA", "rate": 0.16, "type": "transferred", "factor": "rate"}]


def gx_product(product_id: int, key: str, **overrides):
    return {"product_id": product_id, "key": key, "name": f"P{product_id}", "active": True,
            "for_sale": True, "price": 10.0, "taxes": [{"tax_id": 1}],
            "stock": [{"branch_id": 1, "quantity": 5}], "category": {"name": "Bebidas"}, **overrides}


def test_o5_index_of_lean_pages_equals_the_raw_catalog_and_keeps_only_what_orders_read():
    pages = [
        [gx_product(3, "A", active=False), gx_product(1, "B")],
        [gx_product(2, "A"), gx_product(4, " "), gx_product(5, "C", taxes=[{"tax_id": 9, "rate": 0.08}])],
    ]
    lean = [indexed_fields(p) for page in pages for p in page]  # what read_catalog keeps per page
    paged = products_index(lean, TAXES)
    assert paged == products_index([p for page in pages for p in page], TAXES)
    assert set(paged) == {"A", "B", "C"}
    assert paged["A"]["product_id"] == 2  # the active one wins over an inactive one of a page before
    assert paged["B"]["taxes"] == [{**TAXES[0]}]  # completed from GET /taxes
    assert paged["C"]["taxes"] == [{"tax_id": 9, "rate": 0.08}]  # unknown id: kept as read
    assert all(set(p) <= {*INDEXED_FIELDS, "taxes"} for p in paged.values())  # no name, stock...
