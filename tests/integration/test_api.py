"""The REST API on the real aiohttp application, on SQLite and PostgreSQL: every role
against every route, errors with ids and fields, the OpenAPI document, a ticket's life."""

import re

import pytest

from accounts.services import create_user
from apikit import ROUTES

ROLES = ["operator", "supervisor", "auditor", "admin"]
PASSWORD = "correct horse battery"


@pytest.fixture
async def tokens(container, client):
    async with container.session_factory() as s:
        for role in ROLES:
            await create_user(s, username=role, password=PASSWORD, role=role)
        await s.commit()
    out = {}
    for role in ROLES:
        r = await client.post("/api/v1/auth/login", json={"username": role, "password": PASSWORD})
        assert r.status == 200
        out[role] = (await r.json())["token"]
    client.session.cookie_jar.clear()  # requests below authenticate explicitly, or not at all
    return out


def _auth(token):
    return {"Authorization": f"Bearer {token}"}


def _concrete(path: str) -> str:
    path = re.sub(r"{reference}", "GU-2026-000001", path)
    return re.sub(r"{[^}]+}", "1", path)


async def test_given_each_role_then_each_route_allows_exactly_its_roles(client, tokens):
    # A ticket exists, so routes on {reference} reach their handler.
    r = await client.post("/api/v1/tickets", json={"channel": "phone"}, headers=_auth(tokens["operator"]))
    assert r.status == 201
    routes = [rt for rt in client.server.app[ROUTES] if rt.roles is not None]
    routes.sort(key=lambda rt: rt.path == "/api/v1/auth/logout")  # logging out revokes: last
    assert len(routes) >= 25
    for route in routes:
        path = _concrete(route.path)
        r = await client.request(route.method, path, json={})
        assert r.status == 401, f"anonymous {route.method} {path} got {r.status}"
        assert (await r.json())["error"] == "authentication_required"
        for role in ROLES:
            r = await client.request(route.method, path, json={}, headers=_auth(tokens[role]))
            if role in route.roles:
                assert r.status not in (401, 403), f"{role} {route.method} {path} got {r.status}"
                assert r.status < 500, f"{role} {route.method} {path} got {r.status}: {await r.text()}"
            else:
                assert r.status == 403, f"{role} {route.method} {path} got {r.status}"
                assert (await r.json())["error"] == "forbidden"


async def test_given_auditor_then_reads_but_cannot_write(client, tokens):
    h = _auth(tokens["auditor"])
    assert (await client.get("/api/v1/tickets", headers=h)).status == 200
    assert (await client.get("/api/v1/catalogue", headers=h)).status == 200
    r = await client.post("/api/v1/tickets", json={"channel": "phone"}, headers=h)
    assert r.status == 403


async def test_given_bad_fields_then_422_with_error_id_and_field(client, tokens):
    h = _auth(tokens["operator"])
    r = await client.post("/api/v1/tickets", json={"channel": "fax"}, headers=h)
    body = await r.json()
    assert (r.status, body["error"], body["field"]) == (422, "invalid_field", "channel")
    r = await client.post("/api/v1/tickets", json={"channel": "phone", "surprise": 1}, headers=h)
    assert (r.status, (await r.json())["field"]) == (422, "surprise")
    r = await client.post("/api/v1/tickets", data="{not json", headers={**h, "Content-Type": "application/json"})
    assert (r.status, (await r.json())["error"]) == (400, "invalid_json")
    r = await client.get("/api/v1/tickets?limit=100000", headers=h)
    assert (r.status, (await r.json())["field"]) == (422, "limit")
    r = await client.get("/api/v1/tickets/GU-1999-000009", headers=h)
    assert (r.status, (await r.json())["error"]) == (404, "not_found")


async def test_given_wrong_password_or_expired_token_then_401(client, tokens):
    r = await client.post("/api/v1/auth/login", json={"username": "admin", "password": "wrong password!"})
    assert (r.status, (await r.json())["error"]) == (401, "invalid_credentials")
    r = await client.post("/api/v1/auth/login", json={"username": "nobody", "password": "wrong password!"})
    assert r.status == 401
    assert (await client.get("/api/v1/me", headers=_auth("forged"))).status == 401
    h = _auth(tokens["operator"])
    assert (await client.post("/api/v1/auth/logout", headers=h)).status == 200
    assert (await client.get("/api/v1/me", headers=h)).status == 401


async def test_given_operator_when_ticket_lives_through_api_then_each_step_is_visible(client, tokens):
    h = _auth(tokens["operator"])
    r = await client.post("/api/v1/tickets", headers=h, json={
        "channel": "phone", "audience": "avocat", "phone": "0612345678", "subject": "Connexion impossible"})
    t = await r.json()
    assert t["reference"] == "GU-2026-000001" and t["allowed_actions"] == ["take", "resolve", "escalate", "merge"]
    ref = t["reference"]
    r = await client.patch(f"/api/v1/tickets/{ref}/qualification", headers=h, json={
        "application": "tr-avocats-ta", "request_type": "connexion", "severity": 1})
    t = await r.json()
    assert (t["criticality"], t["priority"]) == (1, 1)
    r = await client.post(f"/api/v1/tickets/{ref}/actions", headers=h, json={"action": "escalate"})
    body = await r.json()
    assert (r.status, body["error"], body["field"]) == (422, "missing_escalation_information", "identifiant")
    r = await client.post(f"/api/v1/tickets/{ref}/actions", headers=h, json={
        "action": "escalate", "escalation_info": {"identifiant": "cab-77"}, "glpi_reference": "GLPI-1"})
    assert (await r.json())["status"] == "escalated_n2"
    r = await client.post(f"/api/v1/tickets/{ref}/actions", headers=h, json={"action": "close"})
    body = await r.json()
    assert (r.status, body["error"]) == (409, "transition_not_allowed")
    assert "remind" in body["details"]["allowed"]
    r = await client.get(f"/api/v1/tickets/{ref}/history", headers=h)
    actions = [x["action"] for x in (await r.json())["items"]]
    assert actions[0] == "create" and "escalate" in actions
    r = await client.get("/api/v1/requesters?phone=%2B33612345678", headers=h)
    [requester] = (await r.json())["items"]
    assert requester["audience"] == "avocat"
    r = await client.get(f"/api/v1/requesters/{requester['id']}", headers=h)
    assert [x["reference"] for x in (await r.json())["tickets"]] == [ref]
    # Every read of personal data above is traced.
    r = await client.get("/api/v1/audit-log?limit=500", headers=_auth(tokens["admin"]))
    traced = {(a["username"], a["action"], a["subject_type"]) for a in (await r.json())["items"]}
    assert ("operator", "read", "requester") in traced and ("operator", "read", "ticket_history") in traced


async def test_given_supervisor_when_saturday_opening_entered_then_business_time_counts_it(client, tokens):
    h = _auth(tokens["supervisor"])
    # Friday 6 March 2026 17:00 Paris + 1 HO: Monday 09:00 normally, Saturday 09:00 with the opening.
    q = "/api/v1/business-time?start=2026-03-06T17:00:00%2B01:00&hours=1"
    assert (await (await client.get(q, headers=h)).json())["due"] == "2026-03-09T08:00:00+00:00"
    r = await client.post("/api/v1/calendar/exceptions", headers=h, json={"day": "2026-03-07", "kind": "opening"})
    assert r.status == 201
    assert (await (await client.get(q, headers=h)).json())["due"] == "2026-03-07T08:00:00+00:00"
    r = await client.get("/api/v1/calendar?start=2026-03-07&end=2026-03-07", headers=h)
    assert len((await r.json())["days"][0]["windows"]) == 1


async def test_openapi_document_lists_every_route_with_roles(client):
    r = await client.get("/api/openapi.json")
    doc = await r.json()
    assert doc["openapi"].startswith("3.")
    ops = [(m, p) for p, item in doc["paths"].items() for m in item]
    assert len(ops) == len(client.server.app[ROUTES])
    assert doc["paths"]["/api/v1/tickets"]["post"]["x-roles"] == ["admin", "operator", "supervisor"]
    assert "TicketCreate" in doc["components"]["schemas"]


async def test_given_an_operator_with_a_softphone_then_its_secret_is_shown_once_and_kept_only_as_a_digest(
        container, client, tokens):
    from sqlalchemy import text

    from accounts.services import softphone_ha1
    from guichet.telephony_runtime import operator_accounts
    from telephony.asterisk_config import DigestHash

    r = await client.post("/api/v1/users", headers=_auth(tokens["admin"]), json={
        "username": "op42", "password": PASSWORD, "role": "operator", "sip_endpoint": "op42"})
    body = await r.json()
    assert r.status == 201 and len(body["sip_secret"]) >= 12
    secret = body["sip_secret"]
    r = await client.get("/api/v1/users", headers=_auth(tokens["admin"]))
    assert all("sip_secret" not in u for u in (await r.json())["items"])  # never shown again
    async with container.session_factory() as s:
        row = (await s.execute(text("SELECT * FROM users WHERE username = 'op42'"))).mappings().one()
    assert secret not in " ".join(str(v) for v in row.values())
    assert (row["sip_realm"], row["sip_ha1"]) == ("guichet", softphone_ha1("op42", "guichet", secret))
    assert ("op42", DigestHash("guichet", row["sip_ha1"])) in await operator_accounts(container)
