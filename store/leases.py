"""Per-tenant named leases (S3): order push and deletion sync of one tenant never interleave.

A lease has an expiry so a dead or frozen holder cannot block the tenant for long; its holder
renews it while alive. Every time comparison uses the DATABASE's clock (store.db.database_now),
never the worker's, so a worker whose clock runs ahead cannot take a live lease.

The holder id is unique per acquisition and serves as the fencing token: `fence()` checks, in
the caller's own transaction, that the lease is still this holder's and not expired, and locks
the lease row until that transaction commits, so a takeover cannot slip between the check and
the rows written with it (intents and bindings of orders, O8).
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from store.db import Store, database_now, session_scope
from store.models import Lease

# The one lease flows share today (S3): order push and deletion sync of a tenant, by audit name.
ORDERS_LEASE = "orders"
ORDERS_LEASE_FLOWS = ("orders", "deletions")


class LeaseHeld(Exception):
    """Someone else holds the lease; the caller should give up (fail fast), not wait."""


class LeaseLost(LeaseHeld):
    """This holder no longer holds its lease (expired, or taken over): it must write nothing more."""


@dataclass
class LeaseHandle:
    tenant: str
    name: str
    holder: str  # unique per acquisition: the fencing token
    ttl: timedelta
    store: Store | None = None

    def renew(self) -> None:
        """Push the expiry forward (database clock); LeaseLost once it has expired or another
        holder has it: an expired lease is never revived (someone may be taking it over)."""
        with session_scope(self.store) as session:
            now = database_now(session)
            if not _update_if_held(session, self, now, expires_at=now + self.ttl):
                raise LeaseLost(
                    f"tenant {self.tenant}: lease {self.name!r} was lost (expired or taken)"
                )


def fence(session: Session, handle: LeaseHandle) -> None:
    """Inside the caller's transaction: LeaseLost unless `handle` still holds its lease and it has
    not expired by the database's clock. The no-op UPDATE locks the lease row until the caller
    commits, so a takeover waits for the rows written under this check."""
    if not _update_if_held(session, handle, database_now(session), holder=handle.holder):
        raise LeaseLost(
            f"tenant {handle.tenant}: lease {handle.name!r} is no longer held by this run "
            "(expired or taken over); nothing more is written"
        )


def _update_if_held(session: Session, handle: LeaseHandle, now: datetime, **values: Any) -> bool:
    """Set `values` on the lease row if `handle` still holds it and it has not expired by `now`;
    whether it did."""
    result = session.exec(
        update(Lease)
        .where(
            Lease.tenant == handle.tenant,
            Lease.name == handle.name,
            Lease.holder == handle.holder,
            Lease.expires_at > now,
        )
        .values(**values)
    )
    return result.rowcount == 1


def _holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def acquire(
    tenant: str, name: str, ttl: timedelta, *, holder: str | None = None, store: Store | None = None
) -> LeaseHandle:
    holder = holder or _holder_id()
    try:
        with session_scope(store) as session:
            now = database_now(session)
            session.add(Lease(tenant=tenant, name=name, holder=holder, expires_at=now + ttl))
        return LeaseHandle(tenant, name, holder, ttl, store)
    except IntegrityError:
        pass
    # Someone has (or had) it: take it over only if it has expired by the database's clock.
    with session_scope(store) as session:
        now = database_now(session)
        result = session.exec(
            update(Lease)
            .where(Lease.tenant == tenant, Lease.name == name, Lease.expires_at < now)
            .values(holder=holder, expires_at=now + ttl)
        )
        taken = result.rowcount == 1
        current = None if taken else session.get(Lease, (tenant, name))
    if taken:
        return LeaseHandle(tenant, name, holder, ttl, store)
    until = _fmt(current.expires_at) if current else "unknown"
    raise LeaseHeld(
        f"tenant {tenant}: lease {name!r} is held by {current.holder if current else '?'} until {until}"
    )


def release(handle: LeaseHandle) -> None:
    with session_scope(handle.store) as session:
        session.exec(
            delete(Lease).where(
                Lease.tenant == handle.tenant,
                Lease.name == handle.name,
                Lease.holder == handle.holder,
            )
        )


def live(tenant: str, name: str, *, store: Store | None = None) -> bool:
    """True when someone holds `name` for `tenant` and it has not expired (database clock)."""
    with session_scope(store) as session:
        row = session.get(Lease, (tenant, name))
        return row is not None and _aware(row.expires_at) > database_now(session)


@contextmanager
def lease(
    tenant: str,
    name: str,
    ttl: timedelta = timedelta(minutes=2),
    *,
    store: Store | None = None,
) -> Iterator[LeaseHandle]:
    """Hold `name` for `tenant` for the block; LeaseHeld at once when another holder has it.
    (Waiting, the heartbeat and fencing are the flows' business: tasks/fencing.py.)"""
    handle = acquire(tenant, name, ttl, store=store)
    try:
        yield handle
    finally:
        release(handle)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _fmt(value: datetime) -> str:
    return _aware(value).isoformat(timespec="seconds")
