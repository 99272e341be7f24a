"""Co-purchase counts are weighted by basket size from now on: shops whose counts were stored
unweighted are marked for ``cx recs rebuild`` (the server logs it until the rebuild ran).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

MARK = "rec_recount"  # cx_sdk.recommend.projector.RECOUNT


def upgrade() -> None:
    op.get_bind().execute(
        sa.text(
            "INSERT INTO counters (shop_id, name, value) "
            "SELECT DISTINCT shop_id, :mark, 1 FROM rec_pairs WHERE kind = 'b'"
        ),
        {"mark": MARK},
    )


def downgrade() -> None:
    op.get_bind().execute(sa.text("DELETE FROM counters WHERE name = :mark"), {"mark": MARK})
