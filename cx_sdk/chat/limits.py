"""What one chat socket may send: frame and message sizes, and a token bucket per socket."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

# A frame is JSON around one message; anything longer is not a chat message.
MAX_FRAME_BYTES = 8 * 1024
MAX_MESSAGE_CHARS = 2000
MAX_EMAIL_CHARS = 254


@dataclass
class Bucket:
    """``rate`` frames per second on average, bursts up to ``burst``."""

    rate: float = 1.0
    burst: float = 10.0
    tokens: float = field(default=-1.0)
    stamp: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = self.burst

    def take(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class Addresses:
    """Open visitor sockets per client address in this worker: one address (a script opening
    sockets in a loop) cannot hold the worker's connections."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open: dict[str, int] = {}

    def take(self, address: str) -> bool:
        """Counts one more socket of ``address``; False (and not counted) when it is full."""
        held = self.open.get(address, 0)
        if self.limit and held >= self.limit:
            return False
        self.open[address] = held + 1
        return True

    def give_back(self, address: str) -> None:
        held = self.open.get(address, 0) - 1
        if held > 0:
            self.open[address] = held
        else:
            self.open.pop(address, None)


class FrameError(ValueError):
    """A frame the socket answers with an error; the text names what is wrong."""


def message_body(value: object) -> str:
    if not isinstance(value, str):
        raise FrameError("body must be a string")
    body = value.replace("\x00", "").strip()
    if not body:
        raise FrameError("body is empty")
    if len(body) > MAX_MESSAGE_CHARS:
        raise FrameError(f"body is longer than {MAX_MESSAGE_CHARS} characters")
    return body


def email_address(value: object) -> str:
    if not isinstance(value, str):
        raise FrameError("email must be a string")
    email = value.strip()
    local, at, domain = email.partition("@")
    if (
        not at
        or not local
        or "." not in domain
        or len(email) > MAX_EMAIL_CHARS
        or any(c.isspace() or c in '<>"\x00' for c in email)
    ):
        raise FrameError("email does not look like an address")
    return email
