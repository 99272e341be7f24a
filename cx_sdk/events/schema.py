"""JSON Schema export, so backends in PHP or Node validate against the same catalog."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from .catalog import CATALOG
from .envelope import Alias, Identify, Message, Page, Track

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def schema_for(model: type[Message]) -> dict[str, Any]:
    schema = model.model_json_schema(by_alias=True, mode="validation")
    event = model.model_fields["event"].default if "event" in model.model_fields else None
    title = event if isinstance(event, str) else model.__name__
    schema.update(
        {
            "$schema": SCHEMA_DIALECT,
            "$id": f"https://cx.dev/schemas/{slug(title)}.v{model.version}.json",
            "title": title,
            "x-cx-version": model.version,
        }
    )
    if isinstance(event, str):
        # The name has a default in Python; on the wire it must be there.
        schema["required"] = sorted({*schema.get("required", []), "event", "type"})
    if model.stage is not None:
        schema["x-cx-stage"] = model.stage.value
    return schema


def all_schemas() -> dict[str, dict[str, Any]]:
    """File name → schema, for every catalog event and the four generic message types."""
    out: dict[str, dict[str, Any]] = {}
    for name, model in CATALOG.items():
        out[f"{slug(name)}.json"] = schema_for(model)
    for generic in (Track, Identify, Page, Alias):
        out[f"{generic.__name__.lower()}.json"] = schema_for(generic)
    return out


def export(directory: str | Path) -> list[Path]:
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, schema in all_schemas().items():
        path = target / filename
        path.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written


def required_properties(model: type[Track]) -> list[str]:
    """The properties a catalog event cannot go without (for docs and the README table)."""
    annotation = model.model_fields["properties"].annotation
    assert isinstance(annotation, type)
    return [name for name, field in annotation.model_fields.items() if field.is_required()]


def catalog_table() -> str:
    """The README's catalog table in Markdown."""
    rows = ["| event | stage | version | required properties |", "|---|---|---|---|"]
    for name, model in CATALOG.items():
        required = ", ".join(f"`{p}`" for p in required_properties(model)) or "—"
        stage = model.stage.value if model.stage else "—"
        rows.append(f"| {name} | {stage} | {model.version} | {required} |")
    return "\n".join(rows)
