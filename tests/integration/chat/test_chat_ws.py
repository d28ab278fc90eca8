"""Live chat over websockets on the real application, on SQLite and PostgreSQL: a chat
from start to ticket with transcript, queue positions and capacity, resume after a dropped
connection, durable-before-ack, bad input and floods that close one connection only,
opening hours, operators' authentication, restart."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import func, select

from chatgw import runtime
from chatgw.models import ChatConversation, ChatMessage
from ticket_core.models import JournalEvent, Ticket, TicketHistory
from tests.integration.chat.conftest import (
    closed,
    frame,
    make_operator,
    operator_ready,
    position_reaches,
    start_chat,
)


async def _events(container, kind: str) -> list[JournalEvent]:
    async with container.session_factory() as s:
        return list(await s.scalars(select(JournalEvent).where(JournalEvent.kind == kind).order_by(JournalEvent.id)))


async def test_a_chat_from_start_to_ticket_with_its_transcript(chat_client, container, clock):
    client = chat_client
    alice = await make_operator(container, "alice", {"citoyen": 3})
    user, started = await start_chat(client, name="Jeanne Martin", email="Jeanne.Martin@example.fr", id="q1")
    assert started["reference"].startswith("GU-2026-")
    assert started["messages"][0] == {"seq": 1, "from": "user", "text": "Bonjour, je n'arrive pas à me connecter.",
                                      "at": "2026-03-03T09:00:00+00:00", "id": "q1"}
    assert (await frame(user, "queued"))["position"] == 1

    clock.advance(seconds=42)
    op, hello = await operator_ready(client, alice)
    assert hello["capacity"] == 2 and hello["conversations"] == []
    offer = await frame(op, "offer")
    assert offer["conversation"] == started["conversation"] and offer["reference"] == started["reference"]
    assert offer["preview"] == "Bonjour, je n'arrive pas à me connecter." and offer["audience"] == "citoyen"
    await op.send_json({"type": "accept", "conversation": offer["conversation"]})
    conv = await frame(op, "conversation")
    assert [m["seq"] for m in conv["messages"]][:1] == [1]
    await frame(user, "assigned")
    joined = await frame(user, "message")
    assert joined["from"] == "system"

    await user.send_json({"type": "typing", "on": True})
    assert (await frame(op, "typing"))["on"] is True
    await user.send_json({"type": "message", "text": "Mon identifiant est jmartin.", "id": "m2"})
    ack = await frame(user, "ack")
    async with container.session_factory() as s:  # durable before acknowledged
        row = await s.scalar(select(ChatMessage).where(ChatMessage.client_id == "m2"))
    assert row is not None and row.seq == ack["seq"]
    got = await frame(op, "message")
    assert (got["seq"], got["from"], got["text"]) == (ack["seq"], "user", "Mon identifiant est jmartin.")
    await op.send_json({"type": "message", "conversation": offer["conversation"],
                        "text": "Je réinitialise votre mot de passe.", "id": "r1"})
    op_ack = await frame(op, "ack")
    reply = await frame(user, "message")
    assert reply["seq"] == op_ack["seq"] == ack["seq"] + 1 and reply["from"] == "operator"

    clock.advance(minutes=3)
    await op.send_json({"type": "close", "conversation": offer["conversation"]})
    skipped: list = []
    ended = await frame(user, "ended", skipped=skipped)
    assert ended["reason"] == "operator_closed" and ended["survey"]
    assert skipped[-1]["from"] == "system"  # "Conversation terminée par le conseiller."
    assert (await closed(user))[0] == 1000
    assert (await frame(op, "ended"))["conversation"] == offer["conversation"]

    async with container.session_factory() as s:
        ticket = await s.scalar(select(Ticket).where(Ticket.reference == started["reference"]))
        assert (ticket.channel, ticket.audience_code, ticket.assignee_id) == ("chat", "citoyen", alice["id"])
        assert ticket.taken_in_charge_at is not None
        notes = list(await s.scalars(select(TicketHistory.note).where(
            TicketHistory.ticket_id == ticket.id, TicketHistory.action == "note")))
        conv_row = await s.scalar(select(ChatConversation).where(ChatConversation.ticket_id == ticket.id))
        texts = list(await s.scalars(select(ChatMessage.body).where(ChatMessage.conversation_id == conv_row.id)
                                     .order_by(ChatMessage.seq)))
    assert conv_row.status == "ended" and conv_row.end_reason == "operator_closed"
    assert len(notes) == 1
    transcript = notes[0]
    for text in ("Bonjour, je n'arrive pas à me connecter.", "Mon identifiant est jmartin.",
                 "Je réinitialise votre mot de passe."):
        assert text in transcript
    assert transcript.index("jmartin") < transcript.index("réinitialise")
    assert len(texts) == 5  # question, joined, message, reply, ended
    answered = await _events(container, "chat_answered")
    assert answered[0].data["wait_seconds"] == 42 and answered[0].operator_id == alice["id"]
    (ended_fact,) = await _events(container, "chat_ended")
    assert ended_fact.data["reason"] == "operator_closed" and ended_fact.data["answered"] is True
    assert ended_fact.data["messages_user"] == 2 and ended_fact.data["messages_operator"] == 1
    assert len(await _events(container, "chat_started")) == 1

    r = await client.get(f"/api/v1/chat/tickets/{started['reference']}", headers=alice["headers"])
    body = await r.json()
    assert [m["text"] for m in body["items"][0]["messages"]][2] == "Mon identifiant est jmartin."
    await op.close()


async def test_an_operator_holds_up_to_capacity_and_others_wait_with_their_position(chat_client, container):
    client = chat_client
    bob = await make_operator(container, "bob", {"avocat": 2})
    users = [await start_chat(client, audience="avocat", message=f"Question {i}") for i in range(3)]
    assert [(await frame(ws, "queued"))["position"] for ws, _ in users] == [1, 2, 3]
    op, _ = await operator_ready(client, bob)
    for _ in range(2):
        offer = await frame(op, "offer")
        await op.send_json({"type": "accept", "conversation": offer["conversation"]})
        await frame(op, "conversation")
    third_ws, third = users[2]
    await position_reaches(third_ws, 1)  # the first two are served
    await op.send_json({"type": "close", "conversation": users[0][1]["conversation"]})
    offer = await frame(op, "offer")
    assert offer["conversation"] == third["conversation"]
    for ws, _ in users:
        await ws.close()
    await op.close()


async def test_unskilled_operator_gets_nothing_and_declines_go_to_the_next_operator(chat_client, container):
    client = chat_client
    a = await make_operator(container, "anne", {"citoyen": 5})
    b = await make_operator(container, "benoit", {"citoyen": 1})
    c = await make_operator(container, "claire", {"avocat": 5})
    op_c, _ = await operator_ready(client, c)
    op_a, _ = await operator_ready(client, a)
    op_b, _ = await operator_ready(client, b)
    user, started = await start_chat(client)
    first = await frame(op_a, "offer")  # highest level first
    await op_a.send_json({"type": "decline", "conversation": first["conversation"]})
    assert (await frame(op_a, "offer_withdrawn"))["reason"] == "declined"
    second = await frame(op_b, "offer")
    assert second["conversation"] == started["conversation"]
    await op_b.send_json({"type": "accept", "conversation": second["conversation"]})
    await frame(user, "assigned")
    # Someone else's conversation cannot be written to.
    await op_a.send_json({"type": "message", "conversation": started["conversation"], "text": "intrus", "id": "x"})
    assert (await frame(op_a, "error"))["code"] == "not_held"
    for ws in (user, op_a, op_b, op_c):
        await ws.close()


async def test_a_dropped_connection_resumes_the_same_conversation(chat_client, container, hub):
    client = chat_client
    op_user = await make_operator(container, "dora", {"administration": 3})
    op, _ = await operator_ready(client, op_user)
    user, started = await start_chat(client, audience="administration")
    offer = await frame(op, "offer")
    await op.send_json({"type": "accept", "conversation": offer["conversation"]})
    await frame(op, "conversation")
    await frame(user, "assigned")
    last = (await frame(user, "message"))["seq"]  # the "joined" message
    await user.close()  # the connection drops
    assert (await frame(op, "user_status"))["connected"] is False
    await op.send_json({"type": "message", "conversation": offer["conversation"], "text": "Êtes-vous là ?", "id": "o1"})
    missed_seq = (await frame(op, "ack"))["seq"]

    again = await client.ws_connect("/chat/ws")
    await again.send_json({"type": "resume", "token": started["token"], "last_seq": last})
    resumed = await frame(again, "resumed")
    assert resumed["conversation"] == started["conversation"] and resumed["state"] == "active"
    assert [(m["seq"], m["text"]) for m in resumed["messages"]] == [(missed_seq, "Êtes-vous là ?")]
    assert (await frame(op, "user_status"))["connected"] is True
    # A message re-sent after a lost ack is saved once.
    await again.send_json({"type": "message", "text": "Oui, me revoilà.", "id": "u7"})
    first_ack = await frame(again, "ack")
    await again.send_json({"type": "message", "text": "Oui, me revoilà.", "id": "u7"})
    assert (await frame(again, "ack"))["seq"] == first_ack["seq"]
    async with container.session_factory() as s:
        count = await s.scalar(select(func.count()).select_from(ChatMessage).where(ChatMessage.client_id == "u7"))
    assert count == 1
    # A second window resuming the same chat replaces the first one.
    third = await client.ws_connect("/chat/ws")
    await third.send_json({"type": "resume", "token": started["token"], "last_seq": first_ack["seq"]})
    await frame(third, "resumed")
    code, reason = await closed(again)
    assert code == 4000 and "autre fenêtre" in reason
    for ws in (third, op):
        await ws.close()


async def test_a_user_who_does_not_come_back_ends_the_chat_after_the_resume_window(chat_client, container, hub, clock):
    client = chat_client
    user, started = await start_chat(client)
    await frame(user, "queued")
    await user.close()
    await asyncio.sleep(0.05)
    clock.advance(seconds=61)
    await hub.tick()
    (ended,) = await _events(container, "chat_ended")
    assert ended.data["reason"] == "abandoned" and ended.data["answered"] is False
    late = await client.ws_connect("/chat/ws")
    await late.send_json({"type": "resume", "token": started["token"], "last_seq": 0})
    got = await frame(late, "ended")
    assert got["reason"] == "abandoned" and got["survey"] is None
    assert (await closed(late))[0] == 1000


async def test_bad_frames_close_that_connection_only_with_a_clear_reason(chat_client, container):
    client = chat_client
    bystander, _ = await start_chat(client, message="Je suis un usager tranquille.")
    await frame(bystander, "queued")

    cases = [
        ("x" * 3000, 1009, "octets"),  # frame over max_frame_bytes (2048)
        ("pas du json", 1007, "JSON"),
        ('{"type": "dance"}', 1007, "invalide"),
        ('["start"]', 1007, "JSON"),
        ('{"type": "start", "audience": "citoyen", "message": "' + "é" * 201 + '"}', 1009, "200"),
        ('{"type": "message", "text": "avant de commencer"}', 1008, "start"),
    ]
    for payload, code, words in cases:
        ws = await client.ws_connect("/chat/ws")
        await ws.send_str(payload)
        got_code, reason = await closed(ws)
        assert (got_code, words in reason) == (code, True), (payload[:40], got_code, reason)
    ws = await client.ws_connect("/chat/ws")
    await ws.send_bytes(b"\x00\x01")
    assert (await closed(ws))[0] == 1003
    # In a conversation: an oversized message closes it (the chat can be resumed).
    ws, started = await start_chat(client)
    await ws.send_json({"type": "message", "text": "a" * 201})
    code, reason = await closed(ws)
    assert code == 1009 and "Message trop long" in reason

    # The other chat did not notice.
    await bystander.send_json({"type": "message", "text": "Toujours là.", "id": "b1"})
    assert (await frame(bystander, "ack"))["id"] == "b1"
    await bystander.close()


async def test_a_flood_is_rate_limited_then_closed(chat_client, container):
    client = chat_client
    ws, started = await start_chat(client)
    for i in range(40):
        await ws.send_json({"type": "message", "text": f"spam {i}", "id": f"s{i}"})
    acks = errors = 0
    code = None
    while True:
        msg = await ws.receive(timeout=5)
        if msg.type.name == "CLOSE":
            code, reason = msg.data, msg.extra
            break
        data = msg.json()
        acks += data["type"] == "ack"
        errors += data["type"] == "error" and data["code"] == "rate_limited"
    assert code == 1008 and "Trop de messages" in reason
    assert acks <= 6 and errors >= 4
    async with container.session_factory() as s:
        conv = await s.scalar(select(ChatConversation).where(ChatConversation.public_id == started["conversation"]))
        stored = await s.scalar(select(func.count()).select_from(ChatMessage).where(
            ChatMessage.conversation_id == conv.id, ChatMessage.sender == "user"))
    assert stored == acks + 1  # the question + what was acknowledged, nothing else


async def test_markup_in_a_message_is_kept_as_text(chat_client, container):
    client = chat_client
    payload = "<script>alert('x')</script> & <b>gras</b>"
    ws, started = await start_chat(client, message=payload)
    assert started["messages"][0]["text"] == payload
    await ws.send_json({"type": "message", "text": "ligne\r\nsuivante\x00", "id": "n1"})
    await frame(ws, "ack")
    async with container.session_factory() as s:
        bodies = list(await s.scalars(select(ChatMessage.body).order_by(ChatMessage.seq)))
    assert bodies == [payload, "ligne\nsuivante"]
    await ws.close()


async def test_outside_opening_hours_the_chat_is_closed_and_the_form_offered(chat_client, container, clock):
    client = chat_client
    clock.now = datetime(2026, 3, 8, 10, 0, tzinfo=UTC)  # a Sunday
    r = await client.get("/api/v1/chat/status")
    status = await r.json()
    assert status["open"] is False and status["next_change"].startswith("2026-03-09T07:30")
    ws = await client.ws_connect("/chat/ws")
    await ws.send_json({"type": "start", "audience": "citoyen", "message": "Bonjour"})
    got = await frame(ws, "closed")
    assert got["next_opening"].startswith("2026-03-09T07:30")
    assert await closed(ws) == (1000, "Le chat est fermé en dehors des heures d'ouverture.")
    async with container.session_factory() as s:
        assert await s.scalar(select(func.count()).select_from(Ticket)) == 0
    page = await (await client.get("/chat")).text()
    assert "Le chat est fermé actuellement" in page and 'href="/contact"' in page
    assert 'id="chat-debut"' not in page


async def test_operators_authenticate_with_their_role(chat_client, container):
    client = chat_client
    auditor = await make_operator(container, "audrey", {}, role="auditor")
    supervisor = await make_operator(container, "sam", {}, role="supervisor")
    r = await client.get("/chat/operator/ws")
    assert r.status == 401
    r = await client.get("/chat/operator/ws", headers={**auditor["headers"], "Upgrade": "websocket",
                                                        "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
                                                        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert r.status == 403
    # The session cookie works from the portal's own pages, not from another site's.
    cookie = {"Cookie": f"guichet_session={supervisor['token']}"}
    r = await client.get("/chat/operator/ws", headers={**cookie, "Origin": "http://evil.example"})
    assert r.status == 403
    ws = await client.ws_connect("/chat/operator/ws", headers=cookie)
    hello = await frame(ws, "hello")
    assert set(hello["skills"]) == {"avocat", "administration", "citoyen"}  # supervisors back everyone up
    await ws.close()


async def test_a_restarted_hub_puts_open_chats_back(chat_client, container, hub, chat_settings):
    client = chat_client
    eve = await make_operator(container, "eve", {"citoyen": 3})
    op, _ = await operator_ready(client, eve)
    active_user, active = await start_chat(client, message="Chat actif")
    offer = await frame(op, "offer")
    await op.send_json({"type": "accept", "conversation": offer["conversation"]})
    await frame(op, "conversation")
    await op.send_json({"type": "pause"})
    waiting_user, waiting = await start_chat(client, message="Chat en attente")
    await frame(waiting_user, "queued")
    await op.close()
    await active_user.close()
    await waiting_user.close()
    await asyncio.sleep(0.05)

    from chatgw.hub import ChatHub

    fresh = ChatHub(container, chat_settings)
    await fresh.start()
    try:
        assert fresh.dispatcher.chat(active["conversation"])["status"] == "active"
        assert fresh.dispatcher.chat(active["conversation"])["operator_id"] == str(eve["id"])
        assert fresh.dispatcher.position(waiting["conversation"]) == 1
        assert fresh.writer._next[fresh.chats[active["conversation"]].db_id] >= 3
    finally:
        await fresh.stop()
