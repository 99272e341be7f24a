"""Widget settings, survey configuration and the survey contact log.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "widget_settings",
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("widget", sa.String(length=40), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("placement", sa.String(length=20), nullable=False),
        sa.Column("texts", sa.JSON(), nullable=False),
        sa.Column("colours", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("shop_id", "widget", name=op.f("pk_widget_settings")),
    )
    op.create_table(
        "widget_surveys",
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("survey_id", sa.String(length=40), nullable=False),
        sa.Column("survey_type", sa.String(length=10), nullable=False),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("delay_days", sa.Integer(), nullable=False),
        sa.Column("cap_days", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("question", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("shop_id", "survey_id", name=op.f("pk_widget_surveys")),
    )
    op.create_table(
        "survey_contacts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("survey_id", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=220), nullable=False),
        sa.Column("reference", sa.String(length=220), nullable=False),
        sa.Column("user_id", sa.String(length=200), nullable=True),
        sa.Column("order_id", sa.String(length=200), nullable=True),
        sa.Column("shown_at", sa.DateTime(), nullable=False),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_contacts")),
    )
    with op.batch_alter_table("survey_contacts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_survey_contacts_shop_subject", ["shop_id", "subject", "shown_at"], unique=False
        )
        batch_op.create_index(
            "ix_survey_contacts_shop_survey_ref", ["shop_id", "survey_id", "reference"], unique=True
        )


def downgrade() -> None:
    op.drop_table("survey_contacts")
    op.drop_table("widget_surveys")
    op.drop_table("widget_settings")
