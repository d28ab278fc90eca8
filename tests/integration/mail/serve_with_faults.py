"""``guichet serve`` with one of the mail gateway's fault points armed, for the crash
tests: ``GUICHET_TEST_MAIL_FAULT=name:n`` makes the n-th call of that point write
``GUICHET_TEST_MAIL_FAULT_MARKER`` and hang, so that the test kills the process there
with SIGKILL (a real crash, not an exception)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from mailgw import services  # noqa: E402

spec = os.environ.get("GUICHET_TEST_MAIL_FAULT", "")
if spec:
    name, _, nth = spec.partition(":")
    target = int(nth or 1)
    marker = Path(os.environ["GUICHET_TEST_MAIL_FAULT_MARKER"])
    calls = 0

    async def hang(info: dict) -> None:
        global calls
        calls += 1
        if calls >= target:
            marker.write_text(json.dumps(info, default=str))
            await asyncio.sleep(3600)  # killed here

    services.fault_points[name] = hang

from guichet.cli import main  # noqa: E402

sys.exit(main(["serve"]))
