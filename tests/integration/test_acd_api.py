"""Operators' ACD state and skills through the API (no telephony needed)."""

from accounts.services import create_user

PASSWORD = "correct horse battery"


async def _login(client, username):
    r = await client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    client.session.cookie_jar.clear()
    return {"Authorization": f"Bearer {(await r.json())['token']}"}


async def test_given_operators_when_states_change_then_status_and_journal_show_it(container, client):
    async with container.session_factory() as s:
        alice = await create_user(s, username="alice", password=PASSWORD, role="operator", sip_endpoint="op01")
        bob = await create_user(s, username="bob", password=PASSWORD, role="operator", sip_endpoint="op02")
        await create_user(s, username="sup", password=PASSWORD, role="supervisor")
        await s.commit()
    h_alice, h_sup = await _login(client, "alice"), await _login(client, "sup")
    r = await client.post(f"/api/v1/acd/operators/{alice.id}/skills", headers=h_sup,
                          json={"skills": {"avocat": 5, "citoyen": 2}})
    assert r.status == 200
    r = await client.post(f"/api/v1/acd/operators/{alice.id}/state", headers=h_alice, json={"action": "login"})
    assert (await r.json())["state"] == "available"
    r = await client.post(f"/api/v1/acd/operators/{bob.id}/state", headers=h_alice, json={"action": "login"})
    assert r.status == 403
    r = await client.post(f"/api/v1/acd/operators/{alice.id}/state", headers=h_sup,
                          json={"action": "pause", "reason": "formation"})
    assert (await r.json()) == {"operator_id": str(alice.id), "state": "paused", "pause_reason": "formation"}
    r = await client.post(f"/api/v1/acd/operators/{alice.id}/state", headers=h_alice, json={"action": "login"})
    assert (r.status, (await r.json())["error"]) == (409, "operator_already_logged_in")
    status = await (await client.get("/api/v1/acd/status", headers=h_alice)).json()
    assert status["operators"][str(alice.id)]["state"] == "paused"
    assert status["operators"][str(alice.id)]["skills"] == {"avocat": 5, "citoyen": 2}
    assert status["queues"]["avocat"]["operators_logged_in"] == 1
    events = await (await client.get("/api/v1/events?kind=operator_state_changed", headers=h_sup)).json()
    assert [(e["operator_id"], e["data"]["old"], e["data"]["new"]) for e in events["items"]] == [
        (alice.id, "logged_out", "available"), (alice.id, "available", "paused")]


async def test_given_restart_then_operator_states_come_back_from_the_journal(container, client):
    async with container.session_factory() as s:
        alice = await create_user(s, username="alice", password=PASSWORD, role="operator", sip_endpoint="op01")
        await s.commit()
    h = await _login(client, "alice")
    for body in ({"action": "login"}, {"action": "pause", "reason": "repas"}):
        r = await client.post(f"/api/v1/acd/operators/{alice.id}/state", headers=h, json=body)
        assert r.status == 200, await r.text()
    restarted = await container.start_acd()  # a new instance of the service, same database
    view = restarted.acd.operator(str(alice.id))
    assert (view.state, view.pause_reason) == ("paused", "repas")


async def test_given_the_standby_site_of_a_pair_then_operator_routes_answer_site_not_active(container, client):
    async with container.session_factory() as s:
        alice = await create_user(s, username="alice", password=PASSWORD, role="operator", sip_endpoint="op01")
        await s.commit()
    h = await _login(client, "alice")
    # What the failover module leaves on the passive site: no ACD, and a lease held elsewhere.
    container.extras.pop("acd")
    container.extras["site_is_active"] = lambda: False
    r = await client.post(f"/api/v1/acd/operators/{alice.id}/state", headers=h, json={"action": "login"})
    assert (r.status, (await r.json())["error"]) == (409, "site_not_active")
    r = await client.get("/api/v1/acd/status", headers=h)
    assert (r.status, (await r.json())["error"]) == (409, "site_not_active")
    # An active site whose ACD is not running (yet) says so instead.
    container.extras["site_is_active"] = lambda: True
    r = await client.get("/api/v1/acd/status", headers=h)
    assert (r.status, (await r.json())["error"]) == (503, "acd_unavailable")
