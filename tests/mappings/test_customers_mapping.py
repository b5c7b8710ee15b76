"""Gestionix clients -> desired Handy customers (RULES C2-C6), sellers, zone, adoption."""

from __future__ import annotations

import pytest

from mappings.bindings import BindingRecord
from mappings.customer_adoption import match_existing_customers
from mappings.customers import (
    DESIRED_COLUMNS,
    ZONE_GENERAL,
    customer_code,
    customer_create_body,
    customer_update_body,
    handy_customers_frame,
    link_baseline,
    map_customers,
    zone_body,
    zone_id,
)
from mappings.plan import plan_sync

ANA = {"seller_id": 12, "name": "Ana Pérez", "email": "ana@abarrotes.mx"}


def client(**overrides):
    base = {
        "client_id": 1201,
        "commercial_name": "Tienda Lucía",
        "business_name": "ABARROTES LUCIA SA DE CV",
        "tax_id": "AEL010101AB1",
        "active": True,
        "branch_id": 310,
        "email": "lucia@tienda.mx",
        "phone": "55 1234 5678",
        "seller": ANA,
        "address": {
            "street": "Av. Juárez",
            "exterior_number": "12",
            "interior_number": "3",
            "suburb": "Centro",
            "zip_code": "06000",
            "city": "CDMX",
            "state": "CDMX",
            "country": "MX",
        },
    }
    base.update(overrides)
    return base


def one(user_by_seller=None, **overrides):
    result = map_customers([client(**overrides)], user_by_seller)
    assert result.rejected.empty, result.rejected.to_dict("records")
    return result.desired.iloc[0]


def rejection(**overrides):
    result = map_customers([client(**overrides)])
    assert result.desired.empty
    return result.rejected.iloc[0]


def test_happy_path_fields():
    row = one({"12": 5})
    assert list(map_customers([client()]).desired.columns) == DESIRED_COLUMNS
    assert (row.key, row.code, row.gestionix_key) == ("GX-1201", "GX-1201", "1201")
    assert row.description == "Tienda Lucía"
    assert row.businessName == "ABARROTES LUCIA SA DE CV"
    assert (row.address, row.neighborhood, row.city, row.postalCode) == (
        "Av. Juárez 12 Int. 3",
        "Centro",
        "CDMX",
        "06000",
    )
    assert (row.rfc, row.email, row.phoneNumber) == (
        "AEL010101AB1",
        "lucia@tienda.mx",
        "55 1234 5678",
    )
    assert row.sellers == [5] and row.gestionix_seller_id == "12"


# --- code ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("client_id", "code"), [(1201, "GX-1201"), ("1201", "GX-1201"), ("abc_9", "GX-abc_9")]
)
def test_customer_code_is_stable_and_derived_from_the_client_id(client_id, code):
    assert customer_code(client_id) == code
    assert one(client_id=client_id).key == code


@pytest.mark.parametrize("client_id", [None, "12/3", "", True, 12.5, "a b"])
def test_unusable_client_id_is_rejected(client_id):
    row = rejection(client_id=client_id)
    assert "client_id" in row.reason and "Tienda Lucía" in row.reason


# --- C2 description ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("commercial", "business", "description"),
    [
        ("Tienda Lucía", "ABARROTES LUCIA SA DE CV", "Tienda Lucía"),  # both: commercial wins
        ("", "ABARROTES LUCIA SA DE CV", "ABARROTES LUCIA SA DE CV"),
        (None, "ABARROTES LUCIA SA DE CV", "ABARROTES LUCIA SA DE CV"),
        ("   ", "  ABARROTES   LUCIA ", "ABARROTES LUCIA"),
        ("Tienda Lucía", None, "Tienda Lucía"),
    ],
)
def test_c2_description_is_commercial_name_else_business_name(commercial, business, description):
    assert one(commercial_name=commercial, business_name=business).description == description


@pytest.mark.parametrize(("commercial", "business"), [("", ""), (None, None), ("  ", None)])
def test_c2_both_names_empty_is_rejected_and_reported(commercial, business):
    row = rejection(commercial_name=commercial, business_name=business)
    assert row.rule == "C2" and "both nombre comercial and razón social are empty" in row.reason
    assert "1201" in row.reason


def test_c2_non_text_name_is_rejected():
    assert rejection(commercial_name=42).rule == "C2"


def test_c2_300_character_name_is_truncated():
    assert len(one(commercial_name="Z" * 300).description) == 255


# --- C3 enabled -------------------------------------------------------------------------------


@pytest.mark.parametrize("active", [True, False])
def test_c3_enabled_follows_active(active):
    assert bool(one(active=active).enabled) is active


@pytest.mark.parametrize("active", [None, "true"])
def test_c3_missing_active_is_rejected(active):
    assert rejection(active=active).rule == "C3"


# --- address and other fields ------------------------------------------------------------------


def test_missing_address_and_contact_fields_are_empty_not_errors():
    row = one(address=None, email=None, phone=None, tax_id=None, seller=None)
    assert row.address is None and row.city is None and row.email is None and row.sellers == []


def test_numeric_zip_code_is_text_and_partial_addresses_are_fine():
    row = one(address={"street": "Reforma", "zip_code": 6000})
    assert (row.address, row.postalCode, row.neighborhood) == ("Reforma", "6000", None)


@pytest.mark.parametrize(
    ("field", "value"), [("address", "Av. Juárez 12"), ("email", ["a@b"]), ("phone", {"n": 1})]
)
def test_wrong_types_reject_the_client_naming_the_field(field, value):
    row = rejection(**{field: value})
    assert field in row.reason


def test_bad_clients_never_stop_the_batch():
    result = map_customers(
        [
            client(client_id=1),
            "junk",
            client(client_id=2, commercial_name="", business_name=""),
            client(client_id=3),
            client(client_id=3),
            {},
        ]
    )
    assert list(result.desired["gestionix_key"]) == ["1"]
    assert len(result.rejected) == 5
    assert result.held_keys == ["2", "3"]


# --- C4 zone General ----------------------------------------------------------------------------


def test_c4_new_customers_go_to_zone_general():
    row = one()
    assert (
        customer_create_body(row)["zone"]
        == {"description": ZONE_GENERAL}
        == {"description": "General"}
    )
    assert customer_create_body(row, zone=4)["zone"] == {"id": 4}
    assert "zone" not in customer_update_body(row)


def test_c4_zone_general_found_by_normalised_name_or_to_be_created():
    assert zone_id([{"id": 1, "description": "Norte"}, {"id": 4, "description": " general "}]) == 4
    assert zone_id([{"id": 1, "description": "Norte"}]) is None
    assert zone_body() == {"description": "General"}


# --- C5 sellers ----------------------------------------------------------------------------------


def test_c5_customer_gets_its_matched_seller_and_unmatched_means_no_assignment():
    assert one({"12": 5}).sellers == [5]
    assert one({}).sellers == []


def test_c5_reassigning_the_seller_changes_the_fingerprint():
    assert one({"12": 5}).fingerprint != one({"12": 6}).fingerprint
    assert one({"12": 5}).fingerprint == one({"12": 5}).fingerprint


# --- bodies ----------------------------------------------------------------------------------------


def test_create_body_skips_empty_fields():
    body = customer_create_body(one(email=None, seller=None))
    assert body["code"] == "GX-1201" and "email" not in body and body["sellers"] == []
    assert body["enabled"] is True


def test_c8_update_body_without_current_sends_filled_content_and_never_an_empty_value():
    """C8: a field empty in Gestionix is left as Handy has it: never sent as "" or null."""
    body = customer_update_body(one(email=None, phone=None, address=None))
    assert body["description"] == "Tienda Lucía" and "code" not in body
    assert not {"email", "phoneNumber", "address", "neighborhood", "city", "postalCode"} & set(body)
    assert all(value not in ("", None, []) for value in body.values())


def test_c8_update_body_with_current_never_blanks_a_filled_handy_field():
    """C8 in full mode: Handy's filled e-mail, phone and address are not compared away."""
    current = customer_create_body(one())
    assert customer_update_body(one(email=None, phone=None, address=None), current=current) == {}
    assert customer_update_body(one(phone="55 0000 0000", email=None), current=current) == {
        "phoneNumber": "55 0000 0000"
    }


def test_c8_customer_from_an_order_takes_only_what_changed_in_gestionix_since_the_link():
    """C8: the baseline is the Gestionix content when order_push linked the client; Handy's
    typed address, phone and e-mail stay until Gestionix changes them; names follow C2."""
    linked = client(email=None, phone=None, address=None, tax_id="XAXX010101000", seller=None)
    baseline = link_baseline(linked)
    assert (
        baseline is not None
        and baseline["email"] is None
        and baseline["gestionix_seller_id"] is None
    )
    same = customer_update_body(
        one(email=None, phone=None, address=None, tax_id="XAXX010101000", seller=None),
        baseline=baseline,
    )
    assert set(same) == {"description", "businessName", "enabled"}
    later = one(
        {"12": 5},
        email=None,
        phone=None,
        address=None,
        tax_id="AEL010101AB1",
        commercial_name="Lucía Express",
    )
    body = customer_update_body(later, baseline=baseline)
    assert body["rfc"] == "AEL010101AB1" and body["description"] == "Lucía Express"
    assert body["sellers"] == [5]
    assert not {"email", "phoneNumber", "address", "neighborhood", "city", "postalCode"} & set(body)
    moved = {**baseline, "email": None}
    assert customer_update_body(one(email="nuevo@tienda.mx"), baseline=moved)["email"] == (
        "nuevo@tienda.mx"
    )
    assert link_baseline("not a client") is None


def test_c5_an_update_never_sends_an_empty_seller_list():
    """C5: no Gestionix seller, or one no Handy user matches, leaves the Handy sellers as they
    are (e.g. the seller who created the customer on the phone): never `sellers: []`."""
    current = {**customer_create_body(one({"12": 5})), "sellers": [{"id": 5}]}
    for row in (one(seller=None), one({})):
        assert "sellers" not in customer_update_body(row)
        assert "sellers" not in customer_update_body(row, current=current)
        assert "sellers" not in customer_update_body(row, baseline={"gestionix_seller_id": "99"})


def test_update_body_with_current_sends_only_changed_fields():
    row = one({"12": 5}, active=False)
    current = customer_create_body(one({"12": 5}))
    current["sellers"] = [{"id": 5}]
    assert customer_update_body(row, current=current) == {"enabled": False}
    assert customer_update_body(one({"12": 6}), current=current) == {"sellers": [6]}


# --- C6 plan and full-mode adoption ------------------------------------------------------------------


def test_c6_customer_created_by_order_push_is_updated_not_copied_again():
    mapped = map_customers([client()])
    plan = plan_sync(
        mapped.desired, [BindingRecord("HANDY-CUST-9", "1201", fingerprint=None, status="linked")]
    )
    assert not plan.create
    assert [row.handy_key for row in plan.update] == ["HANDY-CUST-9"]


def test_c6_handy_record_fingerprint_matches_desired_for_same_content():
    row = one({"12": 5})
    record = {**customer_create_body(row), "id": 77, "sellers": [{"id": 5}], "zone": {"id": 4}}
    assert handy_customers_frame([record]).iloc[0]["fingerprint"] == row.fingerprint


def test_c6_full_mode_adopts_unique_name_matches_and_reports_ambiguous_ones():
    mapped = map_customers(
        [
            client(client_id=1, commercial_name="Tienda Lucía"),
            client(client_id=2, commercial_name="Abarrotes Pepe"),
            client(client_id=3, commercial_name="Farmacia Sol"),
            client(client_id=4, commercial_name="Miscelánea"),
            client(client_id=5, commercial_name="miscelanea"),
            client(client_id=6, commercial_name="Bound One"),
        ]
    )
    handy = handy_customers_frame(
        [
            {"code": "H1", "description": "tienda lucia "},
            {"code": "H2", "description": "Abarrotes Pepe"},
            {"code": "H3", "description": "ABARROTES PEPE"},
            {"code": "H4", "description": "Miscelanea"},
            {
                "code": "H5",
                "description": "Bound One",
            },  # client 6 is bound to H9: not adopted again
            {"code": "H9", "description": "Bound One (renamed in Handy)"},
            {
                "code": "GX-3",
                "description": "Farmacia Sol",
            },  # same code: plan_sync adopts it by code
        ]
    )
    bound = [BindingRecord("H9", "6", "x", "enabled")]
    adoption = match_existing_customers(mapped.desired, handy, bound)
    assert adoption.pairs.to_dict("records") == [{"handy_key": "H1", "gestionix_key": "1"}]
    ambiguous = dict(
        zip(adoption.ambiguous["gestionix_key"], adoption.ambiguous["reason"], strict=False)
    )
    assert set(ambiguous) == {"2", "4", "5"}
    assert "not adopted" in ambiguous["2"] and "H2" in ambiguous["2"] and "H3" in ambiguous["2"]

    plan = plan_sync(mapped.desired, bound, handy, adopt_pairs=adoption.pairs)
    updated = {r.handy_key for r in plan.update}
    assert sorted(r.handy_key for r in plan.adopt) == ["GX-3", "H1"]
    assert "H2" not in updated and "H4" not in updated
    assert sorted(r.payload["key"] for r in plan.create) == ["GX-2", "GX-4", "GX-5"]
    # adopted records are brought to the Gestionix content; H9's drift is repaired in place
    assert sorted(updated) == ["GX-3", "H1", "H9"]
