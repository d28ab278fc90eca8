"""The callback worklist through the API: list, trigger, reschedule (kept inside opening
hours), close; roles; the unrecovered lost calls."""

from datetime import UTC, datetime

from accounts.services import create_user
from telephony import models as calls

PASSWORD = "correct horse battery"


async def _token(client, username):
    r = await client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    client.session.cookie_jar.clear()
    return {"Authorization": f"Bearer {(await r.json())['token']}"}


async def _lost_call(container, call_id, number, lost_at):
    callbacks = container.extras["callbacks"]
    async with container.session_factory() as s:
        call = calls.Call(id=call_id, site="primary", caller_number=number, audience="avocat",
                          received_at=lost_at, outcome=calls.ABANDONED)
        s.add(call)
        await s.flush()
        lost = await callbacks.register_lost(s, call, lost_at=lost_at, wait=12.0, reason="abandoned")
        await s.commit()
        return lost


async def test_given_lost_calls_when_worked_through_the_api_then_worklist_follows(container, client, clock):
    async with container.session_factory() as s:
        await create_user(s, username="alice", password=PASSWORD, role="operator")
        await create_user(s, username="sup", password=PASSWORD, role="supervisor")
        await create_user(s, username="aud", password=PASSWORD, role="auditor")
        await s.commit()
    # Tuesday 3 March 2026 10:00 Paris (the fixture's clock).
    await _lost_call(container, "c1", "+33612345678", datetime(2026, 3, 3, 8, 50, tzinfo=UTC))
    await _lost_call(container, "c2", None, datetime(2026, 3, 3, 8, 55, tzinfo=UTC))
    await _lost_call(container, "c3", "+33698765432", datetime(2026, 3, 3, 8, 58, tzinfo=UTC))
    op, sup, aud = await _token(client, "alice"), await _token(client, "sup"), await _token(client, "aud")

    items = (await (await client.get("/api/v1/callbacks", headers=sup)).json())["items"]
    assert [(i["number"], i["state"], i["next_attempt_at"]) for i in items] == [
        ("+33612345678", "scheduled", "2026-03-03T08:55:00+00:00"),  # lost 09:50 Paris + 5 business minutes
        ("+33698765432", "scheduled", "2026-03-03T09:03:00+00:00"),
    ]
    first, second = items
    r = await client.post(f"/api/v1/callbacks/{second['id']}/trigger", headers=op)
    assert (await r.json())["next_attempt_at"] == "2026-03-03T09:00:00+00:00"  # now
    # Rescheduled to Saturday 10:00: moved to the next opening, Monday 08:30 Paris.
    r = await client.post(f"/api/v1/callbacks/{first['id']}/reschedule", headers=op,
                          json={"at": "2026-03-07T10:00:00+01:00"})
    assert (await r.json())["next_attempt_at"] == "2026-03-09T07:30:00+00:00"
    r = await client.post(f"/api/v1/callbacks/{first['id']}/close", headers=sup, json={"note": "numéro erroné"})
    assert (await r.json())["state"] == "cancelled"
    r = await client.post(f"/api/v1/callbacks/{first['id']}/close", headers=sup, json={"note": "encore"})
    assert (r.status, (await r.json())["error"]) == (409, "transition_not_allowed")
    r = await client.post(f"/api/v1/callbacks/{second['id']}/close", headers=aud, json={"note": "x"})
    assert r.status == 403  # auditors read only
    open_items = (await (await client.get("/api/v1/callbacks", headers=aud)).json())["items"]
    assert [i["id"] for i in open_items] == [second["id"]]
    lost = (await (await client.get("/api/v1/lost-calls?status=all", headers=aud)).json())["items"]
    assert sorted((x["call_id"], x["status"]) for x in lost) == [
        ("c1", "pending"), ("c2", "not_recoverable"), ("c3", "pending")]
    r = await client.get("/api/v1/lost-calls/recovery?month=2026-03", headers=aud)
    assert (await r.json())["denominator"] == 0  # no abandon facts journaled by this test


async def test_given_closed_service_when_triggering_then_refused(container, client, clock):
    async with container.session_factory() as s:
        await create_user(s, username="alice", password=PASSWORD, role="operator")
        await s.commit()
    await _lost_call(container, "c1", "+33612345678", datetime(2026, 3, 3, 8, 50, tzinfo=UTC))
    clock.now = datetime(2026, 3, 7, 9, 0, tzinfo=UTC)  # Saturday
    op = await _token(client, "alice")
    items = (await (await client.get("/api/v1/callbacks", headers=op)).json())["items"]
    r = await client.post(f"/api/v1/callbacks/{items[0]['id']}/trigger", headers=op)
    assert (r.status, (await r.json())["field"]) == (422, "callback_id")
