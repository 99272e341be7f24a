"""Fan-out of chat frames to the sockets that listen on a channel.

``LocalHub`` delivers inside one process. ``RedisHub`` publishes through Redis pub/sub and
delivers what comes back to its local listeners, so a visitor on one worker and an agent on
another see each other. Channels: ``conv:<shop>:<conversation>`` (the visitor's sockets) and
``shop:<shop>`` (the agents of that shop).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import Any, Protocol

log = logging.getLogger("cx.chat")
# A socket that falls this far behind loses frames; it resyncs from the last id it saw.
QUEUE_SIZE = 256


def conversation_channel(shop_id: str, conversation_id: str) -> str:
    return f"conv:{shop_id}:{conversation_id}"


def shop_channel(shop_id: str) -> str:
    return f"shop:{shop_id}"


class Hub(Protocol):
    async def publish(self, channel: str, data: str) -> None: ...

    async def subscribe(self, channel: str, queue: asyncio.Queue[str]) -> None: ...

    async def unsubscribe(self, channel: str, queue: asyncio.Queue[str]) -> None: ...


class LocalHub:
    """In-process fan-out: every subscriber's queue gets each frame."""

    def __init__(self) -> None:
        self.channels: dict[str, set[asyncio.Queue[str]]] = {}

    def deliver(self, channel: str, data: str) -> None:
        for queue in tuple(self.channels.get(channel, ())):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(data)

    async def publish(self, channel: str, data: str) -> None:
        self.deliver(channel, data)

    async def subscribe(self, channel: str, queue: asyncio.Queue[str]) -> None:
        self.channels.setdefault(channel, set()).add(queue)

    async def unsubscribe(self, channel: str, queue: asyncio.Queue[str]) -> None:
        listeners = self.channels.get(channel)
        if listeners is None:
            return
        listeners.discard(queue)
        if not listeners:
            del self.channels[channel]


class RedisHub:
    """Redis pub/sub across workers; one pub/sub connection per worker, subscribed only to the
    channels its own sockets listen on."""

    def __init__(self, url: str, prefix: str | None = None) -> None:
        import redis.asyncio as redis

        self.prefix = prefix or os.environ.get("CX_CHAT_REDIS_PREFIX", "cx:chat:")
        self.client: Any = redis.Redis.from_url(url)
        self.pubsub: Any = self.client.pubsub(ignore_subscribe_messages=True)
        self.local = LocalHub()
        self._listener: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def _start(self) -> None:
        if self._listener is not None:
            return
        # A pub/sub connection exists only once something is subscribed.
        await self.pubsub.subscribe(f"{self.prefix}_hub")
        self._listener = asyncio.create_task(self._listen())

    async def _listen(self) -> None:
        size = len(self.prefix)
        while True:
            try:
                message = await self.pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("chat: Redis pub/sub failed; retrying")
                await asyncio.sleep(1.0)
                continue
            if message is None or message.get("type") != "message":
                continue
            channel = message["channel"].decode()[size:]
            self.local.deliver(channel, message["data"].decode())

    async def publish(self, channel: str, data: str) -> None:
        await self.client.publish(f"{self.prefix}{channel}", data)

    async def subscribe(self, channel: str, queue: asyncio.Queue[str]) -> None:
        async with self._lock:
            await self._start()
            first = channel not in self.local.channels
            await self.local.subscribe(channel, queue)
            if first:
                await self.pubsub.subscribe(f"{self.prefix}{channel}")

    async def unsubscribe(self, channel: str, queue: asyncio.Queue[str]) -> None:
        async with self._lock:
            await self.local.unsubscribe(channel, queue)
            if channel not in self.local.channels:
                with contextlib.suppress(Exception):
                    await self.pubsub.unsubscribe(f"{self.prefix}{channel}")

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        await self.pubsub.aclose()
        await self.client.aclose()


def hub_of(state: Any) -> Hub:
    """The application's hub, made on first use: Redis when ``redis_url`` is set."""
    hub: Hub | None = getattr(state, "chat_hub", None)
    if hub is None:
        url = getattr(state.settings, "redis_url", None)
        hub = RedisHub(url) if url else LocalHub()
        state.chat_hub = hub
    return hub


async def close_hub(state: Any) -> None:
    """Called when the application stops: the Redis connections go with it."""
    hub = getattr(state, "chat_hub", None)
    if isinstance(hub, RedisHub):
        await hub.close()
    state.chat_hub = None
