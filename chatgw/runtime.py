"""The chat hub as a background service of the main job (``guichet serve`` calls
``start``): restores the conversations left open, runs the timers and the message writer.
The web application finds it in ``Container.extras["chat"]``; an application started
without the runtime (tests, ``python -m web_pages``) gets one from ``chatgw.http.setup``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from chatgw.hub import EXTRAS_KEY, ChatHub
from chatgw.settings import ChatSettings, load_chat_settings


async def start(container: Any, settings: ChatSettings | None = None) -> Callable[[], Awaitable[None]]:
    existing = container.extras.get(EXTRAS_KEY)
    if existing is not None:
        async def noop() -> None:
            return None
        return noop
    hub = ChatHub(container, settings or load_chat_settings())
    await hub.start()
    container.extras[EXTRAS_KEY] = hub

    async def stop() -> None:
        await hub.stop()
        container.extras.pop(EXTRAS_KEY, None)

    return stop
