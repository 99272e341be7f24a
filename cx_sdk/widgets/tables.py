"""The widgets' tables, registered on the collector's metadata.

Every table has ``shop_id``; ``survey_contacts`` holds a customer's answers and carries
``user_id`` and ``order_id``, so the collector's erase and export reach it without knowing it.
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, DateTime, Index, Integer, String, Table

from ..server.tables import BigId, metadata

widget_settings = Table(
    "widget_settings",
    metadata,
    Column("shop_id", String(40), primary_key=True),
    Column("widget", String(40), primary_key=True),
    Column("enabled", Boolean, nullable=False),
    Column("placement", String(20), nullable=False),
    # {"de": {"title": …, "intro": …}, "en": {…}}; empty means the catalog's default text.
    Column("texts", JSON, nullable=False),
    Column("colours", JSON, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

widget_surveys = Table(
    "widget_surveys",
    metadata,
    Column("shop_id", String(40), primary_key=True),
    Column("survey_id", String(40), primary_key=True),
    Column("survey_type", String(10), nullable=False),
    Column("trigger", String(20), nullable=False),
    Column("delay_days", Integer, nullable=False),
    Column("cap_days", Integer, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("question", JSON, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    # RFM personas the survey is limited to (none: everyone).
    Column("segments", JSON, nullable=True),
)

# One row per survey shown to a customer: the frequency cap and "answered once" read it.
survey_contacts = Table(
    "survey_contacts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("shop_id", String(40), nullable=False),
    Column("survey_id", String(40), nullable=False),
    # "u:<user id>", "a:<anonymous id>" or "e:<email hash>": who the cap applies to.
    Column("subject", String(220), nullable=False),
    # The order or conversation the survey asks about.
    Column("reference", String(220), nullable=False),
    Column("user_id", String(200), nullable=True),
    Column("order_id", String(200), nullable=True),
    Column("shown_at", DateTime, nullable=False),
    Column("answered_at", DateTime, nullable=True),
    Column("score", Integer, nullable=True),
    Index("ix_survey_contacts_shop_subject", "shop_id", "subject", "shown_at"),
    Index("ix_survey_contacts_shop_survey_ref", "shop_id", "survey_id", "reference", unique=True),
)
