"""`hgsync demo`: the whole integration against the sandbox, with a few cycles of seller activity.

Runs on its own store file (`$HGSYNC_HOME/demo-state.db`, recreated each time) so it never
touches real tenants' state. Prefect runs go to the configured Prefect API, or to Prefect's
local ephemeral server when none is configured; `prefect server start` then shows them.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

DEMO_SLUG = "demo"
DEMO_RUN_BLOCKS = {
    "handy_credentials": "demo-run-handy",
    "gestionix_credentials": "demo-run-gestionix",
}
HANDY_PORT, GESTIONIX_PORT = 8701, 8702


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _use_demo_store() -> Path:
    from store.db import hgsync_home

    home = hgsync_home()
    home.mkdir(parents=True, exist_ok=True)
    path = home / "demo-state.db"
    for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        stale.unlink(missing_ok=True)
    os.environ["HGSYNC_DATABASE_URL"] = f"sqlite:///{path}"
    return path


@dataclass
class Activity:
    """What the simulated sellers did, to tell the operator what to expect."""

    created: list[int] = field(default_factory=list)
    offline: list[int] = field(default_factory=list)
    edited: list[tuple[int, int]] = field(default_factory=list)
    deleted_after_push: list[int] = field(default_factory=list)
    deleted_before_push: list[int] = field(default_factory=list)
    unknown_product: list[int] = field(default_factory=list)


class SellerSimulator:
    """Seller activity through the sandbox's control surface (as phones would do it)."""

    def __init__(self, handy_url: str, handy_token: str) -> None:
        base = handy_url.rsplit("/api/", 1)[0]
        self.control = httpx.Client(base_url=f"{base}/_sandbox", timeout=30)
        self.api = httpx.Client(
            base_url=handy_url, timeout=30, headers={"Authorization": f"Bearer {handy_token}"}
        )
        self.activity = Activity()

    def close(self) -> None:
        self.control.close()
        self.api.close()

    def _post(self, path: str, body: dict) -> dict | list:
        response = self.control.post(path, json=body)
        response.raise_for_status()
        return response.json()

    def _state(self, only: str) -> dict:
        return self.control.get("/state", params={"only": only}).raise_for_status().json()

    def random_orders(self, count: int) -> list[int]:
        created = self._post("/orders/random", {"count": count})
        ids = [
            o["id"] if isinstance(o, dict) else int(o)
            for o in (created.get("ids", created) if isinstance(created, dict) else created)
        ]
        self.activity.created += ids
        return ids

    def order(self, **spec) -> int:
        order_id = self._post("/orders", spec)["id"]
        self.activity.created.append(order_id)
        return order_id

    def some_product_codes(self, count: int) -> list[str]:
        products = self._state("products")["products"]
        return [p["code"] for p in products if p.get("enabled")][:count]

    def some_customer_code(self) -> str:
        customers = self._state("customers")["customers"]
        return next(c["code"] for c in customers if c.get("enabled"))

    def offline_presale(self) -> int:
        code = self.some_product_codes(1)[0]
        order_id = self.order(
            salesType="PRESALE",
            customer=self.some_customer_code(),
            items=[{"product": code, "quantity": 6}],
            offlineMinutes=180,
            sellerComment="Tomado sin señal, sincronizado 3 h después",
        )
        self.activity.offline.append(order_id)
        return order_id

    def new_customer_sale(self) -> int:
        codes = self.some_product_codes(2)
        return self.order(
            salesType="ROUTE",
            customer={
                "code": "H-DEMO-1",
                "description": "Tiendita Doña Chela",
                "address": "Av. Juárez 45",
                "city": "Monterrey",
            },
            items=[
                {"product": codes[0], "quantity": 2},
                {"product": codes[1], "quantity": 1, "discountPercentage": 10},
            ],
        )

    def edit(self, order_id: int) -> int:
        code = self.some_product_codes(3)[-1]
        new = self._post(
            f"/orders/{order_id}/edit", {"items": [{"product": code, "quantity": 12}]}
        )["id"]
        self.activity.edited.append((order_id, new))
        return new

    def delete(self, order_id: int, *, pushed: bool) -> None:
        self.control.delete(f"/orders/{order_id}").raise_for_status()
        (self.activity.deleted_after_push if pushed else self.activity.deleted_before_push).append(
            order_id
        )

    def order_with_unknown_product(self) -> int:
        """A product a seller's admin created by hand in Handy only: Gestionix has no such clave."""
        self.api.post(
            "/product",
            json={
                "code": "SOLO-HANDY-1",
                "description": "Producto creado a mano en Handy",
                "family": {"description": "Varios"},
                "price": 25.0,
            },
        ).raise_for_status()
        order_id = self.order(
            salesType="ROUTE",
            customer=self.some_customer_code(),
            items=[{"product": "SOLO-HANDY-1", "quantity": 1}],
        )
        self.activity.unknown_product.append(order_id)
        return order_id


def _run(coroutine):
    return asyncio.run(coroutine)


def run_demo(products: int = 120, customers: int = 40, cycles: int = 3, seed: int = 7) -> int:
    """Start the sandbox, activate the demo tenant, simulate sellers, push, and summarise."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    console = Console()
    store_path = _use_demo_store()

    from flows.activate import activate
    from flows.deletions import deletion_sync
    from flows.orders import order_push
    from flows.runs import tenant_tags
    from ops import deployments
    from sandbox.server import describe, run_sandbox

    ports = (
        (HANDY_PORT, GESTIONIX_PORT)
        if _port_free(HANDY_PORT) and _port_free(GESTIONIX_PORT)
        else (0, 0)
    )
    with run_sandbox(
        seed=seed,
        products=products,
        customers=customers,
        handy_port=ports[0],
        gestionix_port=ports[1],
    ) as sb:
        console.rule("[bold]handy-gestionix demo")
        if ports == (0, 0):
            console.print(
                f"ports {HANDY_PORT}/{GESTIONIX_PORT} are busy (a running `hgsync sandbox`?): "
                "this demo's own sandbox uses free ports instead"
            )
        console.print(describe(sb))
        # The demo's own blocks: the deployed demo tenant's blocks (demo-handy, demo-gestionix)
        # are never overwritten by a demo run (its sandbox may be on other ports, and then gone).
        tenant = deployments.tenant(DEMO_SLUG).model_copy(update=DEMO_RUN_BLOCKS)
        _save_blocks(sb, tenant)

        console.rule("activate: checks, first catalog and customer sync")
        with tenant_tags(tenant.slug, "activate"):  # the demo's runs carry the tenant tag too
            console.print(_run(activate(tenant=tenant)))

        sellers = SellerSimulator(sb.handy_url, sb.handy_token)
        try:
            for cycle in range(1, cycles + 1):
                console.rule(f"cycle {cycle}: sellers at work")
                _sellers_at_work(sellers, cycle)
                # Handy windows are whole seconds: let this second close before the push reads it
                # (in production the 10-minute schedule gives this for free; the lookback re-reads it).
                time.sleep(1.1)
                with tenant_tags(tenant.slug, "orders"):
                    console.print(f"order_push: {_run(order_push(tenant=tenant))}")
                with tenant_tags(tenant.slug, "deletions"):
                    console.print(f"deletion_sync: {_run(deletion_sync(tenant=tenant))}")
            summary = _summarise(sb, tenant.slug, sellers.activity)
            problems = _exactly_once_problems(sb, tenant.slug)
        finally:
            sellers.close()

    return _print_outcome(console, summary, problems, store_path)


def _save_blocks(sb, tenant) -> None:
    """The demo run's two credential blocks, pointing at this run's sandbox."""
    from clients.credentials import GestionixCredentials, HandyCredentials

    HandyCredentials(base_url=sb.handy_url, api_token=sb.handy_token).save(
        tenant.handy_credentials, overwrite=True
    )
    GestionixCredentials(
        base_url=sb.gestionix_url, user=sb.gestionix_user, password=sb.gestionix_password
    ).save(tenant.gestionix_credentials, overwrite=True)


def _sellers_at_work(sellers: SellerSimulator, cycle: int) -> None:
    """Cycle 1: new orders, an offline presale, a new customer; 2: an edit, a deletion of a
    pushed order, an unknown product; 3: an order deleted before its push."""
    if cycle == 1:
        sellers.random_orders(5)
        sellers.offline_presale()
        sellers.new_customer_sale()
    elif cycle == 2:
        first = sellers.activity.created[0]
        sellers.edit(first)
        sellers.delete(sellers.activity.created[1], pushed=True)
        sellers.order_with_unknown_product()
        sellers.random_orders(3)
    else:
        doomed = sellers.random_orders(1)[0]
        sellers.delete(doomed, pushed=False)
        sellers.random_orders(3)


def _print_outcome(console, summary, problems: list[str], store_path) -> int:
    console.rule("summary")
    console.print(summary)
    if problems:
        console.print("[red]exactly-once check FAILED:[/red]\n" + "\n".join(problems))
        return 1
    console.print(
        "[green]exactly-once check: every live Handy order has one Gestionix document or an open "
        "dead letter with its reason; no deleted order has one.[/green]"
    )
    console.print(
        f"Store: {store_path}\n"
        "Runs and artifacts: start the UI with `.venv/bin/prefect server start` and open "
        "http://127.0.0.1:4200 → Runs (each flow run) and Artifacts (`demo-catalog`, `demo-orders`, ...).\n"
        f"Command line: `HGSYNC_DATABASE_URL=sqlite:///{store_path} .venv/bin/hgsync report --tenant demo`."
    )
    return 0


def _exactly_once_problems(sb, tenant: str) -> list[str]:
    from collections import Counter

    from store import dead_letters

    company = sb.gestionix.companies[sb.company_id]
    refs = Counter(d.get("reference") for kind in company.documents.values() for d in kind.values())
    letters = {letter.key for letter in dead_letters.open_letters(tenant, "order")}
    problems = []
    for order in sb.handy.orders.values():
        count = refs.get(f"HANDY-{order['id']}", 0)
        if order["deleted"] and count:
            problems.append(f"deleted order {order['id']} still has {count} document(s)")
        if not order["deleted"] and count != 1 and not (count == 0 and str(order["id"]) in letters):
            problems.append(f"live order {order['id']} has {count} documents")
    return problems


def _summarise(sb, tenant: str, activity: Activity) -> Table:
    from store import binder, dead_letters

    company = sb.gestionix.companies[sb.company_id]
    documents = [d for kind in company.documents.values() for d in kind.values()]
    handy_refs = [d for d in documents if str(d.get("reference", "")).startswith("HANDY-")]
    live_orders = [o for o in sb.handy.orders.values() if not o["deleted"]]
    order_bindings = binder.all_for(tenant, "order")
    pushed = [b for b in order_bindings if b.status == "pushed"]
    deleted = [b for b in order_bindings if b.status == "deleted"]
    tombstoned = [b for b in order_bindings if b.status == "tombstoned"]
    letters = dead_letters.open_letters(tenant)

    table = Table(title="demo tenant after activation and the seller cycles")
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_column("detail")
    table.add_row(
        "Handy products (enabled)",
        str(sum(p["enabled"] for p in sb.handy.products.values())),
        f"{len(sb.handy.products)} in Handy, {len(sb.handy.families)} families",
    )
    table.add_row("Handy customers", str(len(sb.handy.customers)), f"zones: {len(sb.handy.zones)}")
    table.add_row(
        "Handy orders live / deleted",
        f"{len(live_orders)} / {len(sb.handy.orders) - len(live_orders)}",
        f"offline {activity.offline}, edited {activity.edited}",
    )
    table.add_row(
        "Gestionix documents from Handy",
        str(len(handy_refs)),
        f"pedidos {sum(1 for d in company.documents['sales_order'].values() if str(d.get('reference', '')).startswith('HANDY-'))}, "
        f"ventas {sum(1 for d in company.documents['sale'].values() if str(d.get('reference', '')).startswith('HANDY-'))}",
    )
    table.add_row(
        "orders pushed (bindings)", str(len(pushed)), "each with Handy externalId = Gestionix id"
    )
    table.add_row(
        "documents deleted",
        str(len(deleted)),
        f"after push: {activity.deleted_after_push}, edits: {[old for old, _ in activity.edited]}",
    )
    table.add_row(
        "deleted before push (never pushed)",
        str(len(tombstoned)),
        str(activity.deleted_before_push),
    )
    for letter in letters:
        table.add_row(
            f"dead letter {letter.entity} {letter.key}", str(letter.attempts), letter.reason
        )
    if not letters:
        table.add_row("dead letters", "0", "")
    return table
