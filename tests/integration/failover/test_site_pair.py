"""The site pair end to end (conftest.py): two PostgreSQL servers with synchronous
streaming replication, two Asterisks, two ``guichet serve`` processes.

In order, on one pair (the last test kills the primary site):
1. flapping health of the primary, as the backup sees it, causes no switchover;
2. a drill: switch to the backup, a test call (answered by an operator registered on the
   backup), a test mail (SMTP to the backup's intake) and a test chat become tickets,
   switch back, the drill is recorded and T3-IQ03 counts it;
3. the primary site dies during traffic (application SIGKILL, its Asterisk SIGKILL, its
   PostgreSQL SIGKILL): the backup promotes its standby, takes over, closes the calls in
   progress as lost with callbacks, and not one committed ticket is missing.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from tests.integration.failover.conftest import SitePair
from tests.support.sip_peers import Answer

pytestmark = pytest.mark.asterisk


def _data(value: object) -> dict:
    return value if isinstance(value, dict) else json.loads(value)  # type: ignore[arg-type]


async def _login_operator(site, pair: SitePair, endpoint: str, action: str = "login") -> None:
    token = site.tokens.get("superviseur") or site.login("superviseur")
    status, body = site.request("POST", f"/api/v1/acd/operators/{pair.users[endpoint]}/state", {"action": action},
                                token)
    if action == "logout" and status == 409 and body.get("error") == "operator_logged_out":
        return  # (when this test runs alone)
    assert status == 200, body


async def test_given_flapping_health_of_the_primary_then_the_backup_never_switches_over(site_pair: SitePair):
    p = site_pair
    epoch = p.primary.get("/api/v1/failover/health")["epoch"]
    # The backup reaches the primary's application through the proxy: down 1.5 s out of
    # every 3.5 s, so with a probe a second it sees at most two failed rounds in a row.
    p.proxy.pattern = [True]
    refused_before = p.proxy.refused
    t0 = time.monotonic()
    period, down = 3.5, 1.5

    def flaky() -> bool:
        return (time.monotonic() - t0) % period >= down

    class Pattern(list):
        def __getitem__(self, i):  # noqa: ANN001, ANN204 - the proxy indexes its pattern
            return flaky()

        def __len__(self) -> int:
            return 1

    p.proxy.pattern = Pattern([True])
    worst = 0
    try:
        while time.monotonic() - t0 < 12:
            h = p.backup.get("/api/v1/failover/health")
            assert h["state"] == "standby", h
            worst = max(worst, h["peer"]["failed_rounds"])
            await asyncio.sleep(0.25)
    finally:
        p.proxy.pattern = [True]
    assert p.proxy.refused - refused_before >= 4  # the primary did look down, several times
    assert 1 <= worst < 3
    h = p.primary.get("/api/v1/failover/health")
    assert h["state"] == "active" and h["epoch"] == epoch
    assert (await p.db("SELECT count(*) FROM failover_switchovers"))[0][0] == 0
    # the flapping was never journaled as an outage by the backup (a path glitch is not one)
    rows = await p.db("SELECT data FROM events WHERE kind = 'probe_result' AND site = 'backup'")
    assert rows == []


async def test_given_a_drill_then_call_mail_and_chat_through_the_backup_become_tickets_and_it_is_counted(
        site_pair: SitePair):
    p = site_pair
    sup = p.primary.login("superviseur")
    epoch = p.primary.get("/api/v1/failover/health")["epoch"]
    planned = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    status, plan = p.primary.request("POST", "/api/v1/failover/drills/plans",
                                     {"planned_for": planned, "note": "exercice du semestre"}, sup)
    assert status == 201, plan
    # op2's softphone is registered to both sites; op2 is logged in on the primary.
    peers_b, peers_p = p.peers(p.backup, "drill-b"), p.peers(p.primary, "drill-p")
    try:
        op2_b = await peers_b.operator("op2", p.secrets["op2"], behavior=Answer(after=0.3), timeout=30)
        await peers_p.operator("op2", p.secrets["op2"], behavior=Answer(after=0.3), timeout=30)
        await _login_operator(p.primary, p, "op2")

        status, drill = p.primary.request("POST", "/api/v1/failover/drills", {"plan_id": plan["id"]}, sup)
        assert status == 202, drill
        deadline = time.monotonic() + 150
        while drill["status"] == "running" and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            drill = p.primary.get(f"/api/v1/failover/drills/{drill['id']}", sup)
        assert drill["status"] == "passed", json.dumps(drill, indent=1)
        checks = {c["name"]: c for c in drill["checks"]}
        assert set(checks) == {"switchover", "call", "mail", "chat", "failback"}
        assert all(checks[n]["ticket"] for n in ("call", "mail", "chat"))
        assert drill["started_by_name"] == "superviseur" and drill["seconds"] > 0
        assert drill["switchover_seconds"] > 0 and drill["failback_seconds"] > 0
        assert op2_b.invites, "the test call rang the operator on the backup site"
        print(f"\ndrill: {drill['seconds']:.1f}s, switchover {drill['switchover_seconds']:.1f}s, "
              f"failback {drill['failback_seconds']:.1f}s")
    finally:
        await asyncio.gather(peers_b.close(), peers_p.close())

    # Back on the primary, two epochs later; both switchovers recorded against the drill.
    h = p.primary.wait_state("active", timeout=30)
    assert h["epoch"] == epoch + 2
    rows = await p.db("SELECT from_site, to_site, kind, drill_id, seconds FROM failover_switchovers ORDER BY id")
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        ("primary", "backup", "drill", drill["id"]), ("backup", "primary", "drill", drill["id"])]
    facts = await p.db("SELECT data FROM events WHERE kind = 'drill_done'")
    assert [_data(f[0])["ok"] for f in facts] == [True]
    # The three tickets exist, with their channel.
    refs = [checks[n]["ticket"] for n in ("call", "mail", "chat")]
    rows = await p.db("SELECT reference, channel FROM tickets WHERE reference IN (:a, :b, :c)",
                      a=refs[0], b=refs[1], c=refs[2])
    assert sorted(r[1] for r in rows) == ["chat", "mail", "phone"]
    # T3-IQ03: one drill planned this semester, one done.
    status, t3 = p.primary.request("GET", "/api/v1/failover/indicators/drills", token=sup)
    assert status == 200, t3
    assert (t3["done"], t3["expected"], t3["value"]) == (1, 1, 1.0)
    status, plans = p.primary.request("GET", "/api/v1/failover/drills/plans", token=sup)
    assert plans["items"][0]["status"] == "done" and plans["items"][0]["drill_id"] == drill["id"]


async def test_given_primary_killed_during_traffic_then_backup_takes_over_and_nothing_committed_is_lost(
        site_pair: SitePair):
    p = site_pair
    sup = p.primary.login("superviseur")
    await _login_operator(p.primary, p, "op2", "logout")
    peers_p, peers_b = p.peers(p.primary, "kill-p"), p.peers(p.backup, "kill-b")
    writer: asyncio.Future | None = None
    try:
        # op1: softphone on both sites, logged in on the primary.
        await peers_p.operator("op1", p.secrets["op1"], behavior=Answer(after=0.3), timeout=30)
        op1_b = await peers_b.operator("op1", p.secrets["op1"], behavior=Answer(after=0.3), timeout=30)
        await _login_operator(p.primary, p, "op1")
        # Two calls in progress on the primary: A talking to op1, B waiting in the queue.
        call_a = await (await peers_p.caller("0611111111")).dial("3900", dtmf=[(0.3, "1")])
        await call_a.wait_answered(timeout=30)
        await p.wait_db("SELECT id FROM calls WHERE caller_number = '+33611111111' AND answered_at IS NOT NULL")
        call_b = await (await peers_p.caller("0622222222")).dial("3900", dtmf=[(0.3, "1")])
        await call_b.wait_answered(timeout=30)
        await p.wait_db("SELECT id FROM calls WHERE caller_number = '+33622222222' AND presented_at IS NOT NULL")

        # Traffic: tickets created through the primary's API, as fast as it answers.
        acked: list[int] = []
        killed = asyncio.Event()

        async def write_tickets(lane: int) -> None:
            async with aiohttp.ClientSession(trust_env=False) as http:
                n = 0
                while True:
                    n += 1
                    try:
                        async with http.post(f"{p.primary.base}/api/v1/tickets",
                                             headers={"Authorization": f"Bearer {sup}"},
                                             json={"channel": "phone", "subject": f"trafic {lane}-{n}",
                                                   "description": "avant la panne"},
                                             timeout=aiohttp.ClientTimeout(total=10)) as r:
                            if r.status == 201:
                                acked.append((await r.json())["id"])
                    except (aiohttp.ClientError, TimeoutError):
                        if killed.is_set():
                            return
                        await asyncio.sleep(0.05)

        # Four writers in parallel, still writing when the site dies.
        writer = asyncio.gather(*(write_tickets(i) for i in range(4)))
        deadline = time.monotonic() + 20
        while len(acked) < 20 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert acked, "no ticket written before the failure"

        # The primary site dies: application, Asterisk and PostgreSQL, all SIGKILL.
        t_kill = time.monotonic()
        killed.set()
        p.primary.kill()
        p.primary.asterisk.kill()
        p.pg.primary.kill()
        await asyncio.wait_for(writer, 30)
        h = await asyncio.to_thread(p.backup.wait_state, "active", timeout=90)
        measured = time.monotonic() - t_kill
        print(f"\nswitchover after the primary site was killed: {measured:.1f}s (measured by the test)")

        # Journaled by the backup: from primary, automatic, standby promoted, time measured.
        rows = await p.wait_db("SELECT data FROM events WHERE kind = 'site_switched_over' AND site = 'backup'",
                               lambda rows: any(_data(r[0])["kind"] == "automatic" for r in rows))
        [data] = [_data(r[0]) for r in rows if _data(r[0])["kind"] == "automatic"]
        print(f"site_switched_over: {data['seconds']:.1f}s from the first failed probe "
              f"(promotion {data['promotion_seconds']:.2f}s, activation {data['activation_seconds']:.2f}s)")
        assert (data["from"], data["to"], data["kind"], data["promoted"]) == ("primary", "backup", "automatic", True)
        assert 0 < data["seconds"] < 60 and data["calls_lost"] == 2
        assert h["epoch"] is not None

        # Not one committed ticket is missing on the promoted standby.
        rows = await p.db("SELECT id FROM tickets")
        present = {r[0] for r in rows}
        missing = [i for i in acked if i not in present]
        print(f"tickets acknowledged before the kill: {len(acked)}, missing after promotion: {len(missing)}")
        assert missing == []

        # The calls in progress are lost (site_failure), each with a callback scheduled.
        rows = await p.db(
            "SELECT c.caller_number, c.outcome, c.lost_reason, c.answered_at IS NOT NULL, l.reason, cb.state "
            "FROM calls c JOIN lost_calls l ON l.call_id = c.id JOIN callbacks cb ON cb.lost_call_id = l.id "
            "WHERE c.site = 'primary' AND c.caller_number IN ('+33611111111', '+33622222222') "
            "ORDER BY c.caller_number")
        assert [tuple(r) for r in rows] == [
            ("+33611111111", "answered", None, True, "site_failure", "scheduled"),
            ("+33622222222", "lost", "site_failure", False, "site_failure", "scheduled")]
        facts = await p.db("SELECT kind, data FROM events WHERE call_id IN (SELECT id FROM calls WHERE site = "
                           "'primary' AND caller_number IN ('+33611111111', '+33622222222')) "
                           "AND kind IN ('call_lost', 'call_ended')")
        assert sorted((k, _data(d).get("reason") or _data(d).get("cut_by")) for k, d in facts) == [
            ("call_ended", "site_failure"), ("call_lost", "site_failure")]

        # The service goes on at the backup: op1 was carried over, a new call is answered.
        call_c = await (await peers_b.caller("0633333333")).dial("3900", dtmf=[(0.3, "1")])
        await call_c.wait_answered(timeout=30)
        invite = await op1_b.wait_invite(timeout=40)
        assert invite.number == "0633333333"
        await p.wait_db("SELECT id FROM calls WHERE site = 'backup' AND caller_number = '+33633333333' "
                        "AND ticket_id IS NOT NULL")
        await call_c.hangup()

        # T1-IQ01 sees the outage (the backup journaled the failed probes, then its own).
        month = datetime.now(ZoneInfo("Europe/Paris")).strftime("%Y-%m")
        sup_b = p.backup.login("superviseur")
        status, avail = p.backup.request("GET", f"/api/v1/failover/indicators/availability?month={month}",
                                         token=sup_b)
        assert status == 200, avail
        down = avail["availability"]["down_seconds"]
        print(f"T1-IQ01 this month: {avail['availability']['value']:.6f}, down {down:.1f}s: "
              f"{avail['availability']['down']}")
        assert 0 < down < 60
    finally:
        if writer is not None and not writer.done():
            writer.cancel()
        await asyncio.gather(peers_p.close(), peers_b.close())
