"""Handy REST API v2 field names (shared/spec/handy-api-v2.md): the one place to correct them.

[A] = assumed by the spec, not confirmed. Paths, query parameters and list keys live in
clients/handy.py; the few fields the client writes itself (externalId, description of a new
family or zone) are repeated there with a pointer here. The sandbox does not import this: it
stands in for Handy and must not agree with us by construction.

Usage: `from mappings import handy_fields as H`, then `H.ORDER_DATE_CREATED`.
"""

from __future__ import annotations

ID = "id"  # every record's numeric id

# -- products ("Products" [C]; stock [A])
PRODUCT_CODE = "code"
PRODUCT_DESCRIPTION = "description"
PRODUCT_FAMILY = "family"
PRODUCT_PRICE = "price"  # tax included
PRODUCT_BASE_PRICE = "basePrice"  # before tax
PRODUCT_TAX = "tax"
PRODUCT_TAX_OPTIONAL = "taxOptional"
PRODUCT_ENABLED = "enabled"
PRODUCT_QUANTITY = "quantity"  # free-use (warehouse) stock [A]
TAX_NAME = "name"
TAX_AMOUNT = "amount"  # percent
FAMILY_ID = "id"
FAMILY_DESCRIPTION = "description"  # families are [A]

# -- customers ("Customers and zones"; email, phoneNumber, rfc, sellers [A]) and zones [A]
CUSTOMER_CODE = "code"
CUSTOMER_DESCRIPTION = "description"  # trade name
CUSTOMER_BUSINESS_NAME = "businessName"  # razón social
CUSTOMER_ADDRESS = "address"
CUSTOMER_NEIGHBORHOOD = "neighborhood"
CUSTOMER_CITY = "city"
CUSTOMER_POSTAL_CODE = "postalCode"
CUSTOMER_RFC = "rfc"
CUSTOMER_EMAIL = "email"
CUSTOMER_PHONE = "phoneNumber"
CUSTOMER_ENABLED = "enabled"
CUSTOMER_ZONE = "zone"
CUSTOMER_SELLERS = "sellers"  # user ids
ZONE_DESCRIPTION = "description"

# -- users and routes ("Users and routes"; a route's inventory [A])
USER_NAME = "name"
USER_USERNAME = "username"  # the login e-mail
USER_EMAIL = "email"
USER_ENABLED = "enabled"
ROUTE_CLOSED = "closed"
ROUTE_INVENTORY = "inventory"
INVENTORY_PRODUCT = "product"  # a code
INVENTORY_QUANTITY = "quantity"

# -- sales orders and their items ("Sales orders" [C]; "Venta en ruta" [A])
ORDER_ID = "id"
ORDER_DATE_CREATED = "dateCreated"  # server receipt time, UTC
ORDER_SALES_TYPE = "salesType"
ORDER_ITEMS = "items"
ORDER_CUSTOMER = "customer"  # embedded customer (CUSTOMER_* fields)
ORDER_CREATED_BY = "createdBy"  # embedded user (USER_* fields)
ORDER_SELLER_COMMENT = "sellerComment"
ORDER_EDITED_FROM = "editedFrom"
ORDER_TOTAL_SALES = "totalSales"  # with tax
ORDER_DELETED = "deleted"
ORDER_EXTERNAL_ID = "externalId"  # a string of digits [A]
ITEM_ID = "id"
ITEM_PRODUCT = "product"  # embedded product (PRODUCT_CODE ...)
ITEM_QUANTITY = "quantity"
ITEM_PRICE = "price"  # unit price after discount, tax included
ITEM_IS_RETURN = "isReturn"
ITEM_IS_REWARD = "isReward"
ITEM_PRICE_TYPE = "priceType"
PRICE_TYPE_REWARD = "REWARD"
