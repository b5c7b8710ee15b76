"""Seeded demo world: a Gestionix company with a realistic Mexican catalog and clients, and a
Handy account that starts with users, open routes and nothing else (the integration fills it).

Deliberate traps (each one exercises a rule of RULES.md):
- products not for sale (P1), inactive (P7), claves empty (P3), with '/' (P4) or surrounding spaces;
- IVA 16 % / 8 % / 0 %, IVA + IEPS 8 % / 26.5 %, a withheld tax, a fixed-fee IEPS, no taxes at all (P6, O5, O6);
- clients whose names differ only by case/accents, only a razón social, neither name (C2, O3);
- Gestionix sellers matching Handy users by e-mail, only by name (accents differ), one unmatched (C5);
- a second company (118) with its own "Matriz" branch, for isolation.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from typing import Any

from sandbox.common import Clock, iso_z
from sandbox.gestionix import (
    DEMO_COMPANY_ID,
    DEMO_PASSWORD,
    DEMO_USER,
    Company,
    GestionixState,
    line_amount_with_taxes,
)
from sandbox.handy import DEFAULT_TIMEZONE, DEMO_TOKEN, HandyState

SECOND_COMPANY_ID = 118
MAIN_BRANCH = "Matriz"
NORTH_BRANCH = "Sucursal Norte"

# category -> (clave prefix, base names, presentations, default tax profile)
CATALOG: dict[str, tuple[str, list[str], list[str], str]] = {
    "Bebidas": (
        "BEB",
        [
            "Refresco de cola",
            "Agua purificada",
            "Jugo de mango",
            "Agua mineral",
            "Bebida de jamaica",
            "Té helado de limón",
            "Refresco sabor toronja",
            "Néctar de durazno",
        ],
        ["355 ml", "600 ml", "1 L", "2 L", "3 L", "Six pack 355 ml"],
        "iva16",
    ),
    "Botanas": (
        "BOT",
        [
            "Papas fritas con chile",
            "Cacahuates japoneses",
            "Chicharrón de harina",
            "Palomitas con mantequilla",
            "Totopos de maíz",
            "Churritos con limón",
        ],
        ["45 g", "70 g", "150 g", "340 g"],
        "iva16_ieps8",
    ),
    "Abarrotes": (
        "ABA",
        [
            "Frijol bayo",
            "Arroz súper extra",
            "Azúcar estándar",
            "Aceite vegetal",
            "Harina de maíz",
            "Atún en agua",
            "Chiles jalapeños en escabeche",
            "Sopa de fideo",
            "Café soluble",
            "Galletas de animalitos",
        ],
        ["200 g", "500 g", "900 g", "1 kg", "Caja con 12"],
        "iva0",
    ),
    "Lácteos": (
        "LAC",
        [
            "Leche entera",
            "Leche deslactosada",
            "Yogur de fresa",
            "Queso panela",
            "Crema ácida",
            "Mantequilla sin sal",
            "Queso Oaxaca",
        ],
        ["250 g", "400 g", "1 L", "1.5 L", "Galón"],
        "iva0",
    ),
    "Panadería": (
        "PAN",
        [
            "Pan blanco grande",
            "Pan integral",
            "Conchas de vainilla",
            "Tortillinas de harina",
            "Medias noches",
            "Gansito",
        ],
        ["Pieza", "Paquete con 6", "Paquete con 10"],
        "iva0",
    ),
    "Dulcería": (
        "DUL",
        [
            "Paleta de tamarindo",
            "Mazapán de cacahuate",
            "Chicle de menta",
            "Chocolate con almendras",
            "Obleas de cajeta",
            "Pulparindo",
        ],
        ["Pieza", "Bolsa con 20", "Caja con 50"],
        "iva16_ieps8",
    ),
    "Cervezas y vinos": (
        "CER",
        [
            "Cerveza clara",
            "Cerveza oscura",
            "Tequila reposado",
            "Mezcal joven",
            "Vino tinto de Valle de Guadalupe",
        ],
        ["355 ml", "Caguama 940 ml", "750 ml", "Cartón con 12"],
        "iva16_ieps265",
    ),
    "Limpieza": (
        "LIM",
        [
            "Detergente en polvo",
            "Cloro",
            "Limpiador multiusos aroma lavanda",
            "Jabón de barra para ropa",
            "Suavizante de telas",
            "Fibra verde",
        ],
        ["500 g", "1 kg", "1 L", "3.78 L"],
        "iva16",
    ),
    "Cuidado personal": (
        "CUI",
        [
            "Shampoo de manzanilla",
            "Jabón de tocador",
            "Pasta dental",
            "Papel higiénico",
            "Desodorante en barra",
            "Toallas húmedas",
        ],
        ["Pieza", "Paquete con 4", "400 ml", "750 ml"],
        "iva16",
    ),
    "Tabaco": (
        "TAB",
        ["Cigarros mentolados", "Cigarros rojos"],
        ["Cajetilla con 20", "Cartón con 10"],
        "iva16_ieps_fixed",
    ),
}
BRANDS = [
    "La Costeña",
    "Del Valle",
    "El Güero",
    "Doña María",
    "San Marcos",
    "La Moderna",
    "Santa Clara",
    "Jumex",
    "Lala",
    "Herdez",
    "Gamesa",
    "Bimbo",
    "Sabritas",
    "Barcel",
    "Peñafiel",
    "Don Julio",
    "Zuko",
    "Ricolino",
    "De la Rosa",
    "La Villita",
    "Nutrileche",
    "Marca Propia",
]
RAW_MATERIALS = [
    "Azúcar refinada a granel (insumo)",
    "Envase PET 600 ml",
    "Tapa rosca 28 mm",
    "Etiqueta impresa",
    "Caja de cartón corrugado",
    "Saborizante natural (insumo)",
    "Playo para tarima",
    "Cinta canela",
]

TAXES = [  # tax_id, name, rate, type, factor
    (1, "IVA 16%", 0.16, "transferred", "rate"),
    (2, "IVA 8%", 0.08, "transferred", "rate"),
    (3, "IVA 0%", 0.0, "transferred", "rate"),
    (4, "IEPS 8%", 0.08, "transferred", "rate"),
    (5, "IEPS 26.5%", 0.265, "transferred", "rate"),
    (6, "IEPS cuota cigarros", 0.5944, "transferred", "fixed"),
    (7, "IVA retenido", 0.106667, "withheld", "rate"),
    (8, "ISR retenido", 0.10, "withheld", "rate"),
]
TAX_PROFILES = {
    "iva16": [1],
    "iva8": [2],
    "iva0": [3],
    "iva16_ieps8": [1, 4],
    "iva16_ieps265": [1, 5],
    "iva16_ieps_fixed": [1, 6],
    "iva16_withheld": [1, 7],
    "none": [],
}

FIRST_NAMES = [
    "Lucía",
    "José",
    "María",
    "Juan",
    "Guadalupe",
    "Francisco",
    "Verónica",
    "Martín",
    "Sofía",
    "Andrés",
    "Ximena",
    "Raúl",
    "Beatriz",
    "Ángel",
    "Rocío",
    "Héctor",
]
LAST_NAMES = [
    "Pérez",
    "Hernández",
    "García",
    "Martínez",
    "López",
    "González",
    "Rodríguez",
    "Sánchez",
    "Ramírez",
    "Cruz",
    "Flores",
    "Gómez",
    "Muñoz",
    "Ibáñez",
    "Treviño",
    "Villaseñor",
]
SHOP_KINDS = [
    "Abarrotes",
    "Tienda",
    "Miscelánea",
    "Minisúper",
    "Depósito",
    "Cremería",
    "Tendajón",
    "Farmacia",
    "Papelería y Abarrotes",
    "Recaudería",
]
SHOP_NAMES = [
    "Lucía",
    "La Esperanza",
    "El Güero",
    "Doña Mary",
    "San José",
    "La Bendición",
    "El Sol",
    "Los Pinos",
    "La Guadalupana",
    "El Oasis",
    "Las Palmas",
    "Don Chuy",
    "La Económica",
    "El Rincón",
    "Santa Fe",
    "La Pasadita",
]
STREETS = [
    "Av. Juárez",
    "Calle Hidalgo",
    "Av. Constitución",
    "Calle Morelos",
    "Blvd. Díaz Ordaz",
    "Calle Zaragoza",
    "Av. Revolución",
    "Calle 5 de Mayo",
    "Calle Allende",
    "Av. Insurgentes",
]
SUBURBS = [
    "Centro",
    "Del Valle",
    "Mitras Centro",
    "Obispado",
    "Roma Norte",
    "San Pedro",
    "Las Américas",
    "Jardines del Moral",
    "Independencia",
]
CITIES = [
    ("Monterrey", "Nuevo León"),
    ("Guadalajara", "Jalisco"),
    ("Puebla", "Puebla"),
    ("León", "Guanajuato"),
    ("Querétaro", "Querétaro"),
    ("Saltillo", "Coahuila"),
    ("San Luis Potosí", "San Luis Potosí"),
    ("Ciudad Juárez", "Chihuahua"),
]

# Handy users and their Gestionix counterparts: (handy name, handy e-mail, gestionix name, gestionix e-mail)
SELLERS = [
    ("Ana Pérez", "ana.perez@demo.mx", "Ana Pérez", "ana.perez@demo.mx"),  # by e-mail
    (
        "Luis Hernández",
        "luis.hdz@demo.mx",
        "Luis Hernández",
        "LUIS.HDZ@demo.mx",
    ),  # e-mail, other case
    ("María José Ramírez", "mj.ramirez@demo.mx", "Maria Jose Ramirez", None),  # by name only
    (
        "José Ángel Núñez",
        "jose.nunez@demo.mx",
        "JOSE ANGEL NUNEZ",
        "jnunez@otro.mx",
    ),  # by name only
    ("Rocío Treviño", "rocio.t@demo.mx", "Rocío Treviño", "rocio.t@demo.mx"),  # by e-mail
]
UNMATCHED_SELLER = ("Vendedor Mostrador", "mostrador@demo.mx")


@dataclass
class World:
    handy: HandyState
    gestionix: GestionixState
    seed: int


def _rfc(rng: random.Random, moral: bool) -> str:
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    head = "".join(rng.choice(letters) for _ in range(3 if moral else 4))
    date = f"{rng.randint(60, 99):02d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    tail = "".join(rng.choice(letters + "0123456789") for _ in range(3))
    return head + date + tail


def _tax_profile(rng: random.Random, default: str) -> str:
    roll = rng.random()
    if roll < 0.05:
        return "iva8"  # border-zone stimulus
    if roll < 0.06:
        return "none"
    if roll < 0.07:
        return "iva16_withheld"
    return default


def _nice_price(rng: random.Random) -> float:
    whole = rng.choice([rng.randint(5, 60), rng.randint(20, 150), rng.randint(80, 600)])
    return whole + rng.choice([0.0, 0.5, 0.9, 0.0])


def _build_company_catalog(
    state: GestionixState,
    company: Company,
    rng: random.Random,
    count: int,
    branch_ids: list[int],
    subset_branch: int | None,
) -> None:
    for tax_id, name, rate, kind, factor in TAXES:
        company.taxes[tax_id] = {
            "tax_id": tax_id,
            "name": name,
            "rate": rate,
            "type": kind,
            "factor": factor,
        }
    for name in CATALOG:
        cid = state.next_id("category")
        company.categories[cid] = {"category_id": cid, "name": name}
    company.categories[state.next_id("category")] = {
        "category_id": state._ids["category"],
        "name": "Insumos",
    }
    category_by_name = {c["name"]: c for c in company.categories.values()}
    category_names = list(CATALOG)
    taxes = company.taxes
    seen_keys: dict[str, int] = {}
    for n in range(count):
        pid = state.next_id("product")
        if n % 40 == 39:  # ~2.5 % raw materials, never for sale
            name = f"{rng.choice(RAW_MATERIALS)} lote {n // 40 + 1}"
            category = category_by_name["Insumos"]
            prefix, profile, for_sale = "INS", "iva16", False
        else:
            cat_name = category_names[n % len(category_names)]
            prefix, bases, sizes, default = CATALOG[cat_name]
            name = f"{rng.choice(bases)} {rng.choice(BRANDS)} {rng.choice(sizes)}"
            category = category_by_name[cat_name]
            profile, for_sale = _tax_profile(rng, default), rng.random() > 0.02
        seen_keys[prefix] = seen_keys.get(prefix, 0) + 1
        key = f"{prefix}-{seen_keys[prefix]:05d}"
        special = n % 97
        if special == 13:
            key = ""  # P3
        elif special == 29:
            key = key.replace("-", "/", 1)  # P4
        elif special == 51:
            key = f" {key} "  # surrounding spaces
        tax_list = [dict(taxes[t]) for t in TAX_PROFILES[profile]]
        factor = line_amount_with_taxes(1.0, [t for t in tax_list if t["type"] == "transferred"])
        price = round(_nice_price(rng) / factor, 4)  # pre-tax, 4 decimals like the ERP keeps it
        visible = {branch_ids[0]}
        stock = [{"branch_id": branch_ids[0], "quantity": float(rng.randint(0, 480))}]
        if subset_branch is not None and rng.random() < 0.4:
            visible.add(subset_branch)
            if rng.random() < 0.8:
                stock.append({"branch_id": subset_branch, "quantity": float(rng.randint(0, 120))})
        company.products[pid] = {
            "product_id": pid,
            "key": key,
            "name": name,
            "category": dict(category),
            "for_sale": for_sale,
            "active": rng.random() > 0.04,
            "unit": "PZA" if "kg" not in name else "KG",
            "price": price,
            "taxes": tax_list,
            "stock": stock,
        }
        company.product_branches[pid] = visible


def _address(rng: random.Random) -> dict:
    city, st = rng.choice(CITIES)
    return {
        "street": rng.choice(STREETS),
        "exterior_number": str(rng.randint(1, 2999)),
        "interior_number": rng.choice([None, None, "A", "2"]),
        "suburb": rng.choice(SUBURBS),
        "zip_code": f"{rng.randint(1000, 99999):05d}",
        "city": city,
        "state": st,
        "country": "México",
    }


def _build_clients(
    state: GestionixState,
    company: Company,
    rng: random.Random,
    count: int,
    main_branch: int,
    other_branch: int | None,
) -> None:
    sellers = [
        {"seller_id": s["seller_id"], "name": s["name"], "email": s["email"]}
        for s in company.sellers.values()
    ]

    def add(commercial: str, business: str, branch: int, **extra: Any) -> None:
        cid = state.next_id("client")
        moral = business.endswith(("SA DE CV", "S DE RL DE CV"))
        client = {
            "client_id": cid,
            "commercial_name": commercial,
            "business_name": business,
            "tax_id": _rfc(rng, moral) if rng.random() > 0.15 else "XAXX010101000",
            "active": rng.random() > 0.05,
            "branch_id": branch,
            "email": f"contacto{cid}@correo.mx" if rng.random() > 0.3 else None,
            "phone": f"81{rng.randint(10000000, 99999999)}" if rng.random() > 0.2 else None,
            "seller": dict(rng.choice(sellers)) if sellers and rng.random() > 0.15 else None,
            "address": _address(rng) if rng.random() > 0.1 else None,
            "register_date": iso_z(1_600_000_000 + cid * 3600),
        }
        client.update(extra)
        company.clients[cid] = client

    # the fixed traps first (only when there is room for them)
    fixed = [
        ("Tienda Lucía", "ABARROTES LUCIA SA DE CV"),
        ("tienda lucia", "LUCIA MARTINEZ GOMEZ"),  # same name, case/accents only (O3)
        ("TIENDA LUCÍA ", ""),  # and again, with a trailing space
        ("", "Comercializadora Peñafiel SA DE CV"),  # only a razón social (C2)
        ("", ""),  # neither name (C2: reported, not synced)
    ]
    for commercial, business in fixed[: max(0, min(len(fixed), count))]:
        add(commercial, business, main_branch)
    for _n in range(max(0, count - len(fixed))):
        shop = f"{rng.choice(SHOP_KINDS)} {rng.choice(SHOP_NAMES)}"
        owner = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)} {rng.choice(LAST_NAMES)}"
        business = rng.choice([owner.upper(), f"{shop.upper()} SA DE CV", owner])
        branch = other_branch if other_branch is not None and rng.random() < 0.2 else main_branch
        add(shop if rng.random() > 0.04 else "", business, branch)


def generate_world(
    seed: int = 7,
    products: int = 200,
    customers: int = 60,
    orders: int = 0,
    second_company_products: int = 25,
    second_company_customers: int = 10,
    routes_with_inventory: int = 3,
    clock: Clock | None = None,
    handy_knobs: dict[str, Any] | None = None,
    gestionix_knobs: dict[str, Any] | None = None,
    handy_timezone: str = DEFAULT_TIMEZONE,
) -> World:
    """Build both states. `orders` random Handy orders are created the first time someone lists
    sales orders after Handy has products (Handy starts empty; the integration fills it)."""
    params = {
        "seed": seed,
        "products": products,
        "customers": customers,
        "orders": orders,
        "second_company_products": second_company_products,
        "second_company_customers": second_company_customers,
        "routes_with_inventory": routes_with_inventory,
        "handy_timezone": handy_timezone,
    }
    clock = clock or Clock()
    rng = random.Random(seed)
    gx = GestionixState(clock=clock, seed=seed, **(gestionix_knobs or {}))
    handy = HandyState(clock=clock, seed=seed, timezone=handy_timezone, **(handy_knobs or {}))
    gx.regenerate = handy.regenerate = functools.partial(generate_world, **params, clock=clock)

    # --- Gestionix company 92 ---------------------------------------------------------------
    main = Company(
        DEMO_COMPANY_ID,
        {
            "business_name": "DISTRIBUIDORA LA NORTEÑA SA DE CV",
            "commercial_name": "Distribuidora La Norteña",
            "tax_id": "DNO0503157K2",
        },
    )
    for name, kind in ((MAIN_BRANCH, "Store"), (NORTH_BRANCH, "Store")):
        bid = gx.next_id("branch")
        main.branches[bid] = {
            "branch_id": bid,
            "name": name,
            "type": kind,
            "register_date": "2019-03-01T00:00:00Z",
            "active": True,
            "address": {
                "street": "Av. Constitución 1500"
                if name == MAIN_BRANCH
                else "Carretera a Laredo km 12"
            },
        }
    branch_ids = list(main.branches)
    for _h_name, _h_mail, g_name, g_mail in SELLERS:
        sid = gx.next_id("seller")
        main.sellers[sid] = {"seller_id": sid, "name": g_name, "email": g_mail, "active": True}
    sid = gx.next_id("seller")
    main.sellers[sid] = {
        "seller_id": sid,
        "name": UNMATCHED_SELLER[0],
        "email": UNMATCHED_SELLER[1],
        "active": True,
    }
    _build_company_catalog(gx, main, rng, products, branch_ids, branch_ids[1])
    _build_clients(gx, main, rng, customers, branch_ids[0], branch_ids[1])
    gx.companies[main.company_id] = main

    # --- Gestionix company 118 (isolation: also has a "Matriz") ----------------------------
    other = Company(
        SECOND_COMPANY_ID,
        {
            "business_name": "COMERCIALIZADORA DEL BAJIO S DE RL DE CV",
            "commercial_name": "Comercializadora del Bajío",
            "tax_id": None,
        },
    )
    bid = gx.next_id("branch")
    other.branches[bid] = {
        "branch_id": bid,
        "name": MAIN_BRANCH,
        "type": "Store",
        "register_date": "2021-07-15T00:00:00Z",
        "active": True,
        "address": {"street": "Blvd. Adolfo López Mateos 800, León"},
    }
    sid = gx.next_id("seller")
    other.sellers[sid] = {
        "seller_id": sid,
        "name": "Ana Pérez",
        "email": "ana.perez@bajio.mx",
        "active": True,
    }
    _build_company_catalog(gx, other, rng, second_company_products, [bid], None)
    _build_clients(gx, other, rng, second_company_customers, bid, None)
    gx.companies[other.company_id] = other

    gx.users[DEMO_USER] = {
        "user_id": gx.next_id("user"),
        "email": DEMO_USER,
        "password": DEMO_PASSWORD,
        "name": "Usuario Demo",
        "companies": [DEMO_COMPANY_ID, SECOND_COMPANY_ID],
    }
    gx.touch()

    # --- Handy: users and routes only -----------------------------------------------------
    handy.token = DEMO_TOKEN
    created = iso_z(handy.now() - 400 * 86400)  # Handy stamps with its own clock
    admin_id = handy.next_id("user")
    handy.users[admin_id] = {
        "id": admin_id,
        "name": "Administrador Demo",
        "username": "admin@demo.mx",
        "email": "admin@demo.mx",
        "enabled": True,
        "role": {"id": 1, "authority": "ROLE_ADMIN"},
        "dateCreated": created,
    }
    for h_name, h_mail, _g, _m in SELLERS + [("Pedro Sin Pareja", "pedro@demo.mx", None, None)]:
        uid = handy.next_id("user")
        handy.users[uid] = {
            "id": uid,
            "name": h_name,
            "username": h_mail,
            "email": h_mail,
            "enabled": True,
            "role": {"id": 2, "authority": "ROLE_SALES"},
            "dateCreated": created,
        }
    sellable = [
        p["key"]
        for p in main.products.values()
        if p["for_sale"]
        and p["active"]
        and p["key"]
        and "/" not in p["key"]
        and p["key"] == p["key"].strip()
        and main.branches
        and branch_ids[0] in main.product_branches[p["product_id"]]
    ]
    sellers = handy.sellers()
    now = handy.now()
    for n, seller in enumerate(sellers[: routes_with_inventory + 1]):
        rid = handy.next_id("route")
        closed = n == routes_with_inventory  # one closed route, its stock no longer counts
        handy.routes[rid] = {
            "id": rid,
            "user": {"id": seller["id"], "name": seller["name"]},
            "closed": closed,
            "dateCreated": iso_z(now - 6 * 3600 - n * 600),
            "dateClosed": iso_z(now - 3600) if closed else None,
        }
        loaded = rng.sample(sellable, min(len(sellable), rng.randint(5, 15))) if sellable else []
        handy.route_inventory[rid] = {code: float(rng.randint(1, 36)) for code in loaded}
    handy.pending_random_orders = orders
    handy.touch()
    return World(handy=handy, gestionix=gx, seed=seed)
