"""Two application instances on one PostgreSQL database: instance A runs the ACD, a
browser watches instance B. What happens on A reaches B's live stream (LISTEN/NOTIFY), and
both instances show the same figures."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

import guichet.web
from console.bus import MAX_PAYLOAD, PostgresBus, Reassembler, asyncpg_dsn, encode
from guichet.bootstrap import build_container
from guichet.settings import load_settings
from tests.integration.console.conftest import Events, add_facts, call, login, make_users

pytestmark = pytest.mark.usefixtures("console_mounted")


def _comparable(board: dict) -> dict:
    """The figures, without what depends on the instant each instance computed them."""
    out = {k: v for k, v in board.items() if k not in ("at", "live", "trigger")}
    for q in [*out["queues"], out["total"]]:
        q.pop("longest_wait_seconds", None)
    return out


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_given_two_instances_when_acd_event_on_a_then_browser_on_b_gets_it(db_url: str, tmp_path: Path):
    a = build_container(load_settings({"database_url": db_url, "data_dir": str(tmp_path / "a")}))
    b = build_container(load_settings({"database_url": db_url, "data_dir": str(tmp_path / "b")}))
    users = await make_users(a, ("alice", "operator"), ("sup", "supervisor"))
    alice = users["alice"]
    d = lambda s: a.clock()  # noqa: E731 - facts of today, now
    await add_facts(a, [call("call_presented", "x1", d(0), "avocat"),
                        call("call_answered", "x1", d(0), "avocat", alice.id, wait_seconds=12.0)])
    await a.start_acd()  # only A decides; B has no ACD and no telephony
    try:
        async with TestClient(TestServer(guichet.web.create_app(a), host="127.0.0.1")) as ca, \
                TestClient(TestServer(guichet.web.create_app(b), host="127.0.0.1")) as cb:
            assert b.extras.get("acd") is None
            assert a.extras["console"].bus.kind == b.extras["console"].bus.kind == "postgresql"
            h_b = {name: await login(cb, name) for name in ("sup", "alice")}
            h_a = await login(ca, "alice")
            wall = Events(await cb.get("/api/v1/console/live?vue=supervision", headers=h_b["sup"]))
            # B learns A's snapshot (A answers B's "hello", and republishes every few seconds).
            first = await wall.next("tableau", lambda x: x["live"]["ok"], timeout=10)
            assert first["total"]["answered"] == 1
            console_b = Events(await cb.get("/api/v1/console/live?vue=console", headers=h_b["alice"]))
            await console_b.next("etat")

            # An ACD event on A…
            r = await ca.post(f"/api/v1/acd/operators/{alice.id}/state", headers=h_a, json={"action": "login"})
            assert r.status == 200
            # …reaches the browsers connected to B (delivery, not speed, is asserted).
            board = await wall.next("tableau", lambda x: any(o["state"] == "available" for o in x["operators"]),
                                    timeout=5)
            assert board["trigger"]["k"] == ["OperatorStateChanged"]
            state = await console_b.next("etat", lambda x: x["state"] == "available", timeout=5)
            assert state["since"] == board["operators"][0]["since"]

            # A call bridged on A pops on Alice's console served by B.
            a.extras["console"]._on_answered({"call_id": "x2", "operator_id": alice.id, "caller": "0611111111",
                                              "audience": "citoyen", "ticket": "GU-2026-000042"})
            pop = await console_b.next("appel", timeout=5)
            assert pop["ticket"] == "GU-2026-000042"

            # Both instances show the same figures.
            h_sup_a = await login(ca, "sup")
            await asyncio.sleep(0.3)
            board_a = await (await ca.get("/api/v1/console/wallboard", headers=h_sup_a)).json()
            board_b = await (await cb.get("/api/v1/console/wallboard", headers=h_b["sup"])).json()
            assert board_b["live"]["ok"] and board_a["live"]["ok"]
            assert _comparable(board_a) == _comparable(board_b)
    finally:
        await a.close()
        await b.close()


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_given_message_larger_than_notify_limit_then_it_arrives_whole(db_url: str):
    received: asyncio.Queue = asyncio.Queue()
    sender = PostgresBus(asyncpg_dsn(db_url), "guichet_console_test")
    listener = PostgresBus(asyncpg_dsn(db_url), "guichet_console_test")
    listener.subscribe(received.put_nowait)
    sender.subscribe(lambda m: None)
    await sender.start()
    await listener.start()
    try:
        big = {"t": "acd", "p": {str(i): ["A", 1_700_000_000_000 + i, "formation", "avocat", f"c{i}"]
                                 for i in range(1500)}}
        sender.publish(big)
        sender.publish({"t": "work"})
        got = await asyncio.wait_for(received.get(), 5)
        assert got == {**big, "o": sender.origin}
        assert (await asyncio.wait_for(received.get(), 5))["t"] == "work"  # order kept
        assert received.empty()
    finally:
        await sender.stop()
        await listener.stop()


def test_given_chunks_out_of_order_then_reassembled_and_payloads_fit_notify():
    message = {"t": "acd", "o": "abcd1234", "p": {str(i): ["C", i, "réunion"] for i in range(2000)}}
    parts = encode(message, "7")
    assert len(parts) > 3 and all(len(p.encode()) <= MAX_PAYLOAD < 8000 for p in parts)
    r = Reassembler()
    out = [r.feed(p) for p in reversed(parts)]
    assert out[:-1] == [None] * (len(parts) - 1) and out[-1] == message
    assert encode({"t": "work", "o": "x"}, "1") == ['{"t":"work","o":"x"}']
