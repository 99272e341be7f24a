"""Delivery against a real local sink: outages, crashes, forks, exit and SIGTERM."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from cx_sdk import Client

from .conftest import Harness
from .sink import Sink, free_port

pytestmark = pytest.mark.slow


async def test_sink_down_for_a_while_then_up_delivers_every_event_once(
    harness: Harness,
) -> None:
    port = free_port()
    client = harness.make(endpoint=f"http://127.0.0.1:{port}", batch_size=7, backoff_max=0.05)
    sent = [f"m-{i}" for i in range(30)]
    for message_id in sent:
        client.track("Custom Thing", user_id="u1", message_id=message_id)
    assert not await harness.flush(client, timeout=0.3)  # nobody listens yet
    assert client.stats()["retried"] > 0
    with Sink(port) as sink:
        assert await harness.flush(client, timeout=10)
        assert Counter(sink.message_ids()) == Counter(sent)
    assert client.stats()["sent"] == 30


def test_sync_mode_has_sent_before_track_returns() -> None:
    with Sink() as sink:
        client = Client("wk", sink.url, sync_mode=True, drain_on_sigterm=False)
        client.track("Serverless Thing", user_id="u1")
        assert [e["event"] for e in sink.events] == ["Serverless Thing"]
        client.close()


def _spooled_rows(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])


async def test_a_spooled_event_is_on_disk_before_track_returns(
    harness: Harness, tmp_path: Path
) -> None:
    spool = tmp_path / "outbox.db"
    client = harness.make(
        endpoint=f"http://127.0.0.1:{free_port()}", spool_path=str(spool), flush_interval=60
    )
    client.track("Custom Thing", user_id="u1")
    assert _spooled_rows(spool) == 1
    await harness.close(client, timeout=0.1)
    assert _spooled_rows(spool) == 1  # not sent, not forgotten: the next run sends it


async def test_the_spool_cap_drops_with_a_counter(harness: Harness, tmp_path: Path) -> None:
    dropped: list[str] = []
    client = harness.make(
        endpoint=f"http://127.0.0.1:{free_port()}",
        spool_path=str(tmp_path / "outbox.db"),
        spool_max_bytes=1000,
        flush_interval=60,
        on_drop=lambda reason, events: dropped.append(reason),
    )
    results = [client.track("Custom Thing", user_id="u1") for _ in range(20)]
    assert results.count(True) >= 1 and results.count(False) >= 1
    assert client.stats()["dropped"] == {"spool_full": results.count(False)}
    assert dropped == ["spool_full"] * results.count(False)
    assert client.stats()["spool_bytes"] <= 1000
    await harness.close(client, timeout=0.1)


async def test_spooled_events_leave_the_spool_once_delivered(
    harness: Harness, tmp_path: Path
) -> None:
    spool = tmp_path / "outbox.db"
    with Sink() as sink:
        client = harness.make(endpoint=sink.url, spool_path=str(spool), batch_size=3)
        for i in range(10):
            client.track("Custom Thing", user_id="u1", message_id=f"s-{i}")
        assert await harness.flush(client)
        assert sorted(sink.message_ids()) == sorted(f"s-{i}" for i in range(10))
    assert _spooled_rows(spool) == 0
    assert client.stats()["spool_bytes"] == 0


CHILD = """
import sys, time
from cx_sdk import Client
client = Client("wk", sys.argv[1], spool_path=sys.argv[2], flush_interval=0.01,
                backoff_max=0.05, drain_on_sigterm=False)
for i in range(25):
    client.track("Crash Test", user_id="u1", message_id=f"k-{i}")
print("tracked", flush=True)
time.sleep(60)
"""


def test_sigkill_with_a_spool_then_the_next_process_delivers(tmp_path: Path) -> None:
    spool = tmp_path / "outbox.db"
    down = f"http://127.0.0.1:{free_port()}"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, down, str(spool)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "tracked"
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    assert _spooled_rows(spool) == 25
    with Sink() as sink:
        client = Client("wk", sink.url, spool_path=str(spool), drain_on_sigterm=False)
        assert client.flush(10)
        client.close()
        assert Counter(sink.message_ids()) == Counter(f"k-{i}" for i in range(25))
    assert _spooled_rows(spool) == 0


EXITING = """
import sys
from cx_sdk import Client
client = Client("wk", sys.argv[1], flush_interval=60, batch_size=1000)
for i in range(12):
    client.track("Exit Test", user_id="u1", message_id=f"x-{i}")
print("tracked", flush=True)
if sys.argv[2] == "term":
    import time
    time.sleep(60)
"""


@pytest.mark.parametrize("how", ["exit", "term"])
def test_queued_events_are_drained_at_exit_and_on_sigterm(how: str) -> None:
    with Sink() as sink:
        child = subprocess.Popen(
            [sys.executable, "-c", EXITING, sink.url, how], stdout=subprocess.PIPE, text=True
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "tracked"
        if how == "term":
            child.send_signal(signal.SIGTERM)
        code = child.wait(15)
        assert code == (0 if how == "exit" else -signal.SIGTERM)
        assert sorted(sink.message_ids()) == sorted(f"x-{i}" for i in range(12))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_sends_its_own_events_and_nothing_twice() -> None:
    with Sink() as sink:
        client = Client("wk", sink.url, flush_interval=60, batch_size=1000, drain_on_sigterm=False)
        client.track("Parent Before Fork", user_id="u1")
        pid = os.fork()
        if pid == 0:  # child
            code = 0
            try:
                client.track("Child Event", user_id="u2")
                code = 0 if client.close(10) == 0 else 1
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        client.track("Parent After Fork", user_id="u1")
        assert client.close(10) == 0
        names = Counter(e["event"] for e in sink.events)
        assert names == Counter(["Parent Before Fork", "Child Event", "Parent After Fork"])
        ids = sink.message_ids()
        assert len(set(ids)) == 3
