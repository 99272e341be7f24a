"""Validation errors that name the field and the rule, never a bare traceback."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

_CAMEL = {
    "message_id": "messageId",
    "user_id": "userId",
    "anonymous_id": "anonymousId",
    "sent_at": "sentAt",
    "previous_id": "previousId",
}


@dataclass(frozen=True)
class Problem:
    """One broken rule: ``properties.currency: required for Order Completed``."""

    field: str
    rule: str

    def __str__(self) -> str:
        return f"{self.field}: {self.rule}" if self.field else self.rule

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "rule": self.rule}


class EventError(ValueError):
    """An event that does not satisfy the catalog. ``problems`` lists every broken rule."""

    def __init__(self, problems: list[Problem], event: str | None = None) -> None:
        self.problems = problems
        self.event = event
        super().__init__("; ".join(str(p) for p in problems))


def problems_from(error: ValidationError, event: str | None) -> list[Problem]:
    problems: list[Problem] = []
    for item in error.errors(include_url=False):
        loc: list[Any] = list(item["loc"])
        ctx = item.get("ctx") or {}
        if item["type"] == "cx_field":
            loc.append(ctx["field"])
            rule = str(ctx["rule"])
        elif item["type"] == "missing":
            rule = f"required for {event}" if event else "required"
        else:
            rule = item["msg"].removeprefix("Value error, ")
        field = ".".join(_CAMEL.get(str(part), str(part)) for part in loc)
        problems.append(Problem(field, rule))
    return problems
