"""RULES A1: the tenant's Gestionix company and sucursal, chosen by name among those the user
sees, pure. Names are compared with normalize_name (case, accents and spaces ignored); a name
that matches nothing, or several, is never guessed: NotChosen lists what exists (A4)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mappings import gestionix_fields as G
from mappings.names import normalize_name


class NotChosen(ValueError):
    """The configured company or sucursal matches none, or several, of those that exist; the
    message lists them. A tenant's configuration error: the run stops."""


def choose_company(
    companies: Sequence[Mapping[str, Any]], wanted: int | str | None, tenant: str
) -> int:
    """The id to send as `Company`: the configured id; else the company whose emitter business or
    commercial name is `wanted`; else, with nothing configured, the user's only company."""
    listing = ", ".join(_company_label(c) for c in companies) or "none"
    if wanted is None or (isinstance(wanted, str) and not wanted.strip()):
        if len(companies) == 1:
            return int(companies[0][G.COMPANY_ID])
        raise NotChosen(
            f"tenant {tenant!r}: no Gestionix company configured and the user sees "
            f"{len(companies)} companies: {listing}"
        )
    matches: list[Mapping[str, Any]] = []
    if isinstance(wanted, int) or str(wanted).strip().isdigit():
        for company in companies:
            if str(company.get(G.COMPANY_ID)) == str(wanted).strip():
                return int(company[G.COMPANY_ID])
    else:
        key = normalize_name(wanted)
        matches = [c for c in companies if key in {normalize_name(n) for n in _emitter_names(c)}]
        if len(matches) == 1:
            return int(matches[0][G.COMPANY_ID])
    problem = "matches several companies" if matches else "is not among the user's companies"
    raise NotChosen(f"tenant {tenant!r}: Gestionix company {wanted!r} {problem}: {listing}")


def choose_branch(branches: Sequence[Mapping[str, Any]], name: str, company_id: int | None) -> dict:
    """The sucursal named `name`; of several with that name, the only active one."""
    wanted = normalize_name(name)
    matches = [b for b in branches if wanted and normalize_name(b.get(G.BRANCH_NAME)) == wanted]
    if len(matches) > 1:
        matches = [b for b in matches if b.get(G.BRANCH_ACTIVE, True)] or matches
    if len(matches) == 1:
        return dict(matches[0])
    existing = ", ".join(repr(b.get(G.BRANCH_NAME)) for b in branches) or "none"
    if not matches:
        raise NotChosen(
            f"Gestionix branch {name!r} not found in company {company_id}; existing branches: {existing}"
        )
    raise NotChosen(
        f"Gestionix branch {name!r} matches {len(matches)} branches of company {company_id}; "
        f"existing branches: {existing}"
    )


def _emitter_names(company: Mapping[str, Any]) -> list[Any]:
    emitter = company.get(G.COMPANY_EMITTER) or {}
    return [emitter.get(field) for field in G.EMITTER_NAMES if emitter.get(field)]


def _company_label(company: Mapping[str, Any]) -> str:
    return f"{company.get(G.COMPANY_ID)} ({' / '.join(_emitter_names(company)) or 'no name'})"
