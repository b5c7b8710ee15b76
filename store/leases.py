"""Per-tenant named leases (S3): order push and deletion sync of one tenant never interleave.

A lease has an expiry so a killed holder cannot block the tenant forever; a long run renews it.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError

from store.db import session_scope
from store.models import Lease, utcnow


class LeaseHeld(Exception):
    """Someone else holds the lease; the caller should give up (fail fast), not wait."""


@dataclass
class LeaseHandle:
    tenant: str
    name: str
    holder: str
    ttl: timedelta
    url: str | None = None

    def renew(self) -> None:
        """Push the expiry forward; raises LeaseHeld when the lease was lost meanwhile."""
        with session_scope(self.url) as session:
            result = session.exec(
                update(Lease)
                .where(Lease.tenant == self.tenant, Lease.name == self.name, Lease.holder == self.holder)
                .values(expires_at=utcnow() + self.ttl)
            )
            if result.rowcount != 1:
                raise LeaseHeld(f"tenant {self.tenant}: lease {self.name!r} was lost (expired and taken)")


def _holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def acquire(
    tenant: str, name: str, ttl: timedelta, *, holder: str | None = None, url: str | None = None
) -> LeaseHandle:
    holder = holder or _holder_id()
    now = utcnow()
    try:
        with session_scope(url) as session:
            session.add(Lease(tenant=tenant, name=name, holder=holder, expires_at=now + ttl))
        return LeaseHandle(tenant, name, holder, ttl, url)
    except IntegrityError:
        pass
    # Someone has (or had) it: take it over only if it has expired, atomically.
    with session_scope(url) as session:
        result = session.exec(
            update(Lease)
            .where(Lease.tenant == tenant, Lease.name == name, Lease.expires_at < now)
            .values(holder=holder, expires_at=now + ttl)
        )
        taken = result.rowcount == 1
        current = None if taken else session.get(Lease, (tenant, name))
    if taken:
        return LeaseHandle(tenant, name, holder, ttl, url)
    until = _fmt(current.expires_at) if current else "unknown"
    raise LeaseHeld(
        f"tenant {tenant}: lease {name!r} is held by {current.holder if current else '?'} until {until}"
    )


def release(handle: LeaseHandle) -> None:
    with session_scope(handle.url) as session:
        session.exec(
            delete(Lease).where(
                Lease.tenant == handle.tenant, Lease.name == handle.name, Lease.holder == handle.holder
            )
        )


@contextmanager
def lease(
    tenant: str,
    name: str,
    ttl: timedelta = timedelta(minutes=15),
    *,
    url: str | None = None,
) -> Iterator[LeaseHandle]:
    """Hold `name` for `tenant` for the block; LeaseHeld at once when another holder has it.
    (Waiting for a holder to finish is the flows' business: tasks/documents.tenant_lease polls
    without blocking the event loop.)"""
    handle = acquire(tenant, name, ttl, url=url)
    try:
        yield handle
    finally:
        release(handle)


def _fmt(value: datetime) -> str:
    value = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return value.isoformat(timespec="seconds")
