"""The console hub as a background service of the main job (``guichet serve`` calls
``start`` after the ACD and the telephony are up): it listens to this instance's ACD and
Stasis application when they run here, publishes their snapshots on the bus and relays
what the bus brings to the browsers connected to this instance. An application built
without the runtime (tests) gets its hub from ``console.http.setup``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from console.live import start_hub


async def start(container: Any) -> Callable[[], Awaitable[None]]:
    return await start_hub(container)
