"""O8 repair rule, pure: which of the documents carrying one HANDY reference is kept."""

from __future__ import annotations

import pytest

from mappings.duplicates import choose_kept, group_by_reference, is_locked, sort_duplicates

REF = "HANDY-77"


def doc(doc_id, doc_type="sales_order", **extra):
    return (
        doc_type,
        {"id": doc_id, "reference": REF, "status": "open", "invoiced": False, **extra},
    )


def test_o8_the_bound_document_is_kept_even_when_younger():
    """O8: the store's binding decides, not age; the older one is the duplicate."""
    verdict = sort_duplicates(REF, [doc(10), doc(12)], bound_key="sales_order:12", external_id="10")

    assert verdict.keep == doc(12) and verdict.keep_is_bound
    assert verdict.delete == [doc(10)] and verdict.locked == []


def test_o8_unbound_keeps_the_document_the_external_id_names():
    """O8: no binding (store restored): the Handy order's externalId names the order's document."""
    kept, is_bound = choose_kept([doc(10), doc(12)], bound_key=None, external_id=" 12 ")

    assert kept == doc(12) and not is_bound


def test_o8_unbound_without_external_id_keeps_the_oldest_by_number_not_text():
    """O8: ids compare as numbers (9 is older than 10), whatever the listing order."""
    verdict = sort_duplicates(REF, [doc(10), doc(9, "sale"), doc(100)])

    assert verdict.keep == doc(9, "sale") and not verdict.keep_is_bound
    assert verdict.delete == [doc(10), doc(100)]


def test_o8_a_binding_to_a_document_not_listed_falls_back_to_the_rule():
    """O8: a bound key that matches none of the documents (deleted by hand) does not count."""
    verdict = sort_duplicates(REF, [doc(12), doc(11)], bound_key="sale:99", external_id="")

    assert verdict.keep == doc(11) and not verdict.keep_is_bound


def test_o8_the_choice_does_not_depend_on_listing_order():
    """O8: two runs listing in a different order keep the same document."""
    docs = [doc(31), doc(30, "sale"), doc(30)]

    assert {
        choose_kept(order)[0][1]["id"] for order in (docs, docs[::-1], docs[1:] + docs[:1])
    } == {30}
    assert choose_kept(docs)[0] == doc(30)  # pedido before venta on an id tie


@pytest.mark.parametrize(
    ("fields", "locked"),
    [
        ({"invoiced": True}, True),
        ({"stamped": True}, True),
        ({"status": "Converted"}, True),
        ({"status": "invoiced"}, True),
        ({"status": "open", "invoiced": False}, False),
        ({}, False),
    ],
)
def test_o8_invoiced_stamped_or_converted_documents_are_locked(fields, locked):
    assert is_locked({"id": 1, **fields}) is locked


def test_o8_an_invoiced_duplicate_is_held_not_deleted():
    """O8/D3: an invoiced duplicate is not the integration's to delete: an operator decides."""
    verdict = sort_duplicates(
        REF, [doc(5), doc(6, invoiced=True), doc(7)], bound_key="sales_order:5"
    )

    assert verdict.keep == doc(5)
    assert verdict.delete == [doc(7)]
    assert verdict.locked == [doc(6, invoiced=True)]


def test_o8_group_by_reference_keeps_only_references_carried_twice():
    other = ("sale", {"id": 3, "reference": "HANDY-78"})
    blank = ("sale", {"id": 4, "reference": ""})
    groups = group_by_reference([doc(1), other, doc(2, "sale"), blank, ("sale", {"id": 5})])

    assert groups == {REF: [doc(1), doc(2, "sale")]}


def test_choose_kept_needs_a_document():
    with pytest.raises(ValueError):
        choose_kept([])
