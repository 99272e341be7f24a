"""The pure pieces: Retry-After parsing and clamping, backoff growth, ids, sentAt format."""

from __future__ import annotations

import email.utils
import os

from cx_sdk import _core
from cx_sdk._core import Options, backoff, iso_ms, retry_after


def test_retry_after_seconds_are_clamped_to_the_limit() -> None:
    assert retry_after("3", 120) == 3
    assert retry_after("3600", 120) == 120
    assert retry_after("-5", 120) == 0
    assert retry_after("soon", 120) is None
    assert retry_after(None, 120) is None


def test_retry_after_accepts_an_http_date() -> None:
    header = email.utils.formatdate(1_000_030, usegmt=True)
    assert retry_after(header, 120, now=1_000_000) == 30
    assert retry_after(header, 10, now=1_000_000) == 10


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    options = Options(write_key="k", backoff_base=1.0, backoff_max=8.0)
    for attempts, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (10, 8.0)]:
        delays = {backoff(options, attempts) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jittered


def test_message_ids_are_unique_and_reseeded_per_process() -> None:
    ids = {_core.IDS.next() for _ in range(10_000)}
    assert len(ids) == 10_000
    prefix = _core.IDS.prefix
    pid = os.fork()
    if pid == 0:
        os._exit(0 if _core.IDS.prefix != prefix else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_timestamps_are_utc_with_milliseconds() -> None:
    assert iso_ms(1_767_225_600.5) == "2026-01-01T00:00:00.500Z"
