"""In-memory stand-in for Handy's REST API v2 (see shared/spec/handy-api-v2.md).

API under /api/v2 (Bearer token), control surface under /_sandbox/ (no auth).
Every [A] behaviour of the spec is reproduced as the spec assumes it; the sandbox's own
choices are listed in sandbox/README.md.
"""

from __future__ import annotations

import copy
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, FastAPI, Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from sandbox.common import (
    CallStats,
    Clock,
    FixedWindowLimiter,
    Knobs,
    SandboxMiddleware,
    VersionedStore,
    iso_z,
    json_response,
    page_slice,
)

API_PREFIX = "/api/v2"
DEMO_TOKEN = "demo-handy-token"
QUERY_DATE_FORMAT = "%d/%m/%Y %H:%M:%S"
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100
SALES_TYPE_ROUTE = "Venta en ruta"
SALES_TYPE_PRESALE = "Preventa"
SALES_TYPE_FILTERS = {"ROUTE": SALES_TYPE_ROUTE, "PRESALE": SALES_TYPE_PRESALE}
ORDER_DATE_FIELDS = ("dateCreated", "mobileDateCreated", "dateDeleted", "lastUpdated")
DEFAULT_TIMEZONE = "America/Mexico_City"

OBJ_PRODUCT = "com.locus.product.Product"
OBJ_FAMILY = "com.locus.product.ProductFamily"
OBJ_CUSTOMER = "com.locus.customer.Customer"
OBJ_ZONE = "com.locus.zone.Zone"
OBJ_ORDER = "com.locus.salesorder.SalesOrder"
OBJ_PARAMS = "com.locus.api.ListParams"


@dataclass
class HandyKnobs(Knobs):
    """Handy's knobs: the common ones plus ways a real Handy may differ from this stand-in
    (what each stands for: sandbox/README.md, Knobs)."""

    rate_limit_per_minute: int | None = 500
    paging_envelope: bool = True  # False: list answers carry no "pagination" object
    page_size_cap: int = 0  # >0: at most this many records per page, whatever `max` asks
    repeat_across_pages: bool = (
        False  # salesOrder: page N>=2 starts with the last record of page N-1
    )
    mutate_while_paging: str = (
        "none"  # salesOrder: "delete"/"insert" an order before each page N>=2
    )
    clock_offset_seconds: float = 0.0  # Handy's clock = sandbox clock + offset (stamps and Date)
    ambiguous_local_time: str = "earlier"  # how a start/end bound with two readings is read

    CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {
        "mutate_while_paging": ("none", "delete", "insert"),
        "ambiguous_local_time": ("earlier", "later"),
    }
    NON_NEGATIVE = frozenset({"page_size_cap"})


class HandyError(Exception):
    """An HTTP error with Handy's body (422: {"errors": [...]}; others: {"message"})."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


def unprocessable(obj: str, field: str, rejected: Any, message: str) -> HandyError:
    return HandyError(
        422,
        {
            "errors": [
                {"object": obj, "field": field, "rejected-value": rejected, "message": message}
            ]
        },
    )


def not_found(what: str) -> HandyError:
    return HandyError(404, {"message": f"{what} no encontrado"})


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class HandyState(VersionedStore):
    """Everything one Handy account holds. Lists keep creation (= id) order."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        seed: int = 7,
        token: str = DEMO_TOKEN,
        timezone: str = DEFAULT_TIMEZONE,
        **knobs: Any,
    ) -> None:
        self.clock = clock or Clock()
        self.knobs = HandyKnobs()
        self.knobs.update(knobs)
        self.initial_knobs = self.knobs.as_dict()
        self.stats = CallStats()
        self.limiter = FixedWindowLimiter(self.clock)
        self.fault_rng = random.Random(seed)
        self.order_rng = random.Random(seed + 1)
        self.token = token
        self.zone = ZoneInfo(timezone)
        # Set by sandbox.data.generate_world: the same world generated again (reset() goes back
        # to it). Injected, so this module does not import the generator that imports it.
        self.regenerate: Callable[[], Any] | None = None
        self._clear()

    def _clear(self) -> None:
        self.products: dict[str, dict] = {}
        self.product_updated: dict[str, float] = {}
        self.families: dict[int, dict] = {}
        self.customers: dict[str, dict] = {}
        self.customer_updated: dict[str, float] = {}
        self.zones: dict[int, dict] = {}
        self.users: dict[int, dict] = {}
        self.routes: dict[int, dict] = {}
        self.route_inventory: dict[int, dict[str, float]] = {}
        self.taxes: dict[int, dict] = {}
        self.orders: dict[int, dict] = {}
        self.order_times: dict[int, dict[str, float | None]] = {}
        self.pending_random_orders = 0
        self.paging_mutations: list[
            dict
        ] = []  # what mutate_while_paging did: {kind, order_id, page}
        self._reset_versioning(
            {
                "product": 1000,
                "family": 10,
                "customer": 5000,
                "zone": 1,
                "order": 29079000,
                "item": 81000000,
                "tax": 1,
                "user": 100,
                "route": 700,
            }
        )

    # ---- helpers -------------------------------------------------------------------------
    def now(self) -> float:
        """Handy's own clock: the sandbox clock + `clock_offset_seconds` (every stamp and `Date`)."""
        return self.clock.now() + (self.knobs.clock_offset_seconds or 0.0)

    def now_iso(self) -> str:
        return iso_z(self.now())

    def parse_query_date(self, field: str, value: str) -> float:
        """`dd/MM/yyyy HH:mm:ss` read in the account's zone -> unix seconds. A wall time with two
        readings (the repeated hour when DST ends, or one skipped when it starts) is read as the
        earlier or the later instant, as the `ambiguous_local_time` knob says."""
        try:
            naive = datetime.strptime(value.strip(), QUERY_DATE_FORMAT)
        except ValueError:
            raise unprocessable(
                OBJ_PARAMS, field, value, "La fecha debe tener el formato dd/MM/yyyy HH:mm:ss"
            ) from None
        # fold=0/1 give the two readings of an ambiguous time; in a gap they give the offsets
        # before/after the jump, which PEP 495 maps to the later/earlier instant: min/max is right in both.
        readings = [naive.replace(tzinfo=self.zone, fold=fold).timestamp() for fold in (0, 1)]
        return max(readings) if self.knobs.ambiguous_local_time == "later" else min(readings)

    def reset(self) -> None:
        """Back to the generated world (same seed and sizes). Knobs are kept."""
        world = self.regenerate() if self.regenerate is not None else None
        self._clear()
        if world is not None:
            fresh = world.handy
            for name in (
                "products",
                "product_updated",
                "families",
                "customers",
                "customer_updated",
                "zones",
                "users",
                "routes",
                "route_inventory",
                "taxes",
                "orders",
                "order_times",
                "pending_random_orders",
                "_ids",
            ):
                setattr(self, name, getattr(fresh, name))
        self.stats.reset()
        self.limiter.reset()
        self.touch()

    # ---- taxes, families, zones -----------------------------------------------------------
    def resolve_tax(self, value: Any, field: str) -> dict | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            raise unprocessable(OBJ_PRODUCT, field, value, "El impuesto debe ser un objeto")
        if "id" in value and value["id"] is not None:
            tax = self.taxes.get(value["id"]) if isinstance(value["id"], int) else None
            if tax is None:
                raise unprocessable(
                    OBJ_PRODUCT, f"{field}.id", value["id"], "El impuesto no existe"
                )
            return dict(tax)
        amount = value.get("amount")
        if not _is_number(amount) or amount < 0:
            raise unprocessable(
                OBJ_PRODUCT,
                f"{field}.amount",
                amount,
                "La propiedad Monto debe ser un número válido",
            )
        name = str(value.get("name") or "IVA")
        for tax in self.taxes.values():
            if tax["name"] == name and float(tax["amount"]) == float(amount):
                return dict(tax)
        tax = {"id": self.next_id("tax"), "name": name, "amount": float(amount), "enabled": True}
        self.taxes[tax["id"]] = tax
        return dict(tax)

    def create_family(self, description: Any) -> dict:
        if not isinstance(description, str) or not description.strip():
            raise unprocessable(
                OBJ_FAMILY, "description", description, "La descripción es obligatoria"
            )
        family = {"id": self.next_id("family"), "description": description, "enabled": True}
        self.families[family["id"]] = family
        self.touch()
        return family

    def resolve_family(self, value: Any) -> dict:
        if not isinstance(value, dict):
            raise unprocessable(OBJ_PRODUCT, "family", value, "La familia es obligatoria")
        if value.get("id") is not None:
            family = self.families.get(value["id"]) if isinstance(value["id"], int) else None
            if family is None:
                raise unprocessable(OBJ_PRODUCT, "family.id", value["id"], "La familia no existe")
            return dict(family)
        description = value.get("description")
        for family in self.families.values():
            if family["description"] == description:
                return dict(family)
        return dict(self.create_family(description))

    def create_zone(self, body: dict) -> dict:
        description = body.get("description")
        if not isinstance(description, str) or not description.strip():
            raise unprocessable(
                OBJ_ZONE, "description", description, "La descripción es obligatoria"
            )
        zone = {
            "id": self.next_id("zone"),
            "description": description,
            "color": body.get("color") or "#3F51B5",
            "enabled": True,
        }
        self.zones[zone["id"]] = zone
        self.touch()
        return zone

    def resolve_zone(self, value: Any) -> dict | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            raise unprocessable(OBJ_CUSTOMER, "zone", value, "La zona debe ser un objeto")
        if value.get("id") is not None:
            zone = self.zones.get(value["id"]) if isinstance(value["id"], int) else None
            if zone is None:
                raise unprocessable(OBJ_CUSTOMER, "zone.id", value["id"], "La zona no existe")
            return dict(zone)
        for zone in self.zones.values():
            if zone["description"] == value.get("description"):
                return dict(zone)
        raise unprocessable(
            OBJ_CUSTOMER, "zone.description", value.get("description"), "La zona no existe"
        )

    # ---- products -------------------------------------------------------------------------
    def _check_code(self, obj: str, code: Any) -> str:
        if not isinstance(code, str) or not code.strip():
            raise unprocessable(obj, "code", code, "El código es obligatorio")
        if "/" in code:
            raise unprocessable(obj, "code", code, "El código no puede contener el carácter '/'")
        return code

    def _apply_product_fields(self, product: dict, body: dict) -> None:
        if "description" in body:
            if not isinstance(body["description"], str) or not body["description"].strip():
                raise unprocessable(
                    OBJ_PRODUCT,
                    "description",
                    body["description"],
                    "La propiedad Descripción es obligatoria",
                )
            product["description"] = body["description"]
        if "family" in body:
            product["family"] = self.resolve_family(body["family"])
        for field, label in (
            ("price", "Precio"),
            ("basePrice", "Precio base"),
            ("quantity", "Cantidad"),
        ):
            if field in body:
                value = body[field]
                if not _is_number(value) or (field != "quantity" and value < 0):
                    raise unprocessable(
                        OBJ_PRODUCT, field, value, f"La propiedad {label} debe ser un número válido"
                    )
                product[field] = float(value)
        for field in ("tax", "taxOptional"):
            if field in body:
                product[field] = self.resolve_tax(body[field], field)
        if "enabled" in body:
            if not isinstance(body["enabled"], bool):
                raise unprocessable(
                    OBJ_PRODUCT, "enabled", body["enabled"], "Debe ser verdadero o falso"
                )
            product["enabled"] = body["enabled"]
        if "unit" in body:
            unit = body["unit"]
            product["unit"] = {"code": unit, "description": unit} if isinstance(unit, str) else unit
        for field in ("barcode", "category", "details", "externalId"):
            if field in body:
                product[field] = body[field]
        if ("price" in body or "tax" in body or "taxOptional" in body) and "basePrice" not in body:
            rate = sum(t["amount"] for t in (product.get("tax"), product.get("taxOptional")) if t)
            product["basePrice"] = round(product["price"] / (1 + rate / 100.0), 2)

    def create_product(self, body: Any) -> dict:
        if not isinstance(body, dict):
            raise unprocessable(OBJ_PRODUCT, "body", body, "Se esperaba un objeto JSON")
        code = self._check_code(OBJ_PRODUCT, body.get("code"))
        if code in self.products:
            raise unprocessable(OBJ_PRODUCT, "code", code, "Ya existe un producto con ese código")
        if "description" not in body:
            raise unprocessable(
                OBJ_PRODUCT, "description", None, "La propiedad Descripción es obligatoria"
            )
        if "family" not in body:
            raise unprocessable(OBJ_PRODUCT, "family", None, "La propiedad Familia es obligatoria")
        now = self.now()
        product = {
            "id": self.next_id("product"),
            "code": code,
            "description": "",
            "family": None,
            "price": 0.0,
            "basePrice": 0.0,
            "tax": None,
            "taxOptional": None,
            "quantity": 0.0,
            "enabled": True,
            "barcode": None,
            "unit": {"code": "PZA", "description": "Pieza"},
            "category": None,
            "details": None,
            "externalId": None,
            "dateCreated": iso_z(now),
            "lastUpdated": iso_z(now),
        }
        self._apply_product_fields(
            product, {k: v for k, v in body.items() if k not in {"id", "code"}}
        )
        self.products[code] = product
        self.product_updated[code] = now
        self.touch()
        return product

    def update_product(self, code: str, body: Any) -> dict:
        product = self.products.get(code)
        if product is None:
            raise not_found(f"Producto {code}")
        if not isinstance(body, dict):
            raise unprocessable(OBJ_PRODUCT, "body", body, "Se esperaba un objeto JSON")
        candidate = copy.deepcopy(product)
        self._apply_product_fields(
            candidate, {k: v for k, v in body.items() if k not in {"id", "code"}}
        )
        now = self.now()
        candidate["lastUpdated"] = iso_z(now)
        product.clear()
        product.update(candidate)
        self.product_updated[code] = now
        self.touch()
        return product

    # ---- customers ------------------------------------------------------------------------
    CUSTOMER_TEXT_FIELDS = (
        "businessName",
        "address",
        "neighborhood",
        "city",
        "postalCode",
        "priceList",
        "comments",
        "email",
        "phoneNumber",
        "rfc",
        "externalId",
    )

    def _apply_customer_fields(self, customer: dict, body: dict) -> None:
        if "description" in body:
            if not isinstance(body["description"], str) or not body["description"].strip():
                raise unprocessable(
                    OBJ_CUSTOMER,
                    "description",
                    body["description"],
                    "La propiedad Descripción es obligatoria",
                )
            customer["description"] = body["description"]
        for field in self.CUSTOMER_TEXT_FIELDS:
            if field in body:
                customer[field] = body[field]
        if "zone" in body:
            customer["zone"] = self.resolve_zone(body["zone"])
        if "enabled" in body:
            if not isinstance(body["enabled"], bool):
                raise unprocessable(
                    OBJ_CUSTOMER, "enabled", body["enabled"], "Debe ser verdadero o falso"
                )
            customer["enabled"] = body["enabled"]
        for field in ("credit", "balance"):
            if field in body:
                if not _is_number(body[field]):
                    raise unprocessable(
                        OBJ_CUSTOMER, field, body[field], "Debe ser un número válido"
                    )
                customer[field] = float(body[field])
        if "sellers" in body:
            sellers = body["sellers"]
            if not isinstance(sellers, list):
                raise unprocessable(
                    OBJ_CUSTOMER, "sellers", sellers, "Debe ser una lista de usuarios"
                )
            ids = []
            for seller in sellers:
                seller_id = seller.get("id") if isinstance(seller, dict) else seller
                if seller_id not in self.users:
                    raise unprocessable(OBJ_CUSTOMER, "sellers", seller, "El usuario no existe")
                ids.append(seller_id)
            customer["sellers"] = ids

    def create_customer(self, body: Any) -> dict:
        if not isinstance(body, dict):
            raise unprocessable(OBJ_CUSTOMER, "body", body, "Se esperaba un objeto JSON")
        code = self._check_code(OBJ_CUSTOMER, body.get("code"))
        if code in self.customers:
            raise unprocessable(OBJ_CUSTOMER, "code", code, "Ya existe un cliente con ese código")
        if "description" not in body:
            raise unprocessable(
                OBJ_CUSTOMER, "description", None, "La propiedad Descripción es obligatoria"
            )
        now = self.now()
        customer = {
            "id": self.next_id("customer"),
            "code": code,
            "description": "",
            "businessName": None,
            "address": None,
            "neighborhood": None,
            "city": None,
            "postalCode": None,
            "zone": None,
            "priceList": None,
            "enabled": True,
            "credit": 0.0,
            "balance": 0.0,
            "comments": None,
            "email": None,
            "phoneNumber": None,
            "rfc": None,
            "sellers": [],
            "externalId": None,
            "dateCreated": iso_z(now),
            "lastUpdated": iso_z(now),
        }
        self._apply_customer_fields(
            customer, {k: v for k, v in body.items() if k not in {"id", "code"}}
        )
        self.customers[code] = customer
        self.customer_updated[code] = now
        self.touch()
        return customer

    def update_customer(self, code: str, body: Any) -> dict:
        customer = self.customers.get(code)
        if customer is None:
            raise not_found(f"Cliente {code}")
        if not isinstance(body, dict):
            raise unprocessable(OBJ_CUSTOMER, "body", body, "Se esperaba un objeto JSON")
        candidate = copy.deepcopy(customer)
        self._apply_customer_fields(
            candidate, {k: v for k, v in body.items() if k not in {"id", "code"}}
        )
        now = self.now()
        candidate["lastUpdated"] = iso_z(now)
        customer.clear()
        customer.update(candidate)
        self.customer_updated[code] = now
        self.touch()
        return customer

    # ---- users and routes -----------------------------------------------------------------
    def find_user(self, ref: Any) -> dict:
        if isinstance(ref, int) and ref in self.users:
            return self.users[ref]
        for user in self.users.values():
            if ref in (user["username"], user["email"], user["name"]):
                return user
        raise unprocessable(OBJ_ORDER, "createdBy", ref, "El usuario no existe")

    def sellers(self) -> list[dict]:
        return [
            u
            for u in self.users.values()
            if u["role"]["authority"] == "ROLE_SALES" and u["enabled"]
        ]

    def route_json(self, route_id: int, include_inventory: bool) -> dict:
        route = dict(self.routes[route_id])
        if include_inventory:
            route["inventory"] = [
                {"product": code, "quantity": qty}
                for code, qty in self.route_inventory.get(route_id, {}).items()
            ]
        return route

    # ---- orders ---------------------------------------------------------------------------
    def _order_line(self, spec: Any, index: int) -> dict:
        if not isinstance(spec, dict):
            raise unprocessable(OBJ_ORDER, f"items[{index}]", spec, "La partida debe ser un objeto")
        code = spec.get("product")
        if isinstance(code, dict):
            code = code.get("code")
        product = self.products.get(code) if isinstance(code, str) else None
        if product is None:
            raise unprocessable(OBJ_ORDER, f"items[{index}].product", code, "El producto no existe")
        quantity = spec.get("quantity", 1)
        if not _is_number(quantity) or quantity <= 0:
            raise unprocessable(
                OBJ_ORDER, f"items[{index}].quantity", quantity, "Cantidad inválida"
            )
        is_reward = bool(spec.get("isReward", False))
        original = spec.get("price", spec.get("originalPrice"))
        if original is None:
            original = 0.0 if is_reward else product["price"]
        if not _is_number(original) or original < 0:
            raise unprocessable(OBJ_ORDER, f"items[{index}].price", original, "Precio inválido")
        discount = spec.get("discountPercentage", spec.get("discount", 0.0)) or 0.0
        if not _is_number(discount) or not 0 <= discount <= 100:
            raise unprocessable(
                OBJ_ORDER, f"items[{index}].discountPercentage", discount, "Descuento inválido"
            )
        price = round(original * (1 - discount / 100.0), 2)
        tax = product.get("tax")
        line = {
            "id": self.next_id("item"),
            "product": copy.deepcopy(product),
            "quantity": float(quantity),
            "price": price,
            "originalPrice": float(original),
            "discountPercentage": float(discount),
            "total": round(price * quantity, 2),
            "tax": {"amount": float(tax["amount"]), "name": tax["name"]}
            if tax
            else {"amount": 0.0, "name": "IVA"},
            "isReturn": bool(spec.get("isReturn", False)),
            "isReward": is_reward,
            "priceType": "REWARD" if is_reward else "REGULAR",
            "comments": spec.get("comments"),
        }
        optional = product.get("taxOptional")
        if optional:
            line["taxOptional"] = {"amount": float(optional["amount"]), "name": optional["name"]}
        return line

    @staticmethod
    def order_totals(items: list[dict]) -> dict[str, float]:
        """totalSales = Σ total of sold lines (returns excluded); totalBeforeTax = Σ total/(1+tax%/100)."""
        sold = [i for i in items if not i["isReturn"]]
        total_sales = round(sum(i["total"] for i in sold), 2)
        before = 0.0
        for item in sold:
            rate = item["tax"]["amount"] + (item.get("taxOptional") or {}).get("amount", 0.0)
            before += item["total"] / (1 + rate / 100.0)
        before = round(before, 2)
        return {
            "totalSales": total_sales,
            "totalBeforeTax": before,
            "totalTax": round(total_sales - before, 2),
        }

    def _order_customer(self, value: Any) -> dict:
        if isinstance(value, str):
            customer = self.customers.get(value)
            if customer is None:
                raise unprocessable(OBJ_ORDER, "customer", value, "El cliente no existe")
            return customer
        if isinstance(value, dict):
            code = value.get("code")
            if code in self.customers and set(value) <= {"code", "id"}:
                return self.customers[code]
            if code in self.customers:
                raise unprocessable(
                    OBJ_ORDER, "customer.code", code, "Ya existe un cliente con ese código"
                )
            return self.create_customer(value)  # a customer created on the phone with the order
        raise unprocessable(OBJ_ORDER, "customer", value, "El cliente es obligatorio")

    def create_order(self, spec: Any, *, edited_from: dict | None = None) -> dict:
        """Create an order as a seller would from the phone (control surface and POST /salesOrder)."""
        if not isinstance(spec, dict):
            raise unprocessable(OBJ_ORDER, "body", spec, "Se esperaba un objeto JSON")
        sales_type = str(spec.get("salesType", "ROUTE"))
        sales_type = {
            "ROUTE": SALES_TYPE_ROUTE,
            "SALE": SALES_TYPE_ROUTE,
            "PRESALE": SALES_TYPE_PRESALE,
            SALES_TYPE_ROUTE.upper(): SALES_TYPE_ROUTE,
            SALES_TYPE_PRESALE.upper(): SALES_TYPE_PRESALE,
        }.get(sales_type.upper())
        if sales_type is None:
            raise unprocessable(
                OBJ_ORDER, "salesType", spec.get("salesType"), "Tipo de venta inválido"
            )
        seller_ref = spec.get("seller", spec.get("createdBy"))
        if isinstance(seller_ref, dict):
            seller_ref = seller_ref.get("id")
        if seller_ref is None:
            sellers = self.sellers()
            if not sellers:
                raise unprocessable(OBJ_ORDER, "createdBy", None, "No hay vendedores")
            seller = sellers[0]
        else:
            seller = self.find_user(seller_ref)
        items_spec = spec.get("items")
        if not isinstance(items_spec, list) or not items_spec:
            raise unprocessable(
                OBJ_ORDER, "items", items_spec, "El pedido debe tener al menos una partida"
            )
        offline = spec.get("offlineMinutes", 0) or 0
        if not _is_number(offline) or offline < 0:
            raise unprocessable(
                OBJ_ORDER, "offlineMinutes", offline, "Debe ser un número no negativo"
            )
        customer = self._order_customer(spec.get("customer"))
        items = [self._order_line(item, i) for i, item in enumerate(items_spec)]
        now = self.now()
        mobile = now - float(offline) * 60.0
        order = {
            "id": self.next_id("order"),
            "dateCreated": iso_z(now),
            "mobileDateCreated": iso_z(mobile),
            "customer": copy.deepcopy(customer),
            "createdBy": {
                "id": seller["id"],
                "name": seller["name"],
                "username": seller["username"],
            },
            "items": items,
            **self.order_totals(items),
            "salesType": sales_type,
            "type": {
                "id": 1,
                "description": "Pedido" if sales_type == SALES_TYPE_PRESALE else "Venta",
            },
            "sellerComment": spec.get("sellerComment"),
            "scheduledDateForDelivery": spec.get("scheduledDateForDelivery"),
            "billable": bool(spec.get("billable", True)),
            "billed": False,
            "deleted": False,
            "dateDeleted": None,
            "deletedBy": None,
            "isEdited": False,
            "editedFrom": edited_from,
            "externalId": None,
            "creationSource": spec.get("creationSource", "MOBILE"),
            "operativeStatus": "PENDING",
            "lastUpdated": iso_z(now),
        }
        self.orders[order["id"]] = order
        self.order_times[order["id"]] = {
            "dateCreated": now,
            "mobileDateCreated": mobile,
            "dateDeleted": None,
            "lastUpdated": now,
        }
        self.touch()
        return order

    def get_order(self, order_id: int) -> dict:
        order = self.orders.get(order_id)
        if order is None:
            raise not_found(f"Pedido {order_id}")
        return order

    def delete_order(self, order_id: int, *, by: dict | None = None, edited: bool = False) -> dict:
        order = self.get_order(order_id)
        if order["deleted"]:
            raise HandyError(409, {"message": f"El pedido {order_id} ya fue eliminado"})
        now = self.now()
        order["deleted"] = True
        order["dateDeleted"] = iso_z(now)
        order["deletedBy"] = by or order["createdBy"]
        order["isEdited"] = edited
        order["lastUpdated"] = iso_z(now)
        self.order_times[order_id]["dateDeleted"] = now
        self.order_times[order_id]["lastUpdated"] = now
        self.touch()
        return order

    def edit_order(self, order_id: int, changes: Any) -> dict:
        """Editing = a new order with a new id; the old one deleted with isEdited (spec, Edits)."""
        old = self.get_order(order_id)
        if old["deleted"]:
            raise HandyError(
                409, {"message": f"El pedido {order_id} está eliminado; no se puede editar"}
            )
        changes = changes if isinstance(changes, dict) else {}
        spec = {
            "salesType": "PRESALE" if old["salesType"] == SALES_TYPE_PRESALE else "ROUTE",
            "seller": old["createdBy"]["id"],
            "customer": old["customer"]["code"],
            "items": [
                {
                    "product": i["product"]["code"],
                    "quantity": i["quantity"],
                    "price": i["originalPrice"],
                    "discountPercentage": i["discountPercentage"],
                    "isReturn": i["isReturn"],
                    "isReward": i["isReward"],
                    "comments": i["comments"],
                }
                for i in old["items"]
            ],
            "sellerComment": old["sellerComment"],
            "scheduledDateForDelivery": old["scheduledDateForDelivery"],
            "billable": old["billable"],
            "creationSource": old["creationSource"],
        }
        spec.update(changes)
        previous = copy.deepcopy(old)
        new = self.create_order(
            spec, edited_from=previous
        )  # validates before the old one is touched
        self.delete_order(order_id, by=new["createdBy"], edited=True)
        return new

    def set_external_id(self, order_id: int, body: Any) -> dict:
        order = self.get_order(order_id)
        if not isinstance(body, dict) or "externalId" not in body:
            raise unprocessable(
                OBJ_ORDER, "externalId", None, "La propiedad externalId es obligatoria"
            )
        value = body["externalId"]
        if value is not None and (isinstance(value, bool) or not isinstance(value, (str, int))):
            raise unprocessable(OBJ_ORDER, "externalId", value, "Debe ser texto")
        now = self.now()
        order["externalId"] = None if value is None else str(value)
        order["lastUpdated"] = iso_z(now)
        self.order_times[order_id]["lastUpdated"] = now
        self.touch()
        return order

    def create_random_orders(self, count: int) -> list[dict]:
        """Demo orders from whatever products/customers Handy has (nothing when it has no products)."""
        codes = [c for c, p in self.products.items() if p["enabled"]]
        if not codes:
            return []
        customers = [c for c, v in self.customers.items() if v["enabled"]]
        return [
            self.create_order(self._random_order_spec(n, codes, customers)) for n in range(count)
        ]

    def _random_order_spec(self, n: int, codes: list[str], customers: list[str]) -> dict:
        rng = self.order_rng
        lines = [
            {"product": rng.choice(codes), "quantity": rng.choice([1, 2, 3, 5, 6, 12, 24])}
            for _ in range(rng.randint(1, 6))
        ]
        if rng.random() < 0.15:
            lines[0]["discountPercentage"] = rng.choice([5.0, 10.0])
        customer: Any
        if customers and rng.random() < 0.9:
            customer = rng.choice(customers)
        else:
            customer = {
                "code": f"H-NEW-{self._ids['order'] + 1}",
                "description": rng.choice(
                    ["Tiendita Don Beto", "Miscelánea La Güera", "Abarrotes San Judas"]
                )
                + f" {n}",
                "address": "Calle Hidalgo 12",
                "city": "Monterrey",
            }
        return {
            "salesType": rng.choice(["ROUTE", "PRESALE"]),
            "seller": rng.choice(self.sellers())["id"],
            "customer": customer,
            "items": lines,
            "offlineMinutes": rng.choice([0, 0, 0, 0, 3, 45, 180]),
        }

    def mutate_while_paging(self, kind: str, listing: list[dict], field: str, page: int) -> None:
        """Before page `page` (>= 2) of a live-orders listing is computed: "delete" soft-deletes the
        oldest order of the listing (a seller deleting it), "insert" adds an order stamped with the
        oldest order's times (one that becomes visible late, on an already-read page). Either way
        the later pages shift by one. Recorded in `paging_mutations`."""
        oldest = min(listing, key=lambda o: (self.order_times[o["id"]][field] or 0.0, o["id"]))
        if kind == "delete":
            order = self.delete_order(oldest["id"])
        else:
            order = self._insert_late_order(like=oldest)
            if order is None:
                return
        self.paging_mutations.append({"kind": kind, "order_id": order["id"], "page": page})

    def _insert_late_order(self, like: dict) -> dict | None:
        """A random order of `like`'s sales type whose dateCreated/mobileDateCreated/lastUpdated
        are `like`'s, so it sorts right after it in any live listing that holds `like`."""
        codes = [c for c, p in self.products.items() if p["enabled"]]
        if not codes:
            return None
        customers = [c for c, v in self.customers.items() if v["enabled"]]
        spec = self._random_order_spec(0, codes, customers)
        spec["salesType"] = "PRESALE" if like["salesType"] == SALES_TYPE_PRESALE else "ROUTE"
        order = self.create_order(spec)
        times = self.order_times[order["id"]]
        for name in ("dateCreated", "mobileDateCreated", "lastUpdated"):
            times[name] = self.order_times[like["id"]][name]
            order[name] = iso_z(times[name])
        self.touch()
        return order

    def materialise_pending_orders(self) -> None:
        if self.pending_random_orders and self.products:
            count, self.pending_random_orders = self.pending_random_orders, 0
            self.create_random_orders(count)

    def dump(self, only: set[str] | None = None) -> dict:
        collections = {
            "products": lambda: list(self.products.values()),
            "productFamilies": lambda: list(self.families.values()),
            "customers": lambda: list(self.customers.values()),
            "zones": lambda: list(self.zones.values()),
            "users": lambda: list(self.users.values()),
            "routes": lambda: [self.route_json(r, True) for r in self.routes],
            "salesOrders": lambda: list(self.orders.values()),
            "taxes": lambda: list(self.taxes.values()),
            "pagingMutations": lambda: list(self.paging_mutations),
        }
        return {name: build() for name, build in collections.items() if not only or name in only}


# ---- HTTP layer ---------------------------------------------------------------------------
def _int_param(request: Request, name: str, default: int, low: int, high: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise unprocessable(
            OBJ_PARAMS, name, raw, f"El parámetro {name} debe ser un número entero"
        ) from None
    if value < low or (high is not None and value > high):
        limit = f"entre {low} y {high}" if high is not None else f"mayor o igual a {low}"
        raise unprocessable(OBJ_PARAMS, name, raw, f"El parámetro {name} debe estar {limit}")
    return value


def _bool_param(request: Request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    lowered = raw.lower()
    if lowered not in {"true", "false"}:
        raise unprocessable(OBJ_PARAMS, name, raw, f"El parámetro {name} debe ser true o false")
    return lowered == "true"


def _window(state: HandyState, request: Request) -> tuple[float | None, float | None]:
    start_raw = request.query_params.get("start")
    end_raw = request.query_params.get("end")
    start = state.parse_query_date("start", start_raw) if start_raw else None
    end = state.parse_query_date("end", end_raw) if end_raw else None
    return start, end


def _in_window(ts: float | None, start: float | None, end: float | None) -> bool:
    if start is None and end is None:
        return True
    if ts is None:
        return False
    return (start is None or ts >= start) and (end is None or ts <= end)


def page_params(request: Request, knobs: HandyKnobs) -> tuple[int, int]:
    """(page, records per page): `max` as asked, lowered to `page_size_cap` when that knob is set."""
    page = _int_param(request, "page", 1, 1)
    size = _int_param(request, "max", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    if knobs.page_size_cap:
        size = min(size, knobs.page_size_cap)
    return page, size


def paginated(
    request: Request,
    knobs: HandyKnobs,
    resource: str,
    key: str,
    items: list,
    *,
    may_repeat: bool = False,
) -> Response:
    """Handy's envelope: absolute page links that keep only page and max (spec [A]).
    Knobs: no envelope at all (`paging_envelope`), a capped page size (`page_size_cap`) and, for
    lists that `may_repeat`, pages that each start with the previous page's last record."""
    page, size = page_params(request, knobs)
    if may_repeat and knobs.repeat_across_pages:
        start = (page - 1) * (size - 1)  # page N>=2 starts one record early, still `size` long
        rows = items[start : start + size]
    else:
        rows = page_slice(items, page, size)
    if not knobs.paging_envelope:
        return json_response({key: rows})
    total = len(items)
    pages = math.ceil(total / size)
    # root_path: the tenant's prefix when mounted in a fleet (sandbox/fleet.py)
    base = f"{str(request.base_url).rstrip('/')}{request.scope.get('root_path', '')}{API_PREFIX}/{resource}"

    def link(n: int | None) -> str | None:
        return None if n is None else f"{base}?page={n}&max={size}"

    return json_response(
        {
            "pagination": {
                "totalCount": total,
                "totalPages": pages,
                "currentPage": link(page),
                "nextPage": link(page + 1 if page < pages else None),
                "prevPage": link(page - 1 if page > 1 else None),
                "firstPage": link(1),
                "lastPage": link(max(pages, 1)),
            },
            key: rows,
        }
    )


async def _json_body(request: Request, obj: str) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise unprocessable(
            obj, "body", None, "El cuerpo de la solicitud no es JSON válido"
        ) from None


def _order_id(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise not_found(f"Pedido {raw}") from None


def create_app(state: HandyState | None = None) -> FastAPI:
    state = state or HandyState()
    app = FastAPI(
        title="Handy API v2 (sandbox)",
        docs_url="/_sandbox/docs",
        redoc_url=None,
        openapi_url="/_sandbox/openapi.json",
    )
    app.state.sandbox = state

    @app.exception_handler(HandyError)
    async def _handy_error(_request: Request, exc: HandyError) -> Response:
        return json_response(exc.body, exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> Response:
        return json_response({"message": str(exc.detail)}, exc.status_code)

    async def authenticate(request: Request) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or token.strip() != state.token:
            raise HandyError(401, {"message": "No autorizado"})

    api = APIRouter(prefix=API_PREFIX, dependencies=[Depends(authenticate)])

    # products
    @api.get("/product")
    async def list_products(request: Request) -> Response:
        enabled = _bool_param(request, "enabled")
        enabled = True if enabled is None else enabled  # [A] without `enabled`, only enabled ones
        start, end = _window(state, request)
        if start is None and end is None:
            items = state.cached(
                ("products", enabled),
                lambda: [p for p in state.products.values() if p["enabled"] == enabled],
            )
        else:
            items = [
                p
                for c, p in state.products.items()
                if p["enabled"] == enabled and _in_window(state.product_updated[c], start, end)
            ]
        return paginated(request, state.knobs, "product", "products", items)

    @api.get("/product/{code}")
    async def get_product(code: str) -> Response:
        product = state.products.get(code)
        if product is None:
            raise not_found(f"Producto {code}")
        return json_response(product)

    @api.post("/product")
    async def post_product(request: Request) -> Response:
        return json_response(state.create_product(await _json_body(request, OBJ_PRODUCT)), 201)

    @api.put("/product/{code}")
    async def put_product(code: str, request: Request) -> Response:
        return json_response(state.update_product(code, await _json_body(request, OBJ_PRODUCT)))

    # families
    @api.get("/productFamily")
    async def list_families(request: Request) -> Response:
        return paginated(
            request, state.knobs, "productFamily", "productFamilies", list(state.families.values())
        )

    @api.post("/productFamily")
    async def post_family(request: Request) -> Response:
        body = await _json_body(request, OBJ_FAMILY)
        description = body.get("description") if isinstance(body, dict) else None
        return json_response(state.create_family(description), 201)

    # customers
    @api.get("/customer")
    async def list_customers(request: Request) -> Response:
        enabled = _bool_param(request, "enabled")
        start, end = _window(state, request)
        if start is None and end is None:
            items = state.cached(
                ("customers", enabled),
                lambda: [
                    c
                    for c in state.customers.values()
                    if enabled is None or c["enabled"] == enabled
                ],
            )
        else:
            items = [
                c
                for k, c in state.customers.items()
                if (enabled is None or c["enabled"] == enabled)
                and _in_window(state.customer_updated[k], start, end)
            ]
        return paginated(request, state.knobs, "customer", "customers", items)

    @api.get("/customer/{code}")
    async def get_customer(code: str) -> Response:
        customer = state.customers.get(code)
        if customer is None:
            raise not_found(f"Cliente {code}")
        return json_response(customer)

    @api.post("/customer")
    async def post_customer(request: Request) -> Response:
        return json_response(state.create_customer(await _json_body(request, OBJ_CUSTOMER)), 201)

    @api.put("/customer/{code}")
    async def put_customer(code: str, request: Request) -> Response:
        return json_response(state.update_customer(code, await _json_body(request, OBJ_CUSTOMER)))

    # zones, users, routes
    @api.get("/zone")
    async def list_zones(request: Request) -> Response:
        return paginated(request, state.knobs, "zone", "zones", list(state.zones.values()))

    @api.post("/zone")
    async def post_zone(request: Request) -> Response:
        body = await _json_body(request, OBJ_ZONE)
        return json_response(state.create_zone(body if isinstance(body, dict) else {}), 201)

    @api.get("/user")
    async def list_users(request: Request) -> Response:
        return paginated(request, state.knobs, "user", "users", list(state.users.values()))

    @api.get("/route")
    async def list_routes(request: Request) -> Response:
        closed = _bool_param(request, "closed")
        include = bool(_bool_param(request, "includeInventory"))
        routes = [
            state.route_json(rid, include)
            for rid, r in state.routes.items()
            if closed is None or r["closed"] == closed
        ]
        return paginated(request, state.knobs, "route", "routes", routes)

    # sales orders
    @api.get("/salesOrder")
    async def list_orders(request: Request) -> Response:
        state.materialise_pending_orders()
        field = request.query_params.get("filterWithDate") or "dateCreated"
        if field not in ORDER_DATE_FIELDS:
            raise unprocessable(
                OBJ_PARAMS,
                "filterWithDate",
                field,
                "filterWithDate debe ser " + ", ".join(ORDER_DATE_FIELDS),
            )
        deleted = bool(_bool_param(request, "deleted"))
        sales_type_raw = request.query_params.get("salesType")
        sales_type = None
        if sales_type_raw:
            sales_type = SALES_TYPE_FILTERS.get(sales_type_raw.upper())
            if sales_type is None:
                raise unprocessable(
                    OBJ_PARAMS, "salesType", sales_type_raw, "salesType debe ser PRESALE o ROUTE"
                )
        direction = (
            request.query_params.get("order") or "desc"
        ).lower()  # [A] default newest first
        if direction not in {"asc", "desc"}:
            raise unprocessable(OBJ_PARAMS, "order", direction, "order debe ser asc o desc")
        start, end = _window(state, request)
        page, _size = page_params(
            request, state.knobs
        )  # a refused request must not mutate anything

        def build() -> list:
            rows = []
            for oid, order in state.orders.items():
                ts = state.order_times[oid][field]
                if order["deleted"] != deleted or (sales_type and order["salesType"] != sales_type):
                    continue
                if _in_window(ts, start, end):
                    rows.append((ts or 0.0, oid, order))
            rows.sort(key=lambda r: (r[0], r[1]), reverse=direction == "desc")
            return [r[2] for r in rows]

        listing = ("orders", field, deleted, sales_type, direction, start, end)
        items = state.cached(listing, build)
        if page >= 2 and not deleted and state.knobs.mutate_while_paging != "none" and items:
            state.mutate_while_paging(state.knobs.mutate_while_paging, items, field, page)
            items = state.cached(listing, build)  # the mutation touched the store: rebuilt
        return paginated(request, state.knobs, "salesOrder", "salesOrders", items, may_repeat=True)

    @api.get("/salesOrder/external/{external_id}")
    async def get_order_by_external(external_id: str) -> Response:
        for order in state.orders.values():
            if order["externalId"] == external_id:
                return json_response(order)
        raise not_found(f"Pedido con externalId {external_id}")

    @api.get("/salesOrder/{order_id}")
    async def get_order(order_id: str) -> Response:
        return json_response(state.get_order(_order_id(order_id)))

    @api.put("/salesOrder/{order_id}")
    async def put_order(order_id: str, request: Request) -> Response:
        return json_response(
            state.set_external_id(_order_id(order_id), await _json_body(request, OBJ_ORDER))
        )

    @api.post("/salesOrder")  # [A] sandbox-only: the integration never calls it
    async def post_order(request: Request) -> Response:
        body = await _json_body(request, OBJ_ORDER)
        if isinstance(body, dict):
            body.setdefault("creationSource", "API")
        return json_response(state.create_order(body), 201)

    @api.delete("/salesOrder/{order_id}")  # [A] sandbox-only
    async def delete_order(order_id: str) -> Response:
        state.delete_order(_order_id(order_id))
        return Response(status_code=204)

    app.include_router(api)
    _add_control_surface(app, state)
    app.add_middleware(
        SandboxMiddleware,
        knobs=state.knobs,
        stats=state.stats,
        clock=state.clock,
        rng=state.fault_rng,
        api_prefix=API_PREFIX,
        rate_limit_style="handy",
        routes_provider=lambda: api.routes,
        limiter=state.limiter,
        server_time=state.now,
    )
    return app


def _add_control_surface(app: FastAPI, state: HandyState) -> None:
    from sandbox.control import add_common_controls

    ctl = add_common_controls(app, state)

    @ctl.post("/orders")
    async def ctl_create_order(request: Request) -> Response:
        """Body: {"salesType": "ROUTE"|"PRESALE", "seller": id|username, "customer": code|{new customer},
        "items": [{"product": code, "quantity": n, "price"?: p, "discountPercentage"?: d,
        "isReturn"?: b, "isReward"?: b}], "offlineMinutes"?: n, "sellerComment"?: s}"""
        return json_response(state.create_order(await _json_body(request, OBJ_ORDER)), 201)

    @ctl.post("/orders/random")
    async def ctl_random_orders(request: Request) -> Response:
        body = await _json_body(request, OBJ_ORDER)
        count = int(body.get("count", 10)) if isinstance(body, dict) else 10
        return json_response([o["id"] for o in state.create_random_orders(count)], 201)

    @ctl.post("/orders/{order_id}/edit")
    async def ctl_edit_order(order_id: int, request: Request) -> Response:
        """Body: any fields of the create body to change; the rest is copied from the old order."""
        changes = await _json_body(request, OBJ_ORDER) if await request.body() else {}
        return json_response(state.edit_order(order_id, changes), 201)

    @ctl.delete("/orders/{order_id}")
    async def ctl_delete_order(order_id: int) -> Response:
        return json_response(state.delete_order(order_id))

    @ctl.put("/routes/{route_id}/inventory")
    async def ctl_route_inventory(route_id: int, request: Request) -> Response:
        """Body: {"inventory": [{"product": code, "quantity": q}], "closed"?: bool}"""
        if route_id not in state.routes:
            raise not_found(f"Ruta {route_id}")
        body = await _json_body(request, "route")
        if "inventory" in body:
            state.route_inventory[route_id] = {
                i["product"]: float(i["quantity"]) for i in body["inventory"]
            }
        if "closed" in body:
            state.routes[route_id]["closed"] = bool(body["closed"])
            state.routes[route_id]["dateClosed"] = state.now_iso() if body["closed"] else None
        state.touch()
        return json_response(state.route_json(route_id, True))

    app.include_router(ctl)
