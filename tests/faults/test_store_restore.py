"""O8 when the store is not the newest copy: restored from a backup taken before the last pushes,
the next order_push creates nothing twice (duplicate-reference rejection OFF) and rebuilds the
bindings of the orders pushed since the backup — on SQLite (file backup) and PostgreSQL
(pg_dump / pg_restore), the two procedures the README documents."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from flows.orders import order_push
from store import binder, dead_letters
from store.db import database_url, dispose_all
from tests.kit.fast_clients import fast_clients
from tests.kit.sandbox_orders import activate, by_reference, customer, order, seed_catalog
from tests.kit.tenants import make_tenant

pytestmark = [pytest.mark.flow, pytest.mark.faults]

POSTGRES_URL = os.environ.get("HGSYNC_TEST_POSTGRES_URL")
PG_BIN = Path("/usr/lib/postgresql/15/bin")


class SqliteBackup:
    def __init__(self, directory: Path) -> None:
        self.file = directory / "backup.db"

    def take(self) -> None:
        source = sqlite3.connect(database_url().removeprefix("sqlite:///"))
        with sqlite3.connect(self.file) as target:
            source.backup(target)  # consistent even with the WAL in use
        source.close()

    def restore(self) -> None:
        dispose_all()  # every connection closed, as when the service is stopped for a restore
        live = Path(database_url().removeprefix("sqlite:///"))
        for extra in (live.with_name(live.name + "-wal"), live.with_name(live.name + "-shm")):
            extra.unlink(missing_ok=True)
        shutil.copy(self.file, live)


class PostgresBackup:
    def __init__(self, directory: Path, url: str) -> None:
        self.file = directory / "backup.dump"
        self.url = url.replace("postgresql+psycopg://", "postgresql://")

    def take(self) -> None:
        subprocess.run([str(PG_BIN / "pg_dump"), "-Fc", "-f", str(self.file), self.url], check=True)

    def restore(self) -> None:
        dispose_all()
        subprocess.run(
            [str(PG_BIN / "pg_restore"), "--clean", "--if-exists", "-d", self.url, str(self.file)],
            check=True,
        )


BACKENDS = [pytest.param("sqlite", id="sqlite")]
BACKENDS.append(
    pytest.param(
        "postgresql",
        id="postgresql",
        marks=pytest.mark.skipif(
            not POSTGRES_URL or not (PG_BIN / "pg_dump").exists(),
            reason="HGSYNC_TEST_POSTGRES_URL or pg_dump missing",
        ),
    )
)


@pytest.fixture(params=BACKENDS)
def backup(request, tmp_path, monkeypatch):
    if request.param == "sqlite":
        yield SqliteBackup(tmp_path)
        return
    monkeypatch.setenv("HGSYNC_DATABASE_URL", POSTGRES_URL)
    yield PostgresBackup(tmp_path, POSTGRES_URL)
    dispose_all()


async def test_o8_store_restored_from_a_backup_taken_before_n_pushes_makes_no_duplicate(
    prefect_harness, sandbox, backup
):
    """O8: 6 orders pushed, backup, 10 more pushed (one of them edited away in Gestionix's
    view: its document deleted by hand, so only its Handy externalId remembers the push), 3 new
    ones taken; restore; the next run creates only the 3 new documents, binds the 9 others
    (bindings rebuilt, no create), and dead-letters the one whose document is gone instead of
    creating it a second time."""
    sb = sandbox
    sb.set_handy_knobs(rate_limit_per_minute=0)
    sb.set_gestionix_knobs(reject_duplicate_reference=False)
    tenant = make_tenant(sb)
    fast_clients(tenant.slug)
    codes = seed_catalog(sb, 4)
    customer(sb, "C-1", "Depósito El Sol")
    activate(tenant.slug)

    before = [order(sb, "C-1", [(codes[n % 4], n + 1)]) for n in range(6)]
    await order_push(tenant)
    backup.take()
    since_backup = [order(sb, "C-1", [(codes[n % 4], n + 2)]) for n in range(10)]
    await order_push(tenant)
    pushed = before + since_backup
    assert by_reference(sb) == {f"HANDY-{o['id']}": 1 for o in pushed}
    gone = since_backup[-1]
    gx = sb.gestionix.companies[92]
    doc_id = next(
        i for i, d in gx.documents["sales_order"].items() if d["reference"] == f"HANDY-{gone['id']}"
    )
    sb.gestionix.delete_document(
        gx, "sales_order", doc_id
    )  # deleted by hand in Gestionix after the push
    fresh = [order(sb, "C-1", [(codes[n % 4], 1)]) for n in range(3)]

    backup.restore()
    assert not binder.get_many(tenant.slug, "order", [str(o["id"]) for o in since_backup])
    creates = sb.gestionix.stats.calls["POST /sales_orders"]
    await order_push(tenant)

    assert sb.gestionix.stats.calls["POST /sales_orders"] - creates == len(fresh)
    survivors = before + since_backup[:-1] + fresh
    assert by_reference(sb) == {f"HANDY-{o['id']}": 1 for o in survivors}
    bindings = binder.get_many(tenant.slug, "order", [str(o["id"]) for o in survivors])
    assert {key: b.status for key, b in bindings.items()} == {
        str(o["id"]): "pushed" for o in survivors
    }
    for o in survivors:
        assert (
            sb.handy.orders[o["id"]]["externalId"]
            == bindings[str(o["id"])].gestionix_key.split(":")[1]
        )
    letters = {
        letter.key: letter.reason for letter in dead_letters.open_letters(tenant.slug, "order")
    }
    assert list(letters) == [str(gone["id"])] and "not created again" in letters[str(gone["id"])]
