"""Live chat, an optional part of the collector (hooks: see cx_sdk.server.parts)."""

from __future__ import annotations

from typing import Any


def routes() -> list[Any]:
    from .http import routes as chat_routes

    return chat_routes()


def widgets() -> list[Any]:
    from .widget import ChatWidget

    return [ChatWidget()]


def console_routes() -> list[Any]:
    from .agent import console_routes as agent_routes

    return agent_routes()


def console_nav() -> list[tuple[str, str]]:
    return [("/chat", "Live chat")]


def periodic() -> list[Any]:
    from .writer import catch_up

    return [catch_up]


def shutdown() -> list[Any]:
    from .hub import close_hub
    from .writer import close_writer

    # The writer first: its last frames still go out through the hub.
    return [close_writer, close_hub]
