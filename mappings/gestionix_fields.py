"""Konfío Gestionix REST API v3 field names (shared/spec/gestionix-api-v3.md): the one place to
correct them.

[A] = assumed by the spec (most of the catalog, customers and documents), [C] = confirmed.
Paths, query parameters, headers and the login fields live in clients/gestionix.py (which
imports nothing of ours); the document fields it reads itself (the id fields, reference) are
repeated there with a pointer here. The sandbox does not import this.

Usage: `from mappings import gestionix_fields as G`, then `G.CLIENT_COMMERCIAL_NAME`.
"""

from __future__ import annotations

# -- companies and branches [C]
COMPANY_ID = "company_id"
COMPANY_EMITTER = "emitter"
EMITTER_NAMES = ("business_name", "commercial_name")
BRANCH_ID = "branch_id"
BRANCH_NAME = "name"
BRANCH_ACTIVE = "active"

# -- catalog [A]
PRODUCT_ID = "product_id"
PRODUCT_KEY = "key"  # the clave
PRODUCT_NAME = "name"
PRODUCT_CATEGORY = "category"
CATEGORY_NAME = "name"
PRODUCT_FOR_SALE = "for_sale"
PRODUCT_ACTIVE = "active"
PRODUCT_PRICE = "price"  # before taxes
PRODUCT_TAXES = "taxes"  # TAX_* entries, possibly only their id
PRODUCT_STOCK = "stock"
STOCK_BRANCH_ID = "branch_id"
STOCK_QUANTITY = "quantity"
TAX_ID = "tax_id"
TAX_NAME = "name"
TAX_RATE = "rate"  # a fraction: 0.16 = 16 %
TAX_TYPE = "type"  # TAX_TRANSFERRED | "withheld"
TAX_FACTOR = "factor"  # TAX_FACTOR_RATE | "fixed"
TAX_SAT_CODE = "sat_code"  # [A] "its SAT code where given"
TAX_TRANSFERRED = "transferred"
TAX_WITHHELD = "withheld"
TAX_FACTOR_RATE = "rate"
TAX_FACTOR_FIXED = "fixed"

# -- clients and sellers [A]
CLIENT_ID = "client_id"
CLIENT_COMMERCIAL_NAME = "commercial_name"
CLIENT_BUSINESS_NAME = "business_name"
CLIENT_TAX_ID = "tax_id"  # the RFC
CLIENT_ACTIVE = "active"
CLIENT_BRANCH_ID = "branch_id"
CLIENT_EMAIL = "email"
CLIENT_PHONE = "phone"
CLIENT_SELLER = "seller"  # embedded seller (SELLER_* fields) or null
CLIENT_ADDRESS = "address"
ADDRESS_STREET = "street"
ADDRESS_EXTERIOR = "exterior_number"
ADDRESS_INTERIOR = "interior_number"
ADDRESS_SUBURB = "suburb"
ADDRESS_ZIP = "zip_code"
ADDRESS_CITY = "city"
SELLER_ID = "seller_id"
SELLER_NAME = "name"
SELLER_EMAIL = "email"
SELLER_ACTIVE = "active"

# -- documents: pedidos and ventas [A] (the client adds "id" from sales_order_id / sale_id)
DOCUMENT_ID = "id"
DOCUMENT_BRANCH_ID = "branch_id"
DOCUMENT_CLIENT_ID = "client_id"
DOCUMENT_DATE = "date"
DOCUMENT_SELLER_ID = "seller_id"
DOCUMENT_REFERENCE = "reference"  # also the lookup's query parameter
DOCUMENT_OBSERVATIONS = "observations"
DOCUMENT_ITEMS = "items"
DOCUMENT_TOTAL = "total"
DOCUMENT_FOLIO = "folio"
DOCUMENT_SERIE = "serie"
DOCUMENT_STATUS = "status"
DOCUMENT_LOCKED_FLAGS = ("invoiced", "stamped")  # True: no longer deletable
LINE_PRODUCT_ID = "product_id"
LINE_QUANTITY = "quantity"
LINE_UNIT_PRICE = "unit_price"
LINE_DISCOUNT = "discount"
LINE_TAXES = "taxes"  # [{TAX_ID: ...}]
FILTER_BRANCH = "branch_id"  # document list filters
FILTER_DATE_FROM = "date_from"
FILTER_DATE_TO = "date_to"
