"""Our contact center's telephony side in its own process, for the benchmarks: the same
assembly as ``tests/integration/calls/conftest.py`` (settings overrides, operators with
softphone accounts and every skill, ``container.start_acd``, ``start_telephony`` on an
Asterisk someone else runs), driven by ``bench/callbench.py`` over stdin/stdout so that its
CPU is measured apart from Asterisk and SIPp.

    python bench/acd_app.py <config.json>

Config: ``run_dir``, ``database_url`` ("" = SQLite in run_dir, the embedded default),
``asterisk`` (the AsteriskSettings fields that matter: run_dir, ari_password, ports, app
name, numbers), ``operators`` [[endpoint, sip password]…], ``settings`` (Settings
overrides: ivr_timeout, ring_timeout, wrap_up_seconds…).

Once ready it prints one JSON line ``{"ready": true, "operators": {endpoint: user id}}``
and then answers each command line with one JSON line:

    pause      pause every operator (reason "bench"); the calls wait in the queue
    unpause    make every operator available again (and dispatch)
    stats      the ACD's counts (waiting calls, operators by state) and the app's legs
    dump PATH  write the call facts of the journal and the calls table to PATH (JSON)
    quit       stop the app (Asterisk is left to its owner)
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import select  # noqa: E402

from accounts.services import create_user  # noqa: E402
from acd.models import OperatorSkill  # noqa: E402
from callback.settings import CallbackSettings  # noqa: E402
from guichet.bootstrap import build_container  # noqa: E402
from guichet.cli import prepare_database  # noqa: E402
from guichet.settings import load_settings  # noqa: E402
from guichet.telephony_runtime import start_telephony  # noqa: E402
from telephony import models as calls  # noqa: E402
from telephony.asterisk_config import AsteriskSettings  # noqa: E402
from telephony.asterisk_process import AsteriskProcess  # noqa: E402
from ticket_core.models import Audience, JournalEvent  # noqa: E402

ALWAYS_OPEN = {"opening_days": "mon-sun", "opening_time": "00:00", "closing_time": "23:59:59"}
CALL_FACTS = ("call_received", "call_presented", "call_offered", "call_answered", "call_offer_failed",
              "call_abandoned", "call_lost", "call_ended")


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, default=str) + "\n")
    sys.stdout.flush()


def instrument(app: Any, acd: Any) -> dict[str, list[Any]]:
    """Time the steps between a call entering the queue and the operator's INVITE, by
    wrapping three methods *of these instances* (the product code is not changed):
    ``acd.flush`` (journal commit; only the flushes that wrote something), ``ari.start_moh``
    and ``ari.originate`` (REST requests). Each record: (wall-clock start, seconds, detail);
    failed calls are not recorded."""
    trace: dict[str, list[Any]] = {"flush": [], "start_moh": [], "originate": []}

    def wrap(owner: Any, name: str, detail: Any) -> None:
        original = getattr(owner, name)

        @functools.wraps(original)
        async def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.time()
            p0 = time.perf_counter()
            result = await original(*args, **kwargs)
            if name != "flush" or result:  # a flush with no event writes nothing
                trace[name].append((t0, time.perf_counter() - p0, detail(args, kwargs)))
            return result

        setattr(owner, name, timed)

    wrap(acd, "flush", lambda a, k: None)
    wrap(app.ari, "start_moh", lambda a, k: a[0] if a else k.get("channel_id"))
    wrap(app.ari, "originate", lambda a, k: k.get("app_args"))
    return trace


async def main(config_path: Path) -> None:
    cfg = json.loads(config_path.read_text())
    run_dir = Path(cfg["run_dir"])
    run_dir.mkdir(parents=True, exist_ok=True)
    a = cfg["asterisk"]
    ast_settings = AsteriskSettings(
        run_dir=Path(a["run_dir"]), ari_password=a["ari_password"], sip_port=a["sip_port"],
        http_port=a["http_port"], app_name=a["app_name"], support_number=a["support_number"],
        baseline_number=a["baseline_number"], operators=[tuple(o) for o in cfg["operators"]])
    overrides = {
        **ALWAYS_OPEN, "data_dir": str(run_dir), "database_url": cfg.get("database_url", ""),
        "stasis_app": ast_settings.app_name, "support_number": ast_settings.support_number,
        "asterisk_manage": False, "announce_every": 0, "wrap_up_seconds": 0,
        **cfg.get("settings", {}),
    }
    settings = load_settings(overrides)
    container = build_container(settings)
    await prepare_database(container)
    operator_ids: dict[str, int] = {}
    async with container.session_factory() as s:
        audiences = list(await s.scalars(select(Audience.code).where(Audience.active.is_(True))))
        for endpoint, secret in cfg["operators"]:
            user = await create_user(s, username=f"agent-{endpoint}", password="bench password 123",
                                     role="operator", sip_endpoint=endpoint, sip_secret=secret)
            operator_ids[endpoint] = user.id
            for audience in audiences:
                s.add(OperatorSkill(user_id=user.id, audience=audience, level=3))
        await s.commit()
    # No virtual hold nor callbacks: app_queue has neither, and both must do the same work.
    acd = await container.start_acd(callback_settings=CallbackSettings(enabled=False, virtual_hold_after=0))
    # An AsteriskProcess that is never started: start_telephony only reads its settings.
    telephony = await start_telephony(container, asterisk=AsteriskProcess(ast_settings),
                                      sounds_dir=run_dir / "sounds" / "fr")
    await telephony.stream.wait_connected(timeout=30)
    app = telephony.app
    clock = container.clock
    trace = instrument(app, acd)
    for op_id in operator_ids.values():
        acd.acd.login(str(op_id), clock())
    await acd.flush()
    await app.dispatch()
    emit({"ready": True, "operators": operator_ids, "database": settings.effective_database_url.split(":")[0]})

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        raw = await reader.readline()
        if not raw:
            break
        command, _, arg = raw.decode().strip().partition(" ")
        try:
            if command == "pause":
                done = 0
                for op_id in operator_ids.values():
                    try:
                        acd.acd.pause(str(op_id), "bench", clock())
                        done += 1
                    except Exception as exc:  # noqa: BLE001 - report, do not die
                        logging.getLogger("bench").warning("pause %s refused: %s", op_id, exc)
                await acd.flush()
                emit({"ok": True, "paused": done})
            elif command == "unpause":
                done = 0
                for op_id in operator_ids.values():
                    try:
                        acd.acd.unpause(str(op_id), clock())
                        done += 1
                    except Exception as exc:  # noqa: BLE001
                        logging.getLogger("bench").warning("unpause %s refused: %s", op_id, exc)
                await acd.flush()
                await app.dispatch()
                emit({"ok": True, "unpaused": done})
            elif command == "stats":
                snap = acd.acd.snapshot(clock())
                states = Counter(op["state"] for op in snap["operators"].values())
                emit({"ok": True, "operators": dict(states), "legs": len(app.legs),
                      "leg_states": dict(Counter(leg.state for leg in app.legs.values())),
                      "operator_legs": len(app.op_legs)})
            elif command == "dump":
                async with container.session_factory() as s:
                    facts = [{"kind": e.kind, "at": e.occurred_at.timestamp(), "call_id": e.call_id,
                              "operator_id": e.operator_id, "queue": e.queue, "data": e.data}
                             for e in await s.scalars(select(JournalEvent).where(
                                 JournalEvent.kind.in_(CALL_FACTS)).order_by(JournalEvent.id))]
                    rows = [{"id": c.id, "caller_raw": c.caller_raw, "outcome": c.outcome,
                             "operator_id": c.operator_id, "lost_reason": c.lost_reason,
                             "received_at": c.received_at.timestamp(),
                             "presented_at": c.presented_at.timestamp() if c.presented_at else None,
                             "answered_at": c.answered_at.timestamp() if c.answered_at else None}
                            for c in await s.scalars(select(calls.Call))]
                Path(arg).write_text(json.dumps({"facts": facts, "calls": rows, "trace": trace}))
                emit({"ok": True, "facts": len(facts), "calls": len(rows)})
            elif command == "quit":
                break
            else:
                emit({"ok": False, "error": f"unknown command {command!r}"})
        except Exception as exc:  # noqa: BLE001
            logging.getLogger("bench").exception("command %s failed", command)
            emit({"ok": False, "error": repr(exc)})
    await telephony.stop()
    await container.close()
    emit({"ok": True, "stopped": True})


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(main(Path(sys.argv[1])))
