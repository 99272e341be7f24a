"""What the thread and asyncio clients share: options, the hot path, encoding, retry rules.

The hot path (``build``) checks the envelope (type, ids, event name, timestamp) and returns
a plain dict. The catalog check of a known event's properties runs in the call when
``strict=True`` or ``validate_in="caller"``, otherwise on the worker (about 10 µs per Order
Completed, the largest single cost); JSON encoding, the size check and timestamp formatting
always happen on the worker. Invalid events reach ``on_error`` and the ``invalid`` counter
either way.
"""

from __future__ import annotations

import email.utils
import gzip
import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from itertools import count
from typing import Any

from pydantic import BaseModel, ValidationError

from .events import CATALOG, Context, EventError, Message, Problem
from .events.errors import problems_from
from .events.fields import decimal_to_wire, timestamp_to_wire

log = logging.getLogger("cx_sdk")

LIBRARY = {"name": "cx-sdk", "version": "0.1.0"}
MAX_EVENT_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024

# Drop reasons reported by ``stats()["dropped"]`` and passed to ``on_drop``.
QUEUE_FULL = "queue_full"
INVALID = "invalid"
TOO_LARGE = "too_large"
BEFORE_SEND = "before_send"
REJECTED = "rejected"
RETRY_EXHAUSTED = "retry_exhausted"
NOT_RETRYABLE = "not_retryable"
SHUTDOWN = "shutdown"
SPOOL_FULL = "spool_full"

OnError = Callable[[Exception, Mapping[str, Any] | None], None]
OnDrop = Callable[[str, list[dict[str, Any]]], None]
BeforeSend = Callable[[dict[str, Any]], dict[str, Any] | None]


@dataclass
class Options:
    """Every knob of both clients; the table in the README mirrors these defaults."""

    write_key: str
    endpoint: str = "http://127.0.0.1:8000"
    batch_size: int = 500
    max_batch_bytes: int = MAX_BATCH_BYTES
    max_event_bytes: int = MAX_EVENT_BYTES
    flush_interval: float = 0.5
    max_queue_size: int = 100_000
    max_retry_time: float = 300.0
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    retry_after_max: float = 120.0
    timeout: float = 10.0
    max_in_flight: int = 2
    gzip: bool = True
    strict: bool = False
    validate: bool = True
    validate_in: str = "worker"
    sync_mode: bool = False
    shutdown_timeout: float = 5.0
    spool_path: str | None = None
    spool_max_bytes: int = 64 * 1024 * 1024
    on_error: OnError | None = None
    on_drop: OnDrop | None = None
    before_send: BeforeSend | None = None
    context: dict[str, Any] = field(default_factory=dict)


# --- message ids and timestamps ------------------------------------------------------------


class _Ids:
    """UUID-shaped ids from a per-process random prefix and a counter: unique, ~0.2 µs.

    ``reseed()`` runs in a forked child so parent and child never share a prefix.
    """

    def __init__(self) -> None:
        self.reseed()

    def reseed(self) -> None:
        raw = os.urandom(10).hex()
        variant = "89ab"[int(raw[11], 16) % 4]
        self.prefix = f"{raw[:8]}-{raw[8:12]}-4{raw[12:15]}-{variant}{raw[15:18]}-"
        self.counter = count(random.getrandbits(32))

    def next(self) -> str:
        return f"{self.prefix}{next(self.counter) & 0xFFFFFFFFFFFF:012x}"


IDS = _Ids()


_second_cache: list[Any] = [None, ""]


def iso_ms(epoch: float) -> str:
    """Epoch seconds → ``2026-01-02T03:04:05.678Z``; the formatted second is cached."""
    whole = int(epoch)
    if _second_cache[0] != whole:
        _second_cache[0] = whole
        _second_cache[1] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    return f"{_second_cache[1]}.{int((epoch - whole) * 1000):03d}Z"


# --- the hot path ----------------------------------------------------------------------------

_PROPERTY_MODELS: dict[str, type[BaseModel]] = {}
for _name, _model in CATALOG.items():
    _annotation = _model.model_fields["properties"].annotation
    if isinstance(_annotation, type) and issubclass(_annotation, BaseModel):
        _PROPERTY_MODELS[_name] = _annotation


def _identity(user_id: Any, anonymous_id: Any, msg: dict[str, Any]) -> None:
    for key, value in (("userId", user_id), ("anonymousId", anonymous_id)):
        if value is None:
            continue
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value:
            raise EventError([Problem(key, "must be a non-empty string")])
        msg[key] = value
    if "userId" not in msg and "anonymousId" not in msg:
        raise EventError([Problem("userId", "userId or anonymousId is required")])


def _check_timestamp(value: Any) -> None:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise EventError([Problem("timestamp", "not an ISO-8601 timestamp")]) from None
    if not isinstance(value, datetime):
        raise EventError([Problem("timestamp", "must be an ISO-8601 string or datetime")])
    if value.utcoffset() is None:
        raise EventError([Problem("timestamp", "has no timezone; pass an aware datetime")])


def validate_catalog(msg: Mapping[str, Any]) -> None:
    """The catalog part of validation (properties of a known event, context), deferrable."""
    if msg.get("type") == "track":
        _validate_properties(msg["event"], msg.get("properties"))
    context = msg.get("context")
    if context:
        _validate_context(context)


def _validate_context(context: Mapping[str, Any]) -> None:
    try:
        Context.model_validate(context)
    except ValidationError as error:
        raise EventError(
            [Problem(f"context.{p.field}", p.rule) for p in problems_from(error, None)]
        ) from None


def _validate_properties(event: str, properties: Any) -> None:
    model = _PROPERTY_MODELS.get(event)
    if model is None:
        if not isinstance(properties, Mapping):
            raise EventError([Problem("properties", "must be an object")], event)
        return
    try:
        model.model_validate(properties)
    except ValidationError as error:
        problems = [
            Problem(f"properties.{p.field}" if p.field else "properties", p.rule)
            for p in problems_from(error, event)
        ]
        raise EventError(problems, event) from None


def build(
    kind: str,
    *,
    validate: bool,
    user_id: Any = None,
    anonymous_id: Any = None,
    event: Any = None,
    properties: Any = None,
    traits: Any = None,
    name: Any = None,
    category: Any = None,
    previous_id: Any = None,
    context: Any = None,
    timestamp: Any = None,
    message_id: Any = None,
    integrations: Any = None,
    new_id: Callable[[], str] = IDS.next,
) -> dict[str, Any]:
    """One message as a dict; raises ``EventError`` naming each broken rule."""
    msg: dict[str, Any] = {"type": kind}
    if kind == "alias":
        if not isinstance(previous_id, str) or not previous_id:
            raise EventError([Problem("previousId", "must be a non-empty string")])
        msg["previousId"] = previous_id
        if not isinstance(user_id, str) or not user_id:
            raise EventError([Problem("userId", "must be a non-empty string")])
        msg["userId"] = user_id
    else:
        _identity(user_id, anonymous_id, msg)
    if kind == "track":
        if not isinstance(event, str) or not 0 < len(event) <= 200:
            raise EventError([Problem("event", "must be a string of 1 to 200 characters")])
        msg["event"] = event
        properties = {} if properties is None else properties
        if validate:
            _validate_properties(event, properties)
        msg["properties"] = properties
    elif kind == "identify":
        traits = {} if traits is None else traits
        if not isinstance(traits, Mapping):
            raise EventError([Problem("traits", "must be an object")])
        msg["traits"] = traits
    elif kind == "page":
        properties = {} if properties is None else properties
        if not isinstance(properties, Mapping):
            raise EventError([Problem("properties", "must be an object")])
        msg["properties"] = properties
        if name is not None:
            msg["name"] = str(name)
        if category is not None:
            msg["category"] = str(category)
    if context is not None:
        if not isinstance(context, Mapping):
            raise EventError([Problem("context", "must be an object")])
        if validate:
            _validate_context(context)
        msg["context"] = context
    if timestamp is not None:
        _check_timestamp(timestamp)
        msg["timestamp"] = timestamp
    if message_id is not None:
        if not isinstance(message_id, str) or not message_id:
            raise EventError([Problem("messageId", "must be a non-empty string")])
        msg["messageId"] = message_id
    else:
        msg["messageId"] = new_id()
    if integrations is not None:
        msg["integrations"] = integrations
    return msg


# --- worker-side encoding --------------------------------------------------------------------


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return decimal_to_wire(value)
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise TypeError("naive datetime in an event; pass an aware datetime")
        return timestamp_to_wire(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Message):
        return value.to_wire()
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# ASCII output keeps the C encoder on its fast path (non-ASCII goes out as \u escapes).
_encoder = json.JSONEncoder(default=_default, separators=(",", ":"), allow_nan=False)


def base_context(extra: Mapping[str, Any]) -> dict[str, Any]:
    return {**extra, "library": LIBRARY}


def wire(item: Any, enqueued_at: float, context: Mapping[str, Any]) -> dict[str, Any]:
    """The final wire dict of a queued item (a dict from ``build`` or a ``Message``).

    ``context`` is the client's base context (library included); an event's own context
    keys win. Dicts from ``build`` are the client's own, so they are completed in place.
    """
    if isinstance(item, Message):
        data = item.to_wire()
    else:
        data = item
        if "timestamp" not in data:
            data["timestamp"] = iso_ms(enqueued_at)
    own = data.get("context")
    data["context"] = {**context, **own} if own else context
    return data


def _stdlib_encode(data: Mapping[str, Any]) -> bytes:
    return _encoder.encode(data).encode()


def _pick_encoder() -> Callable[[Mapping[str, Any]], bytes]:
    """orjson when installed (5-10x faster on floats), else the stdlib; same JSON either way."""
    try:
        import orjson
    except ImportError:
        return _stdlib_encode
    dumps = orjson.dumps
    options = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME

    def _orjson_encode(data: Mapping[str, Any]) -> bytes:
        try:
            return dumps(data, default=_default, option=options)
        except orjson.JSONEncodeError as error:
            # orjson refuses what the stdlib would refuse too; say why in its words.
            raise TypeError(str(error)) from None

    return _orjson_encode


_encode_impl: list[Callable[[Mapping[str, Any]], bytes]] = []


def encode(data: Mapping[str, Any]) -> bytes:
    if not _encode_impl:
        _encode_impl.append(_pick_encoder())
    return _encode_impl[0](data)


def body(events: Iterable[bytes], sent_at: float, compress: bool) -> bytes:
    """Segment's batch body from pre-encoded events; ``sentAt`` is stamped per attempt."""
    raw = b'{"batch":[' + b",".join(events) + b'],"sentAt":"' + iso_ms(sent_at).encode() + b'"}'
    return gzip.compress(raw, compresslevel=1) if compress else raw


# --- batches and retry -----------------------------------------------------------------------


@dataclass
class Entry:
    """One encoded event in flight; ``spool_id`` names its outbox row when spooled."""

    message_id: str
    data: bytes
    spool_id: int | None = None


@dataclass
class Batch:
    entries: list[Entry]
    first_try: float = 0.0
    attempts: int = 0
    due: float = 0.0

    @property
    def size(self) -> int:
        return sum(len(e.data) + 1 for e in self.entries) + 64


def backoff(options: Options, attempts: int) -> float:
    """Exponential with equal jitter: half fixed, half random, capped."""
    growth = float(2 ** min(max(attempts - 1, 0), 30))
    ceiling = min(options.backoff_max, options.backoff_base * growth)
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def retry_after(header: str | None, limit: float, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta or HTTP date), clamped to ``[0, limit]``."""
    if not header:
        return None
    header = header.strip()
    try:
        seconds = float(header)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(header)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return max(0.0, min(seconds, limit))


RETRYABLE_STATUS = frozenset({408, 429})


@dataclass
class Verdict:
    """What to do with a batch after one attempt."""

    done: list[Entry] = field(default_factory=list)
    retry: list[Entry] = field(default_factory=list)
    failed: list[Entry] = field(default_factory=list)
    split: bool = False
    wait: float | None = None
    reason: str = ""
    problems: dict[str, list[dict[str, str]]] = field(default_factory=dict)


def judge(
    batch: Batch, status: int | None, headers: Mapping[str, str], payload: Any, options: Options
) -> Verdict:
    """Turn one HTTP answer into done / retry / failed entries.

    ``status`` None means a transport error (retry). A 200 with per-event verdicts
    (``rejected``; optionally ``retry``) resends only what is retryable.
    """
    verdict = Verdict()
    if status is None or status >= 500 or status in RETRYABLE_STATUS:
        verdict.retry = list(batch.entries)
        verdict.wait = retry_after(headers.get("retry-after"), options.retry_after_max)
        verdict.reason = f"HTTP {status}" if status else "transport error"
        return verdict
    if status == 413:
        if len(batch.entries) > 1:
            verdict.split = True
            verdict.retry = list(batch.entries)
        else:
            verdict.failed = list(batch.entries)
            verdict.reason = TOO_LARGE
        return verdict
    if status >= 400:
        verdict.failed = list(batch.entries)
        verdict.reason = NOT_RETRYABLE
        verdict.problems = {"": [{"field": "", "rule": f"HTTP {status}"}]}
        return verdict
    rejected: dict[str, list[dict[str, str]]] = {}
    retry_ids: set[str] = set()
    if isinstance(payload, dict):
        for item in payload.get("rejected") or ():
            if isinstance(item, dict) and isinstance(item.get("messageId"), str):
                if item.get("retryable"):
                    retry_ids.add(item["messageId"])
                else:
                    rejected[item["messageId"]] = list(item.get("problems") or [])
        for message_id in payload.get("retry") or ():
            if isinstance(message_id, str):
                retry_ids.add(message_id)
    for entry in batch.entries:
        if entry.message_id in retry_ids:
            verdict.retry.append(entry)
        elif entry.message_id in rejected:
            verdict.failed.append(entry)
        else:
            verdict.done.append(entry)
    verdict.problems = rejected
    verdict.reason = REJECTED
    return verdict


class Stats:
    """Counters the worker owns; the hot path only touches ``drop`` (rare) under a lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.taken = 0
        self.sent = 0
        self.retried = 0
        self.batches = 0
        self.dropped: dict[str, int] = {}

    def drop(self, reason: str, n: int = 1) -> None:
        with self.lock:
            self.dropped[reason] = self.dropped.get(reason, 0) + n

    def snapshot(self, depth: int, extra: Mapping[str, Any]) -> dict[str, Any]:
        with self.lock:
            dropped = dict(self.dropped)
        return {
            "enqueued": self.taken + depth,
            "sent": self.sent,
            "retried": self.retried,
            "batches": self.batches,
            "dropped": dropped,
            "dropped_total": sum(dropped.values()),
            "queue_depth": depth,
            **extra,
        }


def safe_call(func: Callable[..., Any] | None, *args: Any) -> None:
    """User callbacks must never break the worker or the hot path."""
    if func is None:
        return
    try:
        func(*args)
    except Exception:
        log.exception("cx_sdk callback %r failed", func)


def decode_entries(entries: Iterable[Entry]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for entry in entries:
        try:
            out.append(json.loads(entry.data))
        except ValueError:
            out.append({"messageId": entry.message_id})
    return out
