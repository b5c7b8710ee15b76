"""Async client of Konfío Gestionix REST API v3 (see shared/spec/gestionix-api-v3.md).

Logs in lazily, sends `Company` on company-scoped calls, logs in again once on a 401.
Returns plain dicts and lists; raises only clients.errors exceptions. Which company and
sucursal are the tenant's (A1) is not its business: the caller lists them, chooses
(mappings.company) and sets `company_id`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any, Literal, Unpack
from urllib.parse import quote

from clients._http import ApiClient, ClientOptions
from clients.errors import (
    CredentialsError,
    PaginationError,
    Reauth,
    UnexpectedResponse,
    ValidationFailed,
)
from clients.secret_check import secret_problem

logger = logging.getLogger("clients.gestionix")

SYSTEM = "gestionix"
DocType = Literal["sales_order", "sale"]

# ---------------------------------------------------------------------------------------------
# Paths, headers, parameters and login fields of Gestionix API v3. [A] = assumed by the spec:
# correct them here (and in the sandbox) when the real API says otherwise. Record field names
# live in mappings/gestionix_fields.py; the document fields this client reads are repeated here.
# ---------------------------------------------------------------------------------------------
LOGIN_PATH = "/users/authentication"
LOGIN_USER_FIELD = "user"
LOGIN_PASSWORD_FIELD = "password"
ACCESS_TOKEN_FIELD = "access_token"
COMPANIES_PATH = "/users/companies"
BRANCHES_PATH = "/branch_offices/"
PRODUCTS_PATH = "/products"  # [A]
TAXES_PATH = "/taxes"  # [A]
CLIENTS_PATH = "/clients"  # [A]
SELLERS_PATH = "/sellers"  # [A]
DOCUMENT_PATHS: dict[str, str] = {"sales_order": "/sales_orders", "sale": "/sales"}  # [A]
DOCUMENT_ID_FIELDS: dict[str, str] = {"sales_order": "sales_order_id", "sale": "sale_id"}  # [A]
DOCUMENT_PATH_SUFFIX = "/{doc_id}"  # [A] DELETE /sales_orders/{doc_id}

COMPANY_HEADER = "Company"
BRANCH_ID_PARAM = "branch_id"  # [A]
REFERENCE_FIELD = "reference"  # [A] also the lookup's query parameter (= DOCUMENT_REFERENCE)

PAGE_PARAM = "page"  # [A]
PAGE_SIZE_PARAM = "page_size"  # [A]
MAX_PAGE_SIZE = 500  # [A]; a server may cap pages lower: only an empty page ends a list
# ---------------------------------------------------------------------------------------------

MAX_PAGES = 10_000


class GestionixClient(ApiClient):
    """Gestionix v3 for one tenant. Use as `async with GestionixClient(...) as gx:`."""

    SYSTEM = SYSTEM
    LOG = logger

    RATE_PER_MINUTE = 600
    MAX_CONCURRENCY = 8

    def __init__(
        self,
        base_url: str,
        user: Any,
        password: Any,
        *,
        tenant: str,
        company_id: int | None = None,
        page_size: int = MAX_PAGE_SIZE,
        **options: Unpack[ClientOptions],
    ) -> None:
        super().__init__(base_url, tenant=tenant, **options)
        self._user = self._usable_secret("the Gestionix user (user)", user, header=False)
        self._password = self._usable_secret(
            "the Gestionix password (password)", password, header=False
        )
        self.company_id = company_id  # sent as `Company`; None: only the user's calls are allowed
        self.page_size = max(1, min(int(page_size), MAX_PAGE_SIZE))
        self._access_token: str | None = None
        self._login_lock = asyncio.Lock()
        self.logins = 0

    def _secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self._password, self._access_token) if s)

    # -- login and the 401 dance --------------------------------------------------------------
    async def _login(self) -> None:
        core = self._ensure_core()
        body = {LOGIN_USER_FIELD: self._user, LOGIN_PASSWORD_FIELD: self._password}
        try:
            response, data = await core.request(
                "POST",
                LOGIN_PATH,
                LOGIN_PATH,
                json_body=body,
                idempotent=True,
                keep_error_body=False,
            )
        except (Reauth, ValidationFailed) as exc:
            raise CredentialsError(
                f"Gestionix refused the login of tenant {self.tenant!r} ({exc.message})",
                system=SYSTEM,
                status=exc.status,
                method="POST",
                path=LOGIN_PATH,
            ) from None
        token = data.get(ACCESS_TOKEN_FIELD) if isinstance(data, Mapping) else None
        if not isinstance(token, str) or secret_problem(token, header=True):
            # No snippet: a half-broken login answer may still carry a token.
            raise UnexpectedResponse(
                f"Gestionix login answered without a usable {ACCESS_TOKEN_FIELD!r} (missing, or "
                "not sendable in an HTTP header)",
                system=SYSTEM,
                status=response.status_code,
                method="POST",
                path=LOGIN_PATH,
            )
        self._access_token = token
        self.logins += 1
        logger.debug("tenant %s: logged in to Gestionix", self.tenant)

    async def _current_token(self) -> str:
        async with self._login_lock:
            if self._access_token is None:
                await self._login()
            assert self._access_token is not None
            return self._access_token

    async def _relogin(self, stale_token: str) -> None:
        async with self._login_lock:
            # Concurrent calls that all got 401 for the same token share one new login.
            if self._access_token in (None, stale_token):
                self._access_token = None
                await self._login()

    async def _call(
        self,
        method: str,
        template: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        company_scoped: bool = True,
        accept: tuple[int, ...] = (),
    ) -> tuple[int, Any]:
        """(status, decoded JSON) of one call, logging in as needed; 401 -> one re-login."""
        core = self._ensure_core()
        if company_scoped and self.company_id is None:
            raise RuntimeError(
                f"tenant {self.tenant!r}: {method} {template} needs the Gestionix company: list the "
                "companies and set company_id first (tasks.connect.resolve_company)"
            )
        token = await self._current_token()

        def headers(token_holder: list[str]) -> dict[str, str]:
            h = {"Authorization": f"Bearer {token_holder[0]}"}
            if company_scoped:
                h[COMPANY_HEADER] = str(self.company_id)
            return h

        holder = [token]

        async def send() -> tuple[Any, Any]:
            return await core.request(
                method,
                template,
                path,
                params=params,
                json_body=json_body,
                headers=lambda: headers(holder),
                accept=accept,
            )

        try:
            response, data = await send()
        except Reauth:
            logger.debug(
                "tenant %s: %s %s answered 401; logging in again", self.tenant, method, template
            )
            await self._relogin(token)
            holder[0] = await self._current_token()
            try:
                response, data = await send()
            except Reauth as exc:
                raise CredentialsError(
                    f"Gestionix answered 401 again right after a fresh login of tenant "
                    f"{self.tenant!r}: the user lost access or was revoked ({exc.message})",
                    system=SYSTEM,
                    status=401,
                    method=method,
                    path=path,
                ) from None
        return response.status_code, data

    async def _get_pages(
        self, template: str, params: Mapping[str, Any] | None = None, *, company_scoped: bool = True
    ) -> AsyncIterator[list[dict]]:
        """Bare-array pages until an EMPTY page. Gestionix reports no total, and a server may
        serve fewer records than `page_size` asks (a cap of its own): a short page proves
        nothing, only an empty one ends the list. A server that ignores `page` would answer
        the first page forever: the same first record twice raises instead."""
        size = self.page_size
        page, previous_first = 1, None
        while page <= MAX_PAGES:
            query = {**(params or {}), PAGE_PARAM: page, PAGE_SIZE_PARAM: size}
            _, items = await self._call(
                "GET", template, template, params=query, company_scoped=company_scoped
            )
            if not isinstance(items, list):
                raise UnexpectedResponse(
                    "expected a JSON array", system=SYSTEM, method="GET", path=template
                )
            if items and previous_first is not None and items[0] == previous_first:
                raise PaginationError(
                    f"page {page} starts with the same record as page {page - 1}: the server "
                    "seems to ignore 'page'; the list cannot be read reliably",
                    system=SYSTEM,
                    method="GET",
                    path=template,
                )
            if not items:
                return
            yield items
            previous_first, page = items[0], page + 1
        raise PaginationError(
            f"more than {MAX_PAGES} pages", system=SYSTEM, method="GET", path=template
        )

    async def _list(
        self, template: str, params: Mapping[str, Any] | None = None, *, company_scoped: bool = True
    ) -> list[dict]:
        out: list[dict] = []
        async for items in self._get_pages(template, params, company_scoped=company_scoped):
            out.extend(items)
        return out

    # -- companies and branches (chosen by mappings.company, A1) --------------------------------
    async def list_companies(self) -> list[dict]:
        """The user's companies: one bare array, not paged ([C] the login's own list)."""
        _, companies = await self._call("GET", COMPANIES_PATH, COMPANIES_PATH, company_scoped=False)
        if not isinstance(companies, list):
            raise UnexpectedResponse(
                "expected a JSON array", system=SYSTEM, method="GET", path=COMPANIES_PATH
            )
        return companies

    async def list_branches(self) -> list[dict]:
        return await self._list(BRANCHES_PATH)

    # -- catalog, customers, sellers ----------------------------------------------------------
    async def list_products(self, branch_id: int) -> list[dict]:
        return await self._list(PRODUCTS_PATH, {BRANCH_ID_PARAM: branch_id})

    def product_pages(self, branch_id: int) -> AsyncIterator[list[dict]]:
        """The branch's products one page at a time (a caller maps a page while the next one is
        read, and never holds the whole raw catalog)."""
        return self._get_pages(PRODUCTS_PATH, {BRANCH_ID_PARAM: branch_id})

    async def list_taxes(self) -> list[dict]:
        return await self._list(TAXES_PATH)

    async def list_clients(self, branch_id: int) -> list[dict]:
        return await self._list(CLIENTS_PATH, {BRANCH_ID_PARAM: branch_id})

    async def create_client(self, body: Mapping[str, Any]) -> dict:
        _, data = await self._call("POST", CLIENTS_PATH, CLIENTS_PATH, json_body=dict(body))
        return _require_object(data, "POST", CLIENTS_PATH)

    async def list_sellers(self) -> list[dict]:
        return await self._list(SELLERS_PATH)

    # -- documents: pedidos and ventas --------------------------------------------------------
    async def create_document(self, doc_type: DocType, body: Mapping[str, Any]) -> dict:
        """POST a pedido or venta; the answer plus "id". Not resent after a timeout or 5xx
        (it may have been created): the caller recovers by reference (RULES O8)."""
        path = _document_path(doc_type)
        _, data = await self._call("POST", path, path, json_body=dict(body))
        document = _require_object(data, "POST", path)
        return _with_id(document, doc_type, "POST", path)

    async def find_document_by_reference(self, doc_type: DocType, reference: str) -> dict | None:
        """The document carrying `reference`, or None. Several (should not happen): the
        oldest, with a warning."""
        documents = [
            d
            for d in await self.list_documents(doc_type, **{REFERENCE_FIELD: reference})
            if d.get(REFERENCE_FIELD) == reference  # in case the server ignores the filter
        ]
        if not documents:
            return None
        if len(documents) > 1:
            logger.warning(
                "tenant %s: %d Gestionix %s documents carry reference %r; using the oldest",
                self.tenant,
                len(documents),
                doc_type,
                reference,
            )
        return min(documents, key=lambda d: _sort_key(d["id"]))

    async def delete_document(
        self, doc_type: DocType, doc_id: int | str
    ) -> Literal["deleted", "gone"]:
        """204 -> "deleted"; 404 -> "gone" (RULES D3); 409 raises Conflict with the reason."""
        template = _document_path(doc_type) + DOCUMENT_PATH_SUFFIX
        path = template.format(doc_id=_quote_id(doc_id))
        status, _ = await self._call("DELETE", template, path, accept=(404,))
        return "gone" if status == 404 else "deleted"

    async def list_documents(self, doc_type: DocType, **filters: Any) -> list[dict]:
        path = _document_path(doc_type)
        return [_with_id(d, doc_type, "GET", path) for d in await self._list(path, filters)]


def _document_path(doc_type: str) -> str:
    try:
        return DOCUMENT_PATHS[doc_type]
    except KeyError:
        raise ValueError(
            f"doc_type must be one of {sorted(DOCUMENT_PATHS)}, got {doc_type!r}"
        ) from None


def _with_id(document: dict, doc_type: str, method: str, path: str) -> dict:
    id_field = DOCUMENT_ID_FIELDS[doc_type]
    doc_id = document.get(id_field, document.get("id"))
    if doc_id is None:
        raise UnexpectedResponse(
            f"Gestionix document without {id_field!r}", system=SYSTEM, method=method, path=path
        )
    return {**document, "id": doc_id}


def _require_object(data: Any, method: str, path: str) -> dict:
    if not isinstance(data, dict):
        raise UnexpectedResponse("expected a JSON object", system=SYSTEM, method=method, path=path)
    return data


def _quote_id(doc_id: int | str) -> str:
    text = str(doc_id).strip()
    if not text or "/" in text or text in (".", ".."):
        raise ValueError(f"invalid Gestionix document id {doc_id!r}")
    return quote(text, safe="")


def _sort_key(value: Any) -> tuple[int, Any]:
    try:
        return (0, int(value))
    except (TypeError, ValueError):
        return (1, str(value))
