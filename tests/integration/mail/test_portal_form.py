"""The portal's mail form takes the mail path to the end: the user gets the acknowledgement
with the ticket's reference through the relay (sent by the gateway's outbox, as for a mail),
the operator's answer goes to the address typed in the form, and the user's answer to it
joins the same ticket."""

from __future__ import annotations

from tests.integration.mail.conftest import SUPPORT, mail, send, tickets
from tests.integration.mail.test_mail_api import tokens  # noqa: F401 - fixture

FORM = {"audience": "citoyen", "nom": "Jean Martin", "courriel": "j.martin@exemple.fr",
        "objet": "Accès à mon dossier", "message": "Je ne retrouve pas la requête déposée hier soir."}


async def test_given_a_form_sent_on_the_portal_then_the_user_gets_the_reference_by_mail_and_can_answer(
        gateway, container, relay, client, tokens):  # noqa: F811
    r = await client.post("/contact", data=FORM, allow_redirects=False)
    assert r.status == 303
    reference = r.headers["Location"].rsplit("/", 1)[-1]
    [ack] = await relay.wait_for(1)
    msg = ack.message
    assert (ack.mail_from, ack.rcpt_tos) == ("<>", ["j.martin@exemple.fr"])  # null return path (RFC 3834)
    assert reference in msg["Subject"] and "Accès à mon dossier" in msg["Subject"]
    assert msg["Auto-Submitted"] == "auto-replied" and reference in msg.get_content()
    # The operator answers by mail; the user's reply to it threads into the same ticket.
    r = await client.post(f"/api/v1/tickets/{reference}/mail-replies", headers=tokens["operator"],
                          json={"body": "Bonjour,\nvotre requête est bien enregistrée."})
    assert r.status == 202 and (await r.json())["to"] == ["j.martin@exemple.fr"]
    answer = (await relay.wait_for(2))[1].message
    await send(gateway, mail(subject=f"Re: {answer['Subject']}", sender="Jean Martin <j.martin@exemple.fr>",
                             headers={"In-Reply-To": answer["Message-ID"]}))
    assert [t.reference for t in await tickets(container)] == [reference]
    assert SUPPORT in answer["From"]


async def test_given_the_json_form_route_then_the_acknowledgement_goes_out_too(gateway, container, relay, client):
    r = await client.post("/api/v1/portal/messages", json=FORM)
    assert r.status == 201
    reference = (await r.json())["reference"]
    [ack] = await relay.wait_for(1)
    assert reference in ack.message["Subject"] and ack.rcpt_tos == ["j.martin@exemple.fr"]
