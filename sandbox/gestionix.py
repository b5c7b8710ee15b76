"""In-memory stand-in for Konfío Gestionix REST API v3 (see shared/spec/gestionix-api-v3.md).

API under /api/v3 (login, Bearer token, `Company` header), control surface under /_sandbox/.
Decision: a missing `Company` header answers 400 {"message": ...}; a company the user
cannot access (or a non-numeric header) answers 403 {"message": ...}.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import math
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, FastAPI, Request
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

API_PREFIX = "/api/v3"
DEMO_USER = "demo@example.mx"
DEMO_PASSWORD = "demo-password"
DEMO_COMPANY_ID = 92
MAX_PAGE_SIZE = 500
DOC_KINDS = {"sales_orders": "sales_order", "sales": "sale"}  # URL segment -> document type
DOC_ID_FIELD = {"sales_order": "sales_order_id", "sale": "sale_id"}
DOC_SERIE = {"sales_order": "P", "sale": "V"}
HOLD_POLL_SECONDS = 0.005


@dataclass
class GestionixKnobs(Knobs):
    token_lifetime_seconds: float = 40000.0
    reject_duplicate_reference: bool = True
    page_size_cap: int = 0  # >0: at most this many records per page, whatever `page_size` asks
    # >0: the answer to the N-th document the API creates, and to every later one, waits until
    # the knob goes back to 0; the documents exist, their client does not know it yet.
    hold_answers_from_document: int = 0

    NON_NEGATIVE = frozenset({"page_size_cap", "hold_answers_from_document"})


class GestionixError(Exception):
    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(status)
        self.status = status
        self.body = {"message": message, **extra}


def invalid(message: str, errors: list[tuple[str, str]]) -> GestionixError:
    return GestionixError(422, message, errors=[{"field": f, "message": m} for f, m in errors])


def _tax_kind(tax: dict) -> str:
    """IVA or IEPS by SAT code (002/003) when the tax has one, else by name; anything else "other"."""
    code = str(tax.get("sat_code") or "").lstrip("0")
    if code in ("2", "3"):
        return "IVA" if code == "2" else "IEPS"
    name = str(tax.get("name") or "").upper()
    return "IEPS" if "IEPS" in name else "IVA" if "IVA" in name else "other"


def line_amount_with_taxes(amount: float, taxes: list[dict]) -> float:
    """The spec's line maths, written here from the spec page (not shared with the integration):
    IEPS first on the amount, IVA on the amount plus IEPS, other transferred rate taxes on the
    amount, withheld rate taxes subtracted from the amount; fixed-amount taxes are not modelled."""
    rate_taxes = [t for t in taxes if t.get("factor") == "rate"]
    ieps = sum(
        t["rate"] for t in rate_taxes if t["type"] == "transferred" and _tax_kind(t) == "IEPS"
    )
    iva = sum(t["rate"] for t in rate_taxes if t["type"] == "transferred" and _tax_kind(t) == "IVA")
    other = sum(
        t["rate"] for t in rate_taxes if t["type"] == "transferred" and _tax_kind(t) == "other"
    )
    withheld = sum(t["rate"] for t in rate_taxes if t["type"] == "withheld")
    ieps_amount = amount * ieps
    iva_amount = (amount + ieps_amount) * iva
    return amount + ieps_amount + iva_amount + amount * other - amount * withheld


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass
class Company:
    company_id: int
    emitter: dict
    branches: dict[int, dict] = field(default_factory=dict)
    taxes: dict[int, dict] = field(default_factory=dict)
    categories: dict[int, dict] = field(default_factory=dict)
    products: dict[int, dict] = field(default_factory=dict)
    product_branches: dict[int, set[int]] = field(default_factory=dict)  # visibility per sucursal
    clients: dict[int, dict] = field(default_factory=dict)
    sellers: dict[int, dict] = field(default_factory=dict)
    documents: dict[str, dict[int, dict]] = field(
        default_factory=lambda: {"sales_order": {}, "sale": {}}
    )
    folios: dict[str, int] = field(default_factory=lambda: {"sales_order": 1000, "sale": 5000})

    def branch_by_name(self, name: str) -> dict | None:
        for branch in self.branches.values():
            if branch["name"] == name:
                return branch
        return None


class GestionixState(VersionedStore):
    def __init__(self, *, clock: Clock | None = None, seed: int = 7, **knobs: Any) -> None:
        self.clock = clock or Clock()
        self.knobs = GestionixKnobs()
        self.knobs.update(knobs)
        self.initial_knobs = self.knobs.as_dict()
        self.stats = CallStats(not_counted_as_write={"POST /users/authentication"})
        self.limiter = FixedWindowLimiter(self.clock)
        self.fault_rng = random.Random(seed)
        # Set by sandbox.data.generate_world: the same world generated again (reset() goes back
        # to it). Injected, so this module does not import the generator that imports it.
        self.regenerate: Callable[[], Any] | None = None
        self._clear()

    def _clear(self) -> None:
        self.documents_created = 0  # through the API (POST /sales_orders, /sales), since reset
        self.users: dict[str, dict] = {}
        self.tokens: dict[str, dict] = {}
        self.companies: dict[int, Company] = {}
        self._reset_versioning(
            {
                "product": 5000,
                "client": 1200,
                "document": 8800,
                "seller": 10,
                "branch": 309,
                "category": 0,
                "tax": 0,
                "user": 92,
                "line": 0,
            }
        )

    def reset(self) -> None:
        """Back to the generated world (same seed and sizes); tokens dropped, knobs kept."""
        world = self.regenerate() if self.regenerate is not None else None
        self._clear()
        if world is not None:
            fresh = world.gestionix
            self.users, self.companies, self._ids = fresh.users, fresh.companies, fresh._ids
        self.stats.reset()
        self.limiter.reset()
        self.touch()

    # ---- auth ------------------------------------------------------------------------------
    def login(self, body: Any) -> dict:
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("user"), str)
            or not isinstance(body.get("password"), str)
        ):
            raise invalid("Datos incompletos", [("user", "Requerido"), ("password", "Requerido")])
        user = self.users.get(body["user"].strip().lower())
        if user is None or user["password"] != body["password"]:
            raise GestionixError(401, "Usuario o contraseña incorrectos")
        lifetime = int(self.knobs.token_lifetime_seconds)
        now = self.clock.now()
        payload = {
            "sub": user["user_id"],
            "iat": int(now),
            "exp": int(now + lifetime),
            "jti": uuid.uuid4().hex,
        }
        token = (
            ".".join(
                base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")
                for part in ({"alg": "HS256", "typ": "JWT"}, payload)
            )
            + "."
            + uuid.uuid4().hex
        )
        self.tokens[token] = {
            "user_id": user["user_id"],
            "email": user["email"],
            "expires_at": now + lifetime,
        }
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": lifetime,
            "user_id": user["user_id"],
            "name": user["name"],
            "email": user["email"],
        }

    def expire_tokens(self) -> int:
        count = len(self.tokens)
        for info in self.tokens.values():
            info["expires_at"] = self.clock.now() - 1
        return count

    def user_for(self, request: Request) -> dict:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        info = self.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if info is None:
            raise GestionixError(401, "Token inválido")
        if self.clock.now() >= info["expires_at"]:
            raise GestionixError(401, "Token expirado")
        return self.users[info["email"]]

    def company_for(self, request: Request) -> Company:
        user = self.user_for(request)
        raw = request.headers.get("company")
        if raw is None or not raw.strip():
            raise GestionixError(400, "Falta el encabezado Company con el id de la empresa")
        try:
            company_id = int(raw)
        except ValueError:
            raise GestionixError(403, f"Empresa '{raw}' inválida") from None
        if company_id not in user["companies"] or company_id not in self.companies:
            raise GestionixError(403, f"El usuario no tiene acceso a la empresa {company_id}")
        return self.companies[company_id]

    # ---- catalog -------------------------------------------------------------------------
    def branch(self, company: Company, branch_id: Any, field_name: str = "branch_id") -> dict:
        try:
            bid = int(branch_id)
        except (TypeError, ValueError):
            raise invalid("Sucursal inválida", [(field_name, "Debe ser un número")]) from None
        branch = company.branches.get(bid)
        if branch is None:
            raise GestionixError(404, f"Sucursal {bid} no encontrada")
        return branch

    def products_of(self, company: Company, branch_id: int | None) -> list[dict]:
        def build() -> list[dict]:
            if branch_id is None:
                return list(company.products.values())
            return [
                p
                for pid, p in company.products.items()
                if branch_id in company.product_branches[pid]
            ]

        return self.cached(("products", company.company_id, branch_id), build)

    def resolve_taxes(self, company: Company, value: Any) -> list[dict]:
        if not isinstance(value, list):
            raise invalid("Impuestos inválidos", [("taxes", "Debe ser una lista")])
        taxes = []
        for item in value:
            ref = item.get("tax_id") if isinstance(item, dict) else item
            tax = company.taxes.get(ref) if isinstance(ref, int) else None
            if tax is None and isinstance(ref, str):
                tax = next((t for t in company.taxes.values() if t["name"] == ref), None)
            if tax is None:
                raise invalid("Impuesto inexistente", [("taxes", f"El impuesto {ref!r} no existe")])
            taxes.append(dict(tax))
        return taxes

    def resolve_category(self, company: Company, value: Any) -> dict | None:
        if value is None:
            return None
        if isinstance(value, dict):
            if value.get("category_id") in company.categories:
                return dict(company.categories[value["category_id"]])
            value = value.get("name")
        for category in company.categories.values():
            if category["name"] == value:
                return dict(category)
        category = {"category_id": self.next_id("category"), "name": str(value)}
        company.categories[category["category_id"]] = category
        return dict(category)

    def _stock(self, company: Company, value: Any) -> list[dict]:
        if isinstance(value, dict):
            value = [{"branch_id": k, "quantity": q} for k, q in value.items()]
        stock = []
        for entry in value or []:
            ref = entry["branch_id"]
            branch = (
                company.branch_by_name(ref) if isinstance(ref, str) and not ref.isdigit() else None
            )
            bid = branch["branch_id"] if branch else int(ref)
            if bid not in company.branches:
                raise invalid("Sucursal inexistente", [("stock", f"Sucursal {ref} no existe")])
            stock.append({"branch_id": bid, "quantity": float(entry["quantity"])})
        return stock

    def upsert_product(self, company: Company, body: dict, product_id: int | None = None) -> dict:
        """Control surface: create or change a product. Accepts category by name, taxes by id or
        name, stock as {"Matriz": 10} or [{"branch_id", "quantity"}], branches by name or id."""
        if product_id is None and body.get("product_id") is not None:
            product_id = int(body["product_id"])
        if product_id is None and "key" in body:
            product_id = next(
                (pid for pid, p in company.products.items() if p["key"] == body["key"]), None
            )
        product = company.products.get(product_id) if product_id is not None else None
        if product is None:
            if product_id is not None and "key" not in body:
                raise GestionixError(404, f"Producto {product_id} no encontrado")
            product = {
                "product_id": product_id or self.next_id("product"),
                "key": "",
                "name": "",
                "category": None,
                "for_sale": True,
                "active": True,
                "unit": "PZA",
                "price": 0.0,
                "taxes": [],
                "stock": [],
            }
            company.product_branches[product["product_id"]] = set(company.branches)
        product = copy.deepcopy(product)
        for name in ("key", "name", "for_sale", "active", "unit"):
            if name in body:
                product[name] = body[name]
        if "price" in body:
            if not _is_number(body["price"]):
                raise invalid("Precio inválido", [("price", "Debe ser un número")])
            product["price"] = float(body["price"])
        if "category" in body:
            product["category"] = self.resolve_category(company, body["category"])
        if "taxes" in body:
            product["taxes"] = self.resolve_taxes(company, body["taxes"])
        if "stock" in body:
            product["stock"] = self._stock(company, body["stock"])
        if "branches" in body:
            ids = set()
            for ref in body["branches"]:
                branch = (
                    company.branch_by_name(ref)
                    if isinstance(ref, str)
                    else company.branches.get(ref)
                )
                if branch is None:
                    raise invalid(
                        "Sucursal inexistente", [("branches", f"Sucursal {ref} no existe")]
                    )
                ids.add(branch["branch_id"])
            company.product_branches[product["product_id"]] = ids
        company.products[product["product_id"]] = product
        self.touch()
        return product

    # ---- clients -------------------------------------------------------------------------
    CLIENT_FIELDS = (
        "commercial_name",
        "business_name",
        "tax_id",
        "active",
        "email",
        "phone",
        "address",
    )

    def _seller(self, company: Company, body: dict) -> dict | None:
        ref = body.get("seller_id")
        if ref is None and isinstance(body.get("seller"), dict):
            ref = body["seller"].get("seller_id")
        if ref is None:
            return None
        seller = company.sellers.get(ref) if isinstance(ref, int) else None
        if seller is None:
            raise invalid("Vendedor inexistente", [("seller_id", f"El vendedor {ref} no existe")])
        return {"seller_id": seller["seller_id"], "name": seller["name"], "email": seller["email"]}

    def create_client(self, company: Company, body: Any) -> dict:
        if not isinstance(body, dict):
            raise invalid("Cuerpo inválido", [("body", "Se esperaba un objeto JSON")])
        errors = []
        if not isinstance(body.get("tax_id"), str) or not body["tax_id"].strip():
            errors.append(("tax_id", "El RFC es obligatorio"))
        names = [body.get("commercial_name"), body.get("business_name")]
        if not any(isinstance(n, str) and n.strip() for n in names):
            errors.append(("business_name", "Se requiere razón social o nombre comercial"))
        if body.get("branch_id") is None:
            errors.append(("branch_id", "La sucursal es obligatoria"))
        if errors:
            raise invalid("Datos inválidos del cliente", errors)
        branch = self.branch(company, body["branch_id"])
        client = {
            "client_id": self.next_id("client"),
            "commercial_name": "",
            "business_name": "",
            "tax_id": None,
            "active": True,
            "branch_id": branch["branch_id"],
            "email": None,
            "phone": None,
            "seller": self._seller(company, body),
            "address": None,
            "register_date": iso_z(self.clock.now()),
        }
        for name in self.CLIENT_FIELDS:
            if name in body:
                client[name] = body[name]
        company.clients[client["client_id"]] = client
        self.touch()
        return client

    def patch_client(self, company: Company, client_id: int, body: dict) -> dict:
        client = company.clients.get(client_id)
        if client is None:
            raise GestionixError(404, f"Cliente {client_id} no encontrado")
        for name in self.CLIENT_FIELDS:
            if name in body:
                client[name] = body[name]
        if "branch_id" in body:
            client["branch_id"] = self.branch(company, body["branch_id"])["branch_id"]
        if "seller_id" in body or "seller" in body:
            client["seller"] = self._seller(company, body)
        self.touch()
        return client

    # ---- documents -----------------------------------------------------------------------
    def find_by_reference(self, company: Company, doc_type: str, reference: str) -> dict | None:
        for doc in company.documents[doc_type].values():
            if doc["reference"] == reference:
                return doc
        return None

    def create_document(
        self, company: Company, doc_type: str, body: Any, *, check_duplicate: bool = True
    ) -> dict:
        if not isinstance(body, dict):
            raise invalid("Cuerpo inválido", [("body", "Se esperaba un objeto JSON")])
        errors: list[tuple[str, str]] = []
        for name in ("branch_id", "client_id", "date", "items"):
            if body.get(name) in (None, "", []):
                errors.append((name, "Requerido"))
        if errors:
            raise invalid("Documento inválido", errors)
        branch = self.branch(company, body["branch_id"])
        client = (
            company.clients.get(body["client_id"]) if isinstance(body["client_id"], int) else None
        )
        if client is None:
            raise invalid(
                "Cliente inexistente", [("client_id", f"El cliente {body['client_id']} no existe")]
            )
        try:
            date = datetime.fromisoformat(str(body["date"]))
            if date.tzinfo is None:
                date = date.replace(tzinfo=UTC)  # a date without offset is read as UTC
        except ValueError:
            raise invalid("Fecha inválida", [("date", "Formato ISO-8601 esperado")]) from None
        seller_id = body.get("seller_id")
        if seller_id is not None and seller_id not in company.sellers:
            raise invalid(
                "Vendedor inexistente", [("seller_id", f"El vendedor {seller_id} no existe")]
            )
        reference = body.get("reference")
        if reference is not None and not isinstance(reference, str):
            raise invalid("Referencia inválida", [("reference", "Debe ser texto")])
        if not isinstance(body["items"], list):
            raise invalid("Partidas inválidas", [("items", "Debe ser una lista")])
        lines, subtotal, tax_total, total = [], 0.0, 0.0, 0.0
        for n, item in enumerate(body["items"]):
            where = f"items[{n}]"
            if not isinstance(item, dict):
                raise invalid("Partida inválida", [(where, "Debe ser un objeto")])
            product = (
                company.products.get(item.get("product_id"))
                if isinstance(item.get("product_id"), int)
                else None
            )
            if product is None:
                raise invalid(
                    "Producto inexistente",
                    [(f"{where}.product_id", f"El producto {item.get('product_id')} no existe")],
                )
            quantity, unit_price = item.get("quantity"), item.get("unit_price")
            discount = item.get("discount", 0.0) or 0.0
            if not _is_number(quantity) or quantity <= 0:
                raise invalid("Cantidad inválida", [(f"{where}.quantity", "Debe ser mayor a cero")])
            if not _is_number(unit_price) or unit_price < 0:
                raise invalid(
                    "Precio inválido", [(f"{where}.unit_price", "Debe ser un número no negativo")]
                )
            if not _is_number(discount) or not 0 <= discount <= 100:
                raise invalid("Descuento inválido", [(f"{where}.discount", "Entre 0 y 100")])
            taxes = self.resolve_taxes(company, item.get("taxes") or [])
            amount = quantity * unit_price * (1 - discount / 100.0)
            line_total = round(line_amount_with_taxes(amount, taxes), 2)
            line_tax = round(line_total - amount, 2)
            subtotal += amount
            tax_total += line_tax
            total += line_total
            lines.append(
                {
                    "line_id": self.next_id("line"),
                    "product_id": product["product_id"],
                    "key": product["key"],
                    "name": product["name"],
                    "quantity": quantity,
                    "unit_price": unit_price,
                    "discount": discount,
                    "taxes": [
                        {"tax_id": t["tax_id"], "name": t["name"], "rate": t["rate"]} for t in taxes
                    ],
                    "subtotal": round(amount, 2),
                    "tax": line_tax,
                    "total": line_total,
                }
            )
        if check_duplicate and self.knobs.reject_duplicate_reference and reference:
            existing = self.find_by_reference(company, doc_type, reference)
            if existing is not None:
                raise GestionixError(
                    409,
                    f"La referencia {reference} ya existe",
                    existing_id=existing[DOC_ID_FIELD[doc_type]],
                )
        company.folios[doc_type] += 1
        doc = {
            DOC_ID_FIELD[doc_type]: self.next_id("document"),
            "serie": DOC_SERIE[doc_type],
            "folio": company.folios[doc_type],
            "date": iso_z(date.timestamp()),
            "branch_id": branch["branch_id"],
            "client_id": client["client_id"],
            "client_name": client["commercial_name"] or client["business_name"],
            "seller_id": seller_id,
            "reference": reference,
            "observations": body.get("observations"),
            "items": lines,
            "subtotal": round(subtotal, 2),
            "tax": round(tax_total, 2),
            "total": round(total, 2),
            "status": "open",
            "invoiced": False,
            "register_date": iso_z(self.clock.now()),
        }
        company.documents[doc_type][doc[DOC_ID_FIELD[doc_type]]] = doc
        self.touch()
        return doc

    async def hold_answer(self, nth: int) -> None:
        """Wait while `hold_answers_from_document` is set and `nth` (the document this answer
        is about) has reached it. Polled: the knob is set from another thread or over HTTP."""
        while 0 < self.knobs.hold_answers_from_document <= nth:
            await asyncio.sleep(HOLD_POLL_SECONDS)

    async def wait_documents_created(self, count: int, timeout: float) -> int:
        """How many documents the API has created, once that is at least `count` or after
        `timeout` real seconds (the sandbox clock may be frozen)."""
        deadline = time.monotonic() + timeout
        while self.documents_created < count and time.monotonic() < deadline:
            await asyncio.sleep(HOLD_POLL_SECONDS)
        return self.documents_created

    def delete_document(
        self, company: Company, doc_type: str, doc_id: int, *, force: bool = False
    ) -> None:
        doc = company.documents[doc_type].get(doc_id)
        if doc is None:
            raise GestionixError(404, f"Documento {doc_id} no encontrado")
        if not force and doc["invoiced"]:
            raise GestionixError(
                409, f"El documento {doc_id} ya fue facturado y no se puede eliminar"
            )
        if not force and doc["status"] == "converted":
            raise GestionixError(
                409, f"El pedido {doc_id} ya se convirtió en venta y no se puede eliminar"
            )
        del company.documents[doc_type][doc_id]
        self.touch()

    def dump(self, only: set[str] | None = None) -> dict:
        out: dict[str, Any] = {}
        for cid, c in self.companies.items():
            data = {
                "emitter": c.emitter,
                "branches": list(c.branches.values()),
                "taxes": list(c.taxes.values()),
                "products": [
                    {**p, "branch_ids": sorted(c.product_branches[pid])}
                    for pid, p in c.products.items()
                ],
                "clients": list(c.clients.values()),
                "sellers": list(c.sellers.values()),
                "sales_orders": list(c.documents["sales_order"].values()),
                "sales": list(c.documents["sale"].values()),
            }
            out[str(cid)] = {k: v for k, v in data.items() if not only or k in only}
        return {"companies": out}


# ---- HTTP layer ---------------------------------------------------------------------------
def _paging(request: Request, knobs: GestionixKnobs) -> tuple[int, int]:
    """(page, records per page): `page_size` as asked, lowered to `page_size_cap` when that knob is set."""
    try:
        page = int(request.query_params.get("page") or 1)
        size = int(request.query_params.get("page_size") or MAX_PAGE_SIZE)
    except ValueError:
        raise GestionixError(400, "page y page_size deben ser números enteros") from None
    if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
        raise GestionixError(400, f"page debe ser >= 1 y page_size entre 1 y {MAX_PAGE_SIZE}")
    if knobs.page_size_cap:
        size = min(size, knobs.page_size_cap)
    return page, size


def _bare_page(request: Request, knobs: GestionixKnobs, items: list) -> Response:
    page, size = _paging(request, knobs)
    return json_response(page_slice(items, page, size))


async def _body(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise GestionixError(400, "El cuerpo de la solicitud no es JSON válido") from None


def create_app(state: GestionixState | None = None) -> FastAPI:
    state = state or GestionixState()
    app = FastAPI(
        title="Gestionix API v3 (sandbox)",
        docs_url="/_sandbox/docs",
        redoc_url=None,
        openapi_url="/_sandbox/openapi.json",
    )
    app.state.sandbox = state

    @app.exception_handler(GestionixError)
    async def _gx_error(_request: Request, exc: GestionixError) -> Response:
        return json_response(exc.body, exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> Response:
        return json_response({"message": str(exc.detail)}, exc.status_code)

    api = APIRouter(prefix=API_PREFIX)

    @api.post("/users/authentication")
    async def login(request: Request) -> Response:
        return json_response(state.login(await _body(request)))

    @api.get("/users/companies")
    async def companies(request: Request) -> Response:
        user = state.user_for(request)
        return json_response(
            [
                {"company_id": cid, "emitter": state.companies[cid].emitter}
                for cid in user["companies"]
                if cid in state.companies
            ]
        )

    async def branches(request: Request) -> Response:
        company = state.company_for(request)
        return _bare_page(request, state.knobs, list(company.branches.values()))

    api.add_api_route("/branch_offices/", branches, methods=["GET"], name="branch_offices_slash")
    api.add_api_route("/branch_offices", branches, methods=["GET"], name="branch_offices")

    @api.get("/products")
    async def products(request: Request) -> Response:
        company = state.company_for(request)
        raw = request.query_params.get("branch_id")
        branch_id = state.branch(company, raw)["branch_id"] if raw else None
        return _bare_page(request, state.knobs, state.products_of(company, branch_id))

    @api.get("/taxes")
    async def taxes(request: Request) -> Response:
        company = state.company_for(request)
        return _bare_page(request, state.knobs, list(company.taxes.values()))

    @api.get("/clients")
    async def clients(request: Request) -> Response:
        company = state.company_for(request)
        raw = request.query_params.get("branch_id")
        branch_id = state.branch(company, raw)["branch_id"] if raw else None
        rows = state.cached(
            ("clients", company.company_id, branch_id),
            lambda: [
                c
                for c in company.clients.values()
                if branch_id is None or c["branch_id"] == branch_id
            ],
        )
        return _bare_page(request, state.knobs, rows)

    @api.get("/clients/table")
    async def clients_table(request: Request) -> Response:
        company = state.company_for(request)
        return _bare_page(
            request,
            state.knobs,
            [
                {
                    "id": c["client_id"],
                    "business_name": c["business_name"],
                    "tax_id": c["tax_id"],
                    "status": "active" if c["active"] else "inactive",
                    "last_activity": c["register_date"],
                    "accounts_pending": 0,
                }
                for c in company.clients.values()
            ],
        )

    @api.post("/clients")
    async def create_client(request: Request) -> Response:
        company = state.company_for(request)
        return json_response(state.create_client(company, await _body(request)), 201)

    @api.get("/sellers")
    async def sellers(request: Request) -> Response:
        company = state.company_for(request)
        return _bare_page(request, state.knobs, list(company.sellers.values()))

    for segment, doc_type in DOC_KINDS.items():
        _add_document_routes(api, state, segment, doc_type)

    app.include_router(api)
    _add_control_surface(app, state)
    app.add_middleware(
        SandboxMiddleware,
        knobs=state.knobs,
        stats=state.stats,
        clock=state.clock,
        rng=state.fault_rng,
        api_prefix=API_PREFIX,
        rate_limit_style="gestionix",
        routes_provider=lambda: api.routes,
        limiter=state.limiter,
        server_time=state.clock.now,
    )
    return app


def _doc_id(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise GestionixError(404, f"Documento {raw} no encontrado") from None


def _add_document_routes(
    api: APIRouter, state: GestionixState, segment: str, doc_type: str
) -> None:
    async def create(request: Request) -> Response:
        company = state.company_for(request)
        doc = state.create_document(company, doc_type, await _body(request))
        state.documents_created += 1
        await state.hold_answer(state.documents_created)
        return json_response(doc, 201)

    async def listing(request: Request) -> Response:
        company = state.company_for(request)
        params = request.query_params
        docs = list(company.documents[doc_type].values())
        if params.get("reference") is not None:
            docs = [d for d in docs if d["reference"] == params["reference"]]
        for name in ("branch_id", "client_id"):
            if params.get(name):
                docs = [d for d in docs if str(d[name]) == params[name]]
        if params.get("date_from"):
            docs = [d for d in docs if d["date"][:10] >= params["date_from"][:10]]
        if params.get("date_to"):
            docs = [d for d in docs if d["date"][:10] <= params["date_to"][:10]]
        return _bare_page(request, state.knobs, docs)

    async def get_one(doc_id: str, request: Request) -> Response:
        company = state.company_for(request)
        doc = company.documents[doc_type].get(_doc_id(doc_id))
        if doc is None:
            raise GestionixError(404, f"Documento {doc_id} no encontrado")
        return json_response(doc)

    async def delete(doc_id: str, request: Request) -> Response:
        company = state.company_for(request)
        state.delete_document(company, doc_type, _doc_id(doc_id))
        return Response(status_code=204)

    api.add_api_route(f"/{segment}", create, methods=["POST"], name=f"create_{doc_type}")
    api.add_api_route(f"/{segment}", listing, methods=["GET"], name=f"list_{doc_type}")
    api.add_api_route(f"/{segment}/{{doc_id}}", get_one, methods=["GET"], name=f"get_{doc_type}")
    api.add_api_route(
        f"/{segment}/{{doc_id}}", delete, methods=["DELETE"], name=f"delete_{doc_type}"
    )


def _add_control_surface(app: FastAPI, state: GestionixState) -> None:
    from sandbox.control import add_common_controls

    ctl = add_common_controls(app, state)

    def company_of(request: Request, body: Any = None) -> Company:
        raw = (body or {}).get("company_id") if isinstance(body, dict) else None
        raw = raw or request.query_params.get("company_id") or DEMO_COMPANY_ID
        company = state.companies.get(int(raw))
        if company is None:
            raise GestionixError(404, f"Empresa {raw} no existe")
        return company

    def doc_type_of(kind: str) -> str:
        if kind not in DOC_KINDS:
            raise GestionixError(
                404, f"Tipo de documento {kind} desconocido (sales_orders | sales)"
            )
        return DOC_KINDS[kind]

    @ctl.put("/products")
    async def upsert_product(request: Request) -> Response:
        """Body: {"product_id"?|"key", "name", "price", "active", "for_sale", "category": "Bebidas",
        "taxes": [1, "IEPS 8%"], "stock": {"Matriz": 12}, "branches": ["Matriz"], "company_id"?}"""
        body = await _body(request)
        return json_response(state.upsert_product(company_of(request, body), body))

    @ctl.patch("/products/{product_id}")
    async def patch_product(product_id: int, request: Request) -> Response:
        body = await _body(request)
        return json_response(state.upsert_product(company_of(request, body), body, product_id))

    @ctl.put("/clients")
    async def upsert_client(request: Request) -> Response:
        """Body: a client as POST /clients takes it; with "client_id" it patches that client."""
        body = await _body(request)
        company = company_of(request, body)
        if body.get("client_id") is not None:
            return json_response(state.patch_client(company, int(body["client_id"]), body))
        return json_response(state.create_client(company, body), 201)

    @ctl.patch("/clients/{client_id}")
    async def patch_client(client_id: int, request: Request) -> Response:
        body = await _body(request)
        return json_response(state.patch_client(company_of(request, body), client_id, body))

    @ctl.post("/documents/{kind}/{doc_id}/invoice")
    async def invoice(kind: str, doc_id: int, request: Request) -> Response:
        return json_response(
            _set_doc(company_of(request), doc_type_of(kind), doc_id, invoiced=True)
        )

    @ctl.post("/documents/{kind}/{doc_id}/uninvoice")
    async def uninvoice(kind: str, doc_id: int, request: Request) -> Response:
        return json_response(
            _set_doc(company_of(request), doc_type_of(kind), doc_id, invoiced=False)
        )

    @ctl.post("/documents/{kind}/{doc_id}/convert")
    async def convert(kind: str, doc_id: int, request: Request) -> Response:
        """A pedido turned into a venta: its DELETE answers 409 from now on."""
        return json_response(
            _set_doc(company_of(request), doc_type_of(kind), doc_id, status="converted")
        )

    def _set_doc(company: Company, doc_type: str, doc_id: int, **changes: Any) -> dict:
        doc = company.documents[doc_type].get(doc_id)
        if doc is None:
            raise GestionixError(404, f"Documento {doc_id} no encontrado")
        doc.update(changes)
        if "invoiced" in changes and doc["status"] != "converted":
            doc["status"] = "invoiced" if changes["invoiced"] else "open"
        state.touch()
        return doc

    @ctl.post("/documents/{kind}")
    async def create_doc(kind: str, request: Request) -> Response:
        """Body: as POST /sales_orders; "force": true skips the duplicate-reference check."""
        body = await _body(request)
        doc = state.create_document(
            company_of(request, body),
            doc_type_of(kind),
            body,
            check_duplicate=not body.get("force"),
        )
        return json_response(doc, 201)

    @ctl.delete("/documents/{kind}/{doc_id}")
    async def delete_doc(kind: str, doc_id: int, request: Request) -> Response:
        state.delete_document(company_of(request), doc_type_of(kind), doc_id, force=True)
        return Response(status_code=204)

    @ctl.get("/documents_created")
    async def documents_created(at_least: int = 0, timeout: float = 0.0) -> Response:
        """Long-polls until the API has created `at_least` documents (or `timeout` seconds)."""
        created = await state.wait_documents_created(at_least, min(timeout, 300.0))
        return json_response({"created": created, "reached": created >= at_least})

    @ctl.post("/tokens/expire")
    async def expire_tokens() -> Response:
        return json_response({"expired": state.expire_tokens()})

    app.include_router(ctl)
