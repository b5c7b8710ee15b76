"""Handy API v2 (see shared/spec/handy-api-v2.md): its paths, parameters and list keys, and the
paging envelope every list answer comes in. Shared by the client (clients/handy.py) and its
order-window reading (clients/handy_orders.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SYSTEM = "handy"

# ---------------------------------------------------------------------------------------------
# Paths, parameters and list keys of Handy API v2. [A] = assumed by the spec, not confirmed:
# correct them here (and in the sandbox) when the real API says otherwise. Record field names
# live in mappings/handy_fields.py; the two this client writes itself are repeated below.
# ---------------------------------------------------------------------------------------------
PRODUCTS_PATH = "/product"
PRODUCT_PATH = "/product/{code}"
FAMILIES_PATH = "/productFamily"  # [A]
CUSTOMERS_PATH = "/customer"
CUSTOMER_PATH = "/customer/{code}"  # [A] for PUT; GET confirmed
ZONES_PATH = "/zone"  # [A]
USERS_PATH = "/user"
ROUTES_PATH = "/route"
SALES_ORDERS_PATH = "/salesOrder"
SALES_ORDER_PATH = "/salesOrder/{order_id}"

PRODUCTS_KEY = "products"
FAMILIES_KEY = "productFamilies"  # [A]
CUSTOMERS_KEY = "customers"
ZONES_KEY = "zones"  # [A]
USERS_KEY = "users"
ROUTES_KEY = "routes"
SALES_ORDERS_KEY = "salesOrders"
PAGINATION_KEY = "pagination"
TOTAL_PAGES_KEY = "totalPages"
TOTAL_COUNT_KEY = "totalCount"
CURRENT_PAGE_LINK_KEY = "currentPage"

PAGE_PARAM = "page"
PAGE_SIZE_PARAM = "max"
MAX_PAGE_SIZE = 100  # [A]
ENABLED_PARAM = "enabled"
START_PARAM = "start"
END_PARAM = "end"
FILTER_WITH_DATE_PARAM = "filterWithDate"
DELETED_PARAM = "deleted"
SALES_TYPE_PARAM = "salesType"
ORDER_PARAM = "order"
CLOSED_PARAM = "closed"
INCLUDE_INVENTORY_PARAM = "includeInventory"  # [A]

DESCRIPTION_FIELD = "description"  # = handy_fields.FAMILY_DESCRIPTION, ZONE_DESCRIPTION
EXTERNAL_ID_FIELD = "externalId"  # = handy_fields.ORDER_EXTERNAL_ID

WINDOW_FORMAT = "%d/%m/%Y %H:%M:%S"  # dd/MM/yyyy HH:mm:ss, in the tenant's time zone
FILTER_WITH_DATE_VALUES = frozenset(
    {"dateCreated", "mobileDateCreated", "dateDeleted", "lastUpdated"}
)
SALES_TYPE_VALUES = frozenset({"PRESALE", "ROUTE"})
# ---------------------------------------------------------------------------------------------

# A list never has more pages than this; past it the server's paging is not to be trusted.
MAX_PAGES = 100_000
# A read whose count disagrees with the server's totalCount is read again, this many times in all.
COMPLETE_READ_ATTEMPTS = 2
# A window slice that does not fit in one page is cut so that each piece should fill at most
# 1/SLICE_HEADROOM of a page: orders are not spread evenly, and a piece that still overflows
# costs one more probe and a second cut.
SLICE_HEADROOM = 1.3


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class _Page:
    items: list[dict]
    total_count: int
    total_pages: int


def _record_key(record: Any, position: int) -> Any:
    """A record's identity for repeats: its id, or its position when it has none."""
    if isinstance(record, Mapping) and record.get("id") is not None:
        return ("id", str(record["id"]))
    return ("position", position)


def _asked(params: Mapping[str, Any]) -> str:
    """ " (asked start=…&page=3)" for error messages: our own parameters, never a secret."""
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f" (asked {query})" if query else ""


def _describe_call(template: str, params: Mapping[str, Any]) -> str:
    """ "GET /salesOrder?start=…&page=3" for messages: our own parameters, never a secret."""
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"GET {template}" + (f"?{query}" if query else "")
