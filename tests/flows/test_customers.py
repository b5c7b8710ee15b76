"""customer_sync against the loopback sandbox (RULES C1-C7, X1, X3).

The sandbox world (seed 7, 30 clients) has: "Tienda Lucía" three times with case/accent/space
variants, one client with only a razón social, one with neither name, ~5 % inactive, ~20 % in
"Sucursal Norte" (not our sucursal), and Gestionix sellers matching Handy users by e-mail (one
with other case), only by name (accents differ), or not at all ("Vendedor Mostrador").
"""

from __future__ import annotations

import httpx
import pytest

from clients.handy import HandyClient
from flows.customers import customer_sync
from flows.orders import order_push
from mappings.names import normalize_name
from sandbox.server import Sandbox
from store import binder, runs
from tests.kit.sandbox_orders import activate, customer, order, seed_catalog
from tests.kit.tenants import make_tenant

pytestmark = pytest.mark.flow

COMPANY = 92
MATRIZ = 310


# --------------------------------------------------------------------------------- helpers


def gx_clients(sb: Sandbox) -> dict[int, dict]:
    """The clients of our sucursal, by id."""
    clients = sb.gestionix.companies[COMPANY].clients
    return {cid: c for cid, c in clients.items() if c["branch_id"] == MATRIZ}


def named(sb: Sandbox) -> dict[int, dict]:
    return {
        cid: c
        for cid, c in gx_clients(sb).items()
        if (c["commercial_name"] or "").strip() or (c["business_name"] or "").strip()
    }


def handy_customers(sb: Sandbox) -> dict[str, dict]:
    return sb.handy.customers


def patch_client(sb: Sandbox, client_id: int, **changes) -> None:
    """Change a Gestionix client through the sandbox control surface."""
    root = sb.gestionix_url.rsplit("/api/", 1)[0]
    response = httpx.patch(f"{root}/_sandbox/clients/{client_id}", json=changes)
    response.raise_for_status()


def add_client(sb: Sandbox, **fields) -> dict:
    root = sb.gestionix_url.rsplit("/api/", 1)[0]
    body = {"tax_id": "XAXX010101000", "branch_id": MATRIZ, "active": True, **fields}
    response = httpx.put(f"{root}/_sandbox/clients", json=body)
    response.raise_for_status()
    return response.json()


def handy_writes(sb: Sandbox) -> dict[str, int]:
    return {
        k: n
        for k, n in sb.handy.stats.calls.items()
        if k.split(" ", 1)[0] in {"POST", "PUT", "PATCH", "DELETE"}
    }


def last_items(slug: str) -> list:
    run = runs.recent(slug, flow="customers", limit=1)[0]
    return runs.items(slug, run.id)


def expected_user(sb: Sandbox, seller: dict | None) -> int | None:
    """Independent C5 oracle: e-mail (any case), then normalised name; None when no match."""
    if seller is None:
        return None
    users = [u for u in sb.handy.users.values() if u["enabled"]]
    email = (seller.get("email") or "").strip().casefold()
    by_email = [u["id"] for u in users if email and (u["email"] or "").casefold() == email]
    if by_email:
        return by_email[0]
    by_name = [
        u["id"] for u in users if normalize_name(u["name"]) == normalize_name(seller["name"])
    ]
    return by_name[0] if len(by_name) == 1 else None


def code_of(client_id: int) -> str:
    return f"GX-{client_id}"


# --------------------------------------------------------------------------------- C1 - C7


async def test_c1_first_run_copies_every_valid_customer_into_zone_general_with_the_right_seller(
    tenant, sandbox
):
    await customer_sync(tenant)

    customers = handy_customers(sandbox)
    wanted = named(sandbox)
    assert set(customers) == {code_of(cid) for cid in wanted}  # only our sucursal (A1), all of it
    zones = list(sandbox.handy.zones.values())
    assert [z["description"] for z in zones] == ["General"]
    for cid, client in wanted.items():
        customer = customers[code_of(cid)]
        assert customer["zone"]["id"] == zones[0]["id"]
        assert customer["enabled"] is client["active"]
        assert customer["businessName"] == (client["business_name"].strip() or None)
        user = expected_user(sandbox, client["seller"])
        assert customer["sellers"] == ([user] if user is not None else [])
    bindings = binder.records(tenant.slug, "customer")
    assert {b.gestionix_key for b in bindings} == {str(cid) for cid in wanted}
    assert {b.status for b in bindings} <= {"enabled", "disabled"}
    assert not sandbox.gestionix.stats.writes  # direction Gestionix -> Handy only (A5)


async def test_c2_nombre_comercial_else_razon_social_and_nameless_client_reported(tenant, sandbox):
    await customer_sync(tenant)

    clients = gx_clients(sandbox)
    customers = handy_customers(sandbox)
    only_business = next(
        cid
        for cid, c in clients.items()
        if c["business_name"].startswith("Comercializadora Peñafiel")
    )
    assert customers[code_of(only_business)]["description"] == "Comercializadora Peñafiel SA DE CV"
    lucia = next(cid for cid, c in clients.items() if c["commercial_name"] == "Tienda Lucía")
    assert (
        customers[code_of(lucia)]["description"] == "Tienda Lucía"
    )  # both filled: commercial wins
    assert customers[code_of(lucia)]["businessName"] == "ABARROTES LUCIA SA DE CV"
    nameless = [
        cid
        for cid, c in clients.items()
        if not c["commercial_name"].strip() and not c["business_name"].strip()
    ]
    assert nameless and all(code_of(cid) not in customers for cid in nameless)
    skipped = [i for i in last_items(tenant.slug) if i.action == "skipped"]
    assert {i.key for i in skipped} == {str(cid) for cid in nameless}
    assert all("both nombre comercial and razón social are empty" in i.reason for i in skipped)


async def test_c3_deactivate_and_reactivate_each_one_update(tenant, sandbox):
    await customer_sync(tenant)
    cid = next(cid for cid, c in named(sandbox).items() if c["active"])
    code = code_of(cid)

    patch_client(sandbox, cid, active=False)
    sandbox.reset_stats()
    await customer_sync(tenant)
    assert handy_writes(sandbox) == {"PUT /customer/{code}": 1}
    assert handy_customers(sandbox)[code]["enabled"] is False
    assert binder.get(tenant.slug, "customer", code).status == "disabled"

    patch_client(sandbox, cid, active=True)
    sandbox.reset_stats()
    await customer_sync(tenant)
    assert handy_writes(sandbox) == {"PUT /customer/{code}": 1}
    assert handy_customers(sandbox)[code]["enabled"] is True


async def test_c4_zone_general_created_once(tenant, sandbox):
    await customer_sync(tenant)
    new = add_client(sandbox, commercial_name="Abarrotes Recién Llegado")
    sandbox.reset_stats()

    await customer_sync(tenant)

    assert handy_writes(sandbox) == {"POST /customer": 1}  # no second POST /zone, no GET /zone
    assert "GET /zone" not in sandbox.handy.stats.calls
    assert len(sandbox.handy.zones) == 1
    zone = next(iter(sandbox.handy.zones.values()))
    assert handy_customers(sandbox)[code_of(new["client_id"])]["zone"]["id"] == zone["id"]


async def test_c4_existing_zone_general_is_reused(prefect_harness, sandbox):
    existing = sandbox.handy.create_zone({"description": "general"})
    tenant = make_tenant(sandbox)

    await customer_sync(tenant)

    assert "POST /zone" not in sandbox.handy.stats.calls
    assert {c["zone"]["id"] for c in handy_customers(sandbox).values()} == {existing["id"]}


async def test_c5_seller_by_email_then_name_and_unmatched_reported(tenant, sandbox):
    users = {u["name"]: u["id"] for u in sandbox.handy.users.values()}
    await customer_sync(tenant)

    customers = handy_customers(sandbox)
    seen: dict[str, set] = {}
    for cid, client in named(sandbox).items():
        if client["seller"]:
            seen.setdefault(client["seller"]["name"], set()).add(
                tuple(customers[code_of(cid)]["sellers"])
            )
    assert seen["Luis Hernández"] == {(users["Luis Hernández"],)}  # e-mail, other case
    assert seen["Maria Jose Ramirez"] == {(users["María José Ramírez"],)}  # by name (accents)
    assert seen["JOSE ANGEL NUNEZ"] == {(users["José Ángel Núñez"],)}  # by name, e-mail differs
    assert seen["Vendedor Mostrador"] == {()}  # unmatched: synced without assignment

    unmatched = [i for i in last_items(tenant.slug) if i.entity == "seller"]
    assert len(unmatched) == 1  # once per seller, not once per customer
    assert "Vendedor Mostrador" in unmatched[0].reason and unmatched[0].action == "unmatched"


async def test_c6_customer_created_by_order_push_is_updated_not_duplicated(tenant, sandbox):
    # What order_push leaves behind: a Handy customer a seller created on the phone (assigned to
    # that seller), the Gestionix client created for it without a seller (O4), and the binding.
    pedro = next(u["id"] for u in sandbox.handy.users.values() if u["name"] == "Pedro Sin Pareja")
    sandbox.handy.create_customer(
        {"code": "H-NEW-1", "description": "tiendita don beto", "sellers": [pedro]}
    )
    client = add_client(sandbox, commercial_name="Tiendita Don Beto", business_name="BETO SA")
    binder.bind(
        tenant.slug,
        "customer",
        "H-NEW-1",
        str(client["client_id"]),
        status="enabled",
        fingerprint=None,
    )

    await customer_sync(tenant)

    customers = handy_customers(sandbox)
    assert code_of(client["client_id"]) not in customers
    assert (
        sum(normalize_name(c["description"]) == "tiendita don beto" for c in customers.values())
        == 1
    )
    assert customers["H-NEW-1"]["description"] == "Tiendita Don Beto"
    assert customers["H-NEW-1"]["businessName"] == "BETO SA"
    assert customers["H-NEW-1"]["sellers"] == [pedro]  # C5: no Gestionix seller, Handy's kept
    assert sandbox.handy.stats.calls["PUT /customer/{code}"] == 1
    binding = binder.get(tenant.slug, "customer", "H-NEW-1")
    assert binding.gestionix_key == str(client["client_id"]) and binding.fingerprint

    patch_client(sandbox, client["client_id"], commercial_name="Tiendita Don Beto II")
    sandbox.reset_stats()
    await customer_sync(tenant)
    assert handy_writes(sandbox) == {"PUT /customer/{code}": 1}
    assert handy_customers(sandbox)["H-NEW-1"]["description"] == "Tiendita Don Beto II"


TYPED_ON_THE_PHONE = {
    "address": "Calle Hidalgo 12",
    "neighborhood": "Centro",
    "city": "Monterrey",
    "postalCode": "64000",
    "email": "beto@tiendita.mx",
    "phoneNumber": "81 1234 5678",
}


@pytest.mark.parametrize("sync_customer_address", [True, False], ids=["address-on", "address-off"])
async def test_c8_customer_from_a_handy_order_keeps_what_was_typed_and_takes_later_changes(
    prefect_harness, sandbox, monkeypatch, sync_customer_address
):
    """C8 end to end: a customer typed on the phone with address, e-mail and phone -> order_push
    creates its Gestionix client (O4; name only when sync_customer_address is off) -> customer_sync
    (steady state, then full) leaves those Handy fields as typed, and no PUT /customer ever
    carries an empty value. Later Gestionix changes (trade name, RFC, seller, inactive) still
    reach the customer, and the typed fields stay."""
    sb = sandbox
    tenant = make_tenant(sb, sync_customer_address=sync_customer_address)
    sent: list[dict] = []
    real_update = HandyClient.update_customer

    async def spy(self, code, body):
        sent.append(dict(body))
        return await real_update(self, code, body)

    monkeypatch.setattr(HandyClient, "update_customer", spy)
    codes = seed_catalog(sb, 1)
    customer(sb, "H-PHONE-1", "Tiendita Don Beto Ocho", **TYPED_ON_THE_PHONE)
    order(sb, "H-PHONE-1", [(codes[0], 2)])
    activate(tenant.slug)

    await order_push(tenant)

    client_id = int(binder.get(tenant.slug, "customer", "H-PHONE-1").gestionix_key)
    client = sb.gestionix.companies[COMPANY].clients[client_id]
    assert (client["address"] is not None) is sync_customer_address  # O4
    assert client["email"] is None and client["phone"] is None  # O4 sends neither

    def record() -> dict:
        found = handy_customers(sb)["H-PHONE-1"]
        assert {k: found[k] for k in TYPED_ON_THE_PHONE} == TYPED_ON_THE_PHONE
        return found

    await customer_sync(tenant)
    record()
    await customer_sync(tenant, full=True)
    record()
    await customer_sync(tenant)
    assert code_of(client_id) not in handy_customers(sb)  # C6: updated in place, not copied

    ana = next(
        s
        for s in sb.gestionix.companies[COMPANY].sellers.values()
        if s["email"] == "ana.perez@demo.mx"
    )
    ana_user = next(u["id"] for u in sb.handy.users.values() if u["email"] == "ana.perez@demo.mx")
    patch_client(
        sb,
        client_id,
        commercial_name="Tiendita Don Beto 8",
        tax_id="TDB010101AB1",
        seller_id=ana["seller_id"],
    )
    await customer_sync(tenant)
    changed = record()
    assert (changed["description"], changed["rfc"]) == ("Tiendita Don Beto 8", "TDB010101AB1")
    assert ana_user in changed["sellers"]
    await customer_sync(tenant, full=True)
    assert record()["description"] == "Tiendita Don Beto 8"

    patch_client(sb, client_id, active=False)
    await customer_sync(tenant)
    assert record()["enabled"] is False

    assert sent, "customer_sync wrote the customer"
    for body in sent:
        assert all(value not in ("", None, []) for value in body.values()), body


async def test_c8_no_update_blanks_a_filled_handy_field_of_any_customer(
    tenant, sandbox, monkeypatch
):
    """C8: a customer_sync customer whose Gestionix e-mail and phone are emptied keeps the Handy
    values (steady state and full); the trade-name change still goes through."""
    sb = sandbox
    sent: list[dict] = []
    real_update = HandyClient.update_customer

    async def spy(self, code, body):
        sent.append(dict(body))
        return await real_update(self, code, body)

    monkeypatch.setattr(HandyClient, "update_customer", spy)
    client = add_client(
        sb,
        commercial_name="Cremería La Vaca Feliz",
        business_name="VACA SA",
        email="vaca@feliz.mx",
        phone="33 3333 3333",
    )
    await customer_sync(tenant)
    code = code_of(client["client_id"])
    assert handy_customers(sb)[code]["email"] == "vaca@feliz.mx"

    patch_client(sb, client["client_id"], email=None, phone="", commercial_name="La Vaca Feliz")
    await customer_sync(tenant)
    await customer_sync(tenant, full=True)
    kept = handy_customers(sb)[code]
    assert (kept["email"], kept["phoneNumber"]) == ("vaca@feliz.mx", "33 3333 3333")
    assert kept["description"] == "La Vaca Feliz"
    assert sent and all(v not in ("", None, []) for body in sent for v in body.values())


async def test_c7_switch_off_writes_nothing(prefect_harness, sandbox):
    tenant = make_tenant(sandbox, sync_customers=False)

    summary = await customer_sync(tenant)

    assert "sync_customers is off" in summary
    assert sandbox.handy.stats.calls == {} and sandbox.gestionix.stats.calls == {}
    assert not binder.records(tenant.slug, "customer")
    run = runs.recent(tenant.slug, flow="customers", limit=1)[0]
    assert run.status == "skipped" and "sync_customers is off" in run.summary


# --------------------------------------------------------------------------------- steady state


async def test_p8_second_run_writes_nothing(tenant, sandbox):
    """P8 for customers: no change in Gestionix -> no Handy write, no binding rewritten."""
    await customer_sync(tenant)
    before = {b.handy_key: b.synced_at for b in binder.records(tenant.slug, "customer")}
    sandbox.reset_stats()

    await customer_sync(tenant)

    assert handy_writes(sandbox) == {}
    assert sandbox.handy.stats.calls == {"GET /user": 1}  # no customer or zone read either
    after = {b.handy_key: b.synced_at for b in binder.records(tenant.slug, "customer")}
    assert after == before


async def test_c2_c5_rename_and_reassign_seller_are_exactly_one_update_each(tenant, sandbox):
    await customer_sync(tenant)
    cid = next(cid for cid, c in named(sandbox).items() if c["active"] and c["commercial_name"])
    code = code_of(cid)

    patch_client(sandbox, cid, commercial_name="Nombre Nuevo")
    sandbox.reset_stats()
    await customer_sync(tenant)
    assert handy_writes(sandbox) == {"PUT /customer/{code}": 1}
    assert handy_customers(sandbox)[code]["description"] == "Nombre Nuevo"

    sellers = sandbox.gestionix.companies[COMPANY].sellers.values()
    rocio_seller = next(s["seller_id"] for s in sellers if s["name"] == "Rocío Treviño")
    rocio_user = next(u["id"] for u in sandbox.handy.users.values() if u["name"] == "Rocío Treviño")
    ana_seller = next(s["seller_id"] for s in sellers if s["name"] == "Ana Pérez")
    patch_client(sandbox, cid, seller_id=ana_seller)
    await customer_sync(tenant)
    patch_client(sandbox, cid, seller_id=rocio_seller)
    sandbox.reset_stats()
    await customer_sync(tenant)
    assert handy_writes(sandbox) == {"PUT /customer/{code}": 1}
    assert handy_customers(sandbox)[code]["sellers"] == [rocio_user]

    # C5: a seller removed in Gestionix is one update too, but it does not leave the customer
    # with nobody in Handy
    patch_client(sandbox, cid, seller_id=None)
    sandbox.reset_stats()
    await customer_sync(tenant)
    assert handy_writes(sandbox) == {"PUT /customer/{code}": 1}
    assert handy_customers(sandbox)[code]["sellers"] == [rocio_user]


# --------------------------------------------------------------------------------- X3, adoption


async def test_x3_dry_run_reports_the_plan_and_writes_nothing(tenant, sandbox):
    summary = await customer_sync(tenant, dry_run=True)

    assert summary.startswith("[dry run]")
    assert f"{len(named(sandbox))} created" in summary
    assert handy_writes(sandbox) == {} and sandbox.gestionix.stats.writes == 0
    assert not binder.records(tenant.slug, "customer") and not binder.records(tenant.slug, "zone")
    items = last_items(tenant.slug)
    assert sum(i.action == "would create" and i.entity == "customer" for i in items) == len(
        named(sandbox)
    )
    assert any(i.entity == "zone" and i.action == "would create" for i in items)

    await customer_sync(tenant)  # the real run still has everything to do
    assert len(handy_customers(sandbox)) == len(named(sandbox))


async def test_c6_full_mode_adopts_unique_name_matches_and_reports_ambiguous_ones(tenant, sandbox):
    clients = named(sandbox)
    unique = next(
        cid
        for cid, c in clients.items()
        if c["commercial_name"]
        and sum(
            normalize_name(o["commercial_name"] or o["business_name"])
            == normalize_name(c["commercial_name"])
            for o in clients.values()
        )
        == 1
    )
    shouted = normalize_name(clients[unique]["commercial_name"]).upper()
    sandbox.handy.create_customer({"code": "MANUAL-1", "description": shouted})
    sandbox.handy.create_customer({"code": "MANUAL-2", "description": "Tienda Lucia"})

    await customer_sync(tenant, full=True)

    customers = handy_customers(sandbox)
    assert code_of(unique) not in customers  # adopted, not copied a second time
    assert customers["MANUAL-1"]["description"] == clients[unique]["commercial_name"].strip()
    assert binder.get(tenant.slug, "customer", "MANUAL-1").gestionix_key == str(unique)
    assert customers["MANUAL-2"]["description"] == "Tienda Lucia"  # ambiguous: left alone
    assert binder.get(tenant.slug, "customer", "MANUAL-2") is None
    ambiguous = [i for i in last_items(tenant.slug) if i.action == "ambiguous"]
    lucias = {
        cid for cid, c in clients.items() if normalize_name(c["commercial_name"]) == "tienda lucia"
    }
    assert {i.key for i in ambiguous} == {str(cid) for cid in lucias}
    assert all("MANUAL-2" in i.reason for i in ambiguous)

    # drift made by hand in Handy is repaired by the next full run, with one write
    sandbox.handy.update_customer(code_of(next(iter(lucias))), {"description": "Otro nombre"})
    sandbox.reset_stats()
    await customer_sync(tenant, full=True)
    assert handy_writes(sandbox) == {"PUT /customer/{code}": 1}
    assert handy_customers(sandbox)[code_of(next(iter(lucias)))]["description"] != "Otro nombre"


async def test_c6_create_meeting_its_own_code_in_handy_adopts_it(tenant, sandbox):
    """A crash between the create and the binding leaves GX-<id> in Handy unbound: the next
    run adopts it instead of failing or duplicating."""
    cid = next(cid for cid, c in named(sandbox).items() if c["active"])
    sandbox.handy.create_customer({"code": code_of(cid), "description": "a medias"})

    await customer_sync(tenant)

    assert not [i for i in last_items(tenant.slug) if i.action == "failed"]
    assert binder.get(tenant.slug, "customer", code_of(cid)).gestionix_key == str(cid)
    client = named(sandbox)[cid]
    assert handy_customers(sandbox)[code_of(cid)]["description"] == (
        client["commercial_name"].strip() or client["business_name"].strip()
    )
    sandbox.reset_stats()
    await customer_sync(tenant)
    assert handy_writes(sandbox) == {}


async def test_c6_bound_customer_deleted_in_handy_is_created_again_with_its_code(tenant, sandbox):
    """A bound customer removed from Handy by hand answers 404 to the update: it is created again
    under the same code (and zone General) instead of failing every run."""
    await customer_sync(tenant)
    cid = next(cid for cid, c in named(sandbox).items() if c["active"] and c["commercial_name"])
    code = code_of(cid)
    del sandbox.handy.customers[code]
    sandbox.handy.touch()
    patch_client(sandbox, cid, commercial_name="Reabierta")
    sandbox.reset_stats()

    await customer_sync(tenant)

    assert handy_writes(sandbox) == {"PUT /customer/{code}": 1, "POST /customer": 1}
    assert handy_customers(sandbox)[code]["description"] == "Reabierta"
    assert handy_customers(sandbox)[code]["zone"]["description"] == "General"
    assert not [i for i in last_items(tenant.slug) if i.action == "failed"]


# --------------------------------------------------------------------------------- deletion protection


def enabled_bound(slug: str) -> list[str]:
    return sorted(b.handy_key for b in binder.records(slug, "customer") if b.status == "enabled")


def client_id_of(code: str) -> int:
    return int(code.removeprefix("GX-"))


async def test_c3_mass_deactivation_stops_before_any_write_dry_run_warns_confirm_goes_on(
    tenant, sandbox
):
    """C3 deletion protection: 6 of ~20 enabled customers made inactive at once (> 10 %) -> a dry
    run completes and says the real run would stop; the real run ends Failed before writing
    anything (not even the new client), naming counts, share and threshold; with
    confirm_mass_disable=True they are disabled and the audit notes the confirmation."""
    await customer_sync(tenant)
    bound = enabled_bound(tenant.slug)
    inactive = bound[:6]
    assert 6 / len(bound) > 0.10
    for code in inactive:
        patch_client(sandbox, client_id_of(code), active=False)
    new = add_client(sandbox, commercial_name="Abarrotes Protegidos")
    sandbox.reset_stats()

    dry = await customer_sync(tenant, dry_run=True, return_state=True)
    assert dry.is_completed() and handy_writes(sandbox) == {}
    assert "The real run would stop before writing" in await dry.result()

    state = await customer_sync(tenant, return_state=True)
    assert state.is_failed()
    assert f"6 of {len(bound)} enabled bound customers" in state.message
    assert (
        "0 gone from the Gestionix read, 0 no longer for sale, 6 inactive in Gestionix"
        in state.message
    )
    assert "threshold 10 %" in state.message
    assert f"hgsync run customers --tenant {tenant.slug} --confirm-mass-disable" in state.message
    assert handy_writes(sandbox) == {}
    assert all(handy_customers(sandbox)[c]["enabled"] for c in inactive)
    assert code_of(new["client_id"]) not in handy_customers(sandbox)
    assert enabled_bound(tenant.slug) == bound
    run = runs.recent(tenant.slug, flow="customers", limit=1)[0]
    assert run.status == "failed" and "Mass disable stopped" in run.summary
    withheld = [i.key for i in last_items(tenant.slug) if i.action == "disable withheld"]
    assert sorted(withheld) == inactive

    summary = await customer_sync(tenant, confirm_mass_disable=True)
    assert all(handy_customers(sandbox)[c]["enabled"] is False for c in inactive)
    assert code_of(new["client_id"]) in handy_customers(sandbox)
    assert "Operator confirmed the mass disable" in summary
    run = runs.recent(tenant.slug, flow="customers", limit=1)[0]
    assert run.status == "completed" and run.counts["disabled"] == 6


async def test_c3_fewer_disables_than_the_floor_never_stop_a_small_tenant(tenant, sandbox):
    """C3: 4 customers gone or inactive (over 10 % of ~20, but under the floor of 5) are
    disabled as usual."""
    await customer_sync(tenant)
    bound = enabled_bound(tenant.slug)
    assert 4 / len(bound) > 0.10
    for code in bound[:2]:
        patch_client(sandbox, client_id_of(code), active=False)
    for code in bound[2:4]:  # moved to the other sucursal: gone from our read
        patch_client(sandbox, client_id_of(code), branch_id=311)
    sandbox.reset_stats()
    state = await customer_sync(tenant, return_state=True)
    assert state.is_completed()
    assert handy_writes(sandbox) == {"PUT /customer/{code}": 4}
    assert all(handy_customers(sandbox)[c]["enabled"] is False for c in bound[:4])
