"""The follower keeps its place in the projections instead of deleting backlog rows.

- ``follower_cursor``: the last backlog id projected (SQLite; PostgreSQL still deletes what it
  claims and leaves it at 0).
- ``projection_failures``: a batch's failed attempts, formerly columns of the backlog; batches
  set aside move there.
- ``rec_totals``: the recommendations' shop-wide totals, formerly rows of ``counters``.
- ``projection_backlog`` gets AUTOINCREMENT on SQLite: an id at or below the cursor is never
  handed out again.

On SQLite, ``db.upgrade`` then moves every projection table into the projection file.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# cx_sdk.recommend.projector's BASKETS, VIEW_SESSIONS and RECOUNT.
REC_TOTALS = ("rec_baskets", "rec_view_sessions", "rec_recount")
SET_ASIDE = 5  # cx_sdk.server.follower.MAX_ATTEMPTS


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table(
        "follower_cursor",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follower_cursor")),
    )
    bind.execute(sa.text("INSERT INTO follower_cursor (id, position) VALUES (1, 0)"))
    op.create_table(
        "projection_failures",
        sa.Column("backlog_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("failed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("backlog_id", name=op.f("pk_projection_failures")),
    )
    bind.execute(
        sa.text(
            "INSERT INTO projection_failures (backlog_id, shop_id, attempts, last_error, "
            "failed_at) SELECT id, shop_id, attempts, last_error, created_at "
            "FROM projection_backlog WHERE attempts > 0"
        )
    )
    with op.batch_alter_table(
        "projection_backlog",
        recreate="always" if bind.dialect.name == "sqlite" else "auto",
        table_kwargs={"sqlite_autoincrement": True},
    ) as batch_op:
        batch_op.drop_column("last_error")
        batch_op.drop_column("attempts")
    op.create_table(
        "rec_totals",
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("shop_id", "name", name=op.f("pk_rec_totals")),
    )
    names: sa.BindParameter[list[str]] = sa.bindparam("names", list(REC_TOTALS), expanding=True)
    bind.execute(
        sa.text(
            "INSERT INTO rec_totals (shop_id, name, value) "
            "SELECT shop_id, name, value FROM counters WHERE name IN :names"
        ).bindparams(names)
    )
    bind.execute(sa.text("DELETE FROM counters WHERE name IN :names").bindparams(names))


def downgrade() -> None:
    bind = op.get_bind()
    names: sa.BindParameter[list[str]] = sa.bindparam("names", list(REC_TOTALS), expanding=True)
    bind.execute(
        sa.text(
            "INSERT INTO counters (shop_id, name, value) "
            "SELECT shop_id, name, value FROM rec_totals WHERE name IN :names"
        ).bindparams(names)
    )
    op.drop_table("rec_totals")
    with op.batch_alter_table("projection_backlog") as batch_op:
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("last_error", sa.Text(), nullable=True))
    bind.execute(
        sa.text(
            "UPDATE projection_backlog SET attempts = (SELECT attempts FROM projection_failures "
            "WHERE backlog_id = projection_backlog.id), last_error = (SELECT last_error FROM "
            "projection_failures WHERE backlog_id = projection_backlog.id) WHERE id IN "
            "(SELECT backlog_id FROM projection_failures)"
        )
    )
    op.drop_table("projection_failures")
    op.drop_table("follower_cursor")
