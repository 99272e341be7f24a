"""The chat launcher: a server-rendered widget like the others (no script of its own).

Opening it swaps in an iframe with the panel served from the collector, so the chat's script
loads only on click and nothing is stored before the visitor writes."""

from __future__ import annotations

from urllib.parse import urlencode

from ..widgets.framework import RenderContext


class ChatWidget:
    name = "chat"
    read_only = True

    def render(self, ctx: RenderContext) -> str | None:
        opened = ctx.params.get("open") == "1"
        root = ctx.settings.public_url.rstrip("/")
        panel = f"{root}/chat/{ctx.shop.id}/panel?" + urlencode({"locale": ctx.locale})
        return ctx.render("chat_launcher.html", opened=opened, panel=panel)
