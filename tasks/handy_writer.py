"""One Handy record writer for products and customers (RULES P8, C6, X2).

The writer holds what both entities do the same way; `RecordWrites` (one class per entity, in
tasks/catalog.py and tasks/customers.py) holds the bodies, calls, bindings and audit lines:
  create   -> 422 "code exists" (or 409) -> read the record, adopt it (no duplicate; a crash
              before binding, or a record made by hand with that code);
  update   -> 404 -> created again when the entity wants it (deleted by hand in Handy);
  success  -> bound, in batches of `bind_every`, and marked done.

Retryable policy (one for both entities): a `Permanent` error fails that record only (audited,
marked done; the next run plans it again). Anything else (a `Retryable` after the client's own
budget, a `Fatal`, a bug) stops the batch: the records in flight are cancelled, every success so
far is bound, and the error fails the Prefect task, whose retries (`RETRY_ON_OUTAGE`, Retryable
only) run the batch again skipping what is done; a create that was in flight meets its code and
is adopted. Chosen because nothing is lost (done records are never redone, in-flight ones are
adopted) and it is observable: a retry is a task-run state in Prefect, and an outage that
outlasts the retries fails the run with the record's error, instead of a row per record in an
audit that reports the run as completed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Generic, Protocol, TypeVar

from clients.errors import Conflict, NotFound, Permanent, ValidationFailed
from tasks.concurrency import run_bounded

CREATE = "create"


def code_taken(error: Permanent, code_field: str) -> bool:
    """A create refused because the code already exists: 409, or 422 naming the code field."""
    return isinstance(error, Conflict) or any(
        str(fe.get("field") or "") == code_field for fe in error.field_errors
    )


class Write(Protocol):
    """What the writer needs of one entity's write: its action, its Handy code, whether done."""

    action: str
    done: bool

    @property
    def key(self) -> str: ...


W = TypeVar("W", bound=Write)


class RecordWrites(Protocol[W]):
    """The entity's part: Handy calls and bodies, bindings and audit lines."""

    code_field: str  # the field Handy names when it refuses a create for a taken code

    async def create(self, write: W) -> None:
        """POST the record (raises what Handy answered)."""

    async def fetch(self, code: str) -> dict[str, Any]:
        """GET the record with this code (NotFound when there is none)."""

    async def adopt(self, write: W, record: dict[str, Any]) -> None:
        """The code exists in Handy as `record`: bring it to the desired content."""

    async def update(self, write: W) -> None:
        """Write an existing record (update, enable, disable, stock); NotFound when it is gone."""

    async def missing(self, write: W) -> bool:
        """The record is gone from Handy: True to create it again, False when nothing is due."""

    async def bind(self, done: list[W]) -> None:
        """Bind successes (off the event loop) and count them (the writer marks them done)."""

    def failed(self, write: W, error: Permanent) -> None:
        """Audit a record Handy refused for good."""


class HandyRecordWriter(Generic[W]):
    """Runs one batch of an entity's writes concurrently; see the module docstring."""

    def __init__(self, writes: RecordWrites[W], *, concurrency: int, bind_every: int = 1) -> None:
        self.writes = writes
        self.concurrency = concurrency
        self.bind_every = bind_every
        self.pending: list[W] = []

    async def create(self, write: W) -> None:
        try:
            await self.writes.create(write)
        except (ValidationFailed, Conflict) as refused:
            if not code_taken(refused, self.writes.code_field):
                raise
            try:
                record = await self.writes.fetch(write.key)
            except NotFound:
                raise refused from None
            await self.writes.adopt(write, record)

    async def apply(self, write: W) -> None:
        if write.action == CREATE:
            await self.create(write)
            return
        try:
            await self.writes.update(write)
        except NotFound:
            if await self.writes.missing(write):
                await self.create(write)

    async def flush(self) -> None:
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        await self.writes.bind(batch)
        for write in batch:
            write.done = True

    async def one(self, write: W) -> None:
        try:
            await self.apply(write)
        except Permanent as error:
            write.done = True  # reported; the next run plans it again
            self.writes.failed(write, error)
            return
        self.pending.append(write)
        if len(self.pending) >= self.bind_every:
            await self.flush()

    async def run(self, writes: Iterable[W]) -> None:
        """Every write not done yet; what succeeded stays bound, whatever stopped the batch."""
        try:
            await run_bounded([w for w in writes if not w.done], self.one, self.concurrency)
        finally:
            await self.flush()
