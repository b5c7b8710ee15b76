"""The initial store: bindings, cursors, leases, runs and their items, dead letters, left-out
records, as SQLModel's create_all made them before Alembic.

A store made before Alembic has all (or, if older, some) of these tables: each table and index
is created only when missing, so upgrading such a store keeps its rows and records it at this
revision (store/schema.py).

Revision ID: 0001
Revises:
Create Date: 2026-11-30

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "binding",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("handy_key", sa.String(length=255), nullable=False),
        sa.Column("gestionix_key", sa.String(length=255), nullable=True),
        sa.Column("fingerprint", sa.String(length=128), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant", "entity", "gestionix_key", name="uq_binding_gestionix"),
        sa.UniqueConstraint("tenant", "entity", "handy_key", name="uq_binding_handy"),
        if_not_exists=True,
    )
    op.create_index(
        op.f("ix_binding_tenant"), "binding", ["tenant"], unique=False, if_not_exists=True
    )
    op.create_table(
        "cursor",
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("stream", sa.String(length=64), nullable=False),
        sa.Column("value", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "stream"),
        if_not_exists=True,
    )
    op.create_table(
        "deadletter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("reason", sa.String(length=2000), nullable=False),
        sa.Column("retry", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant", "entity", "key", name="uq_dead_letter"),
        if_not_exists=True,
    )
    op.create_index(
        op.f("ix_deadletter_tenant"), "deadletter", ["tenant"], unique=False, if_not_exists=True
    )
    op.create_table(
        "lease",
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=255), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "name"),
        if_not_exists=True,
    )
    op.create_table(
        "leftout",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("reason_code", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=2000), nullable=False),
        sa.Column("gestionix_id", sa.String(length=64), nullable=True),
        sa.Column("since_run_id", sa.Integer(), nullable=True),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_run_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant", "entity", "key", name="uq_left_out"),
        if_not_exists=True,
    )
    op.create_index(
        op.f("ix_leftout_tenant"), "leftout", ["tenant"], unique=False, if_not_exists=True
    )
    op.create_table(
        "syncrun",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("flow", sa.String(length=64), nullable=False),
        sa.Column("flow_run_id", sa.String(length=64), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("summary", sa.String(length=4000), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        if_not_exists=True,
    )
    op.create_index(
        op.f("ix_syncrun_tenant"), "syncrun", ["tenant"], unique=False, if_not_exists=True
    )
    op.create_table(
        "runitem",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=2000), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["syncrun.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        if_not_exists=True,
    )
    op.create_index(
        op.f("ix_runitem_run_id"), "runitem", ["run_id"], unique=False, if_not_exists=True
    )
    op.create_index(
        op.f("ix_runitem_tenant"), "runitem", ["tenant"], unique=False, if_not_exists=True
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f("ix_runitem_tenant"), table_name="runitem")
    op.drop_index(op.f("ix_runitem_run_id"), table_name="runitem")
    op.drop_table("runitem")
    op.drop_index(op.f("ix_syncrun_tenant"), table_name="syncrun")
    op.drop_table("syncrun")
    op.drop_index(op.f("ix_leftout_tenant"), table_name="leftout")
    op.drop_table("leftout")
    op.drop_table("lease")
    op.drop_index(op.f("ix_deadletter_tenant"), table_name="deadletter")
    op.drop_table("deadletter")
    op.drop_table("cursor")
    op.drop_index(op.f("ix_binding_tenant"), table_name="binding")
    op.drop_table("binding")
