"""The portal on the real application, on SQLite and PostgreSQL: every page answers in
French with its security headers, the mail form makes a mail ticket (with the
``mail_received`` {source: portal} fact and the raw submission) or says clearly what is
wrong, anti-abuse (honeypot, size, per-address rate), the satisfaction survey by link and
by API (one answer per ticket, journaled with its rating), and the portal on its own."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from chatgw.models import PortalSubmission, SatisfactionAnswer
from mailgw.models import MailMessage
from ticket_core.models import JournalEvent, Ticket
from tests.integration.chat.conftest import make_operator

PAGES = ["/", "/contact", "/chat", "/mentions-legales", "/donnees-personnelles", "/cookies", "/accessibilite",
         "/plan-du-site", "/operateur/chat"]
FORM = {"audience": "avocat", "nom": "Maître Anne Durand", "courriel": "a.durand@cabinet.example.fr",
        "application": "tr-avocats-ta", "objet": "Dépôt impossible",
        "message": "Le dépôt de mon mémoire échoue avec le message « erreur 500 »."}


async def test_every_page_answers_in_french_with_strict_headers(chat_client):
    for path in PAGES:
        r = await chat_client.get(path)
        html = await r.text()
        assert r.status == 200, path
        assert '<html lang="fr"' in html and "<title>" in html
        assert "default-src 'self'" in r.headers["Content-Security-Policy"]
        assert r.headers["X-Frame-Options"] == "DENY"
        assert "https://" not in html.split("<body>")[0], f"{path} loads something from elsewhere"
    r = await chat_client.get("/static/portail/portail.css")
    assert r.status == 200


async def test_the_mail_form_makes_a_mail_ticket_with_its_fact_and_raw_submission(chat_client, container):
    r = await chat_client.post("/contact", data=FORM, allow_redirects=False)
    assert r.status == 303
    reference = r.headers["Location"].rsplit("/", 1)[-1]
    page = await (await chat_client.get(r.headers["Location"])).text()
    assert reference in page and "bien été envoyée" in page
    async with container.session_factory() as s:
        ticket = await s.scalar(select(Ticket).where(Ticket.reference == reference))
        facts = list(await s.scalars(select(JournalEvent).where(JournalEvent.ticket_id == ticket.id)
                                     .order_by(JournalEvent.id)))
        submission = await s.scalar(select(PortalSubmission).where(PortalSubmission.ticket_id == ticket.id))
    assert (ticket.channel, ticket.audience_code, ticket.subject) == ("mail", "avocat", "Dépôt impossible")
    assert ticket.taken_in_charge_due_at is not None  # the mail clock runs (T2-IQ05)
    assert ticket.application_id is not None and ticket.source_ref == f"portal:{submission.id}"
    mail = [f for f in facts if f.kind == "mail_received"]
    assert len(mail) == 1 and mail[0].data["source"] == "portal" and mail[0].channel == "mail"
    assert "courriel=a.durand%40cabinet.example.fr" in submission.raw
    assert submission.fields["nom"] == "Maître Anne Durand"
    # the acknowledgement with the reference waits in the outbox, committed with the ticket
    assert mail[0].data["acknowledgement"] == "queued"
    async with container.session_factory() as s:
        acks = list(await s.scalars(select(MailMessage).where(MailMessage.ticket_id == ticket.id)))
    assert [(m.direction, m.kind, m.counterpart) for m in acks] == [("out", "ack", "a.durand@cabinet.example.fr")]
    assert reference in acks[0].subject


async def test_form_errors_are_clear_and_keep_what_was_typed(chat_client, container):
    bad = {**FORM, "courriel": "pas-une-adresse", "message": "court", "audience": ""}
    r = await chat_client.post("/contact", data=bad)
    html = await r.text()
    assert r.status == 422
    assert "Le formulaire contient 3 erreurs" in html
    assert "L&#39;adresse électronique n&#39;est pas valide" in html
    assert 'aria-invalid="true"' in html and 'href="#champ-courriel"' in html
    assert 'value="Maître Anne Durand"' in html  # nothing typed is lost
    async with container.session_factory() as s:
        assert await s.scalar(select(func.count()).select_from(Ticket)) == 0


async def test_honeypot_oversize_and_rate_limit_refuse_without_a_ticket(chat_client, container, chat_settings):
    r = await chat_client.post("/contact", data={**FORM, "champ_controle": "http://spam.example"})
    assert r.status == 400 and "Ne pas remplir" in await r.text()
    r = await chat_client.post("/contact", data={**FORM, "message": "x" * 40000})
    assert r.status == 413 and "trop volumineux" in await r.text()
    r = await chat_client.post("/contact", data={**FORM, "message": "y" * (chat_settings.form_max_message + 1)})
    assert r.status == 422 and "ne doit pas dépasser" in await r.text()
    async with container.session_factory() as s:
        assert await s.scalar(select(func.count()).select_from(Ticket)) == 0
    statuses = [(await chat_client.post("/contact", data=FORM, allow_redirects=False)).status
                for _ in range(chat_settings.forms_per_ip + 1)]
    assert statuses == [303] * chat_settings.forms_per_ip + [429]


async def test_markup_typed_in_the_form_is_shown_as_text(chat_client):
    r = await chat_client.post("/contact", data={**FORM, "nom": "<script>alert(1)</script>", "courriel": "x"})
    html = await r.text()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


async def test_the_json_form_route_answers_with_the_reference(chat_client, container):
    r = await chat_client.post("/api/v1/portal/messages", json=FORM)
    assert r.status == 201 and (await r.json())["reference"].startswith("GU-")
    r = await chat_client.post("/api/v1/portal/messages", json={**FORM, "courriel": "non"})
    body = await r.json()
    assert r.status == 422 and body["field"] == "courriel"


async def test_the_survey_by_link_records_one_answer_per_ticket(chat_client, container):
    op = await make_operator(container, "olga", {"citoyen": 2})
    r = await chat_client.post("/contact", data=FORM, allow_redirects=False)
    reference = r.headers["Location"].rsplit("/", 1)[-1]
    r = await chat_client.post("/api/v1/surveys/invitations", json={"reference": reference}, headers=op["headers"])
    invitation = await r.json()
    assert r.status == 201 and invitation["url"].endswith(invitation["path"])
    page = await (await chat_client.get(invitation["path"])).text()
    assert reference in page and "Très satisfait" in page and "Insatisfait" in page
    r = await chat_client.post(invitation["path"], data={"commentaire": "rien coché"})
    assert r.status == 422 and "Choisissez l&#39;une des trois réponses" in await r.text()
    r = await chat_client.post(invitation["path"], data={"note": "tres_satisfait", "commentaire": "Rapide, merci."})
    assert r.status == 200 and "Merci pour votre avis" in await r.text()
    again = await (await chat_client.get(invitation["path"])).text()
    assert "déjà donné votre avis" in again
    # A second link for the same ticket cannot answer twice.
    r = await chat_client.post("/api/v1/surveys/invitations", json={"reference": reference}, headers=op["headers"])
    r = await chat_client.post(f"/api/v1/surveys/{(await r.json())['token']}", json={"rating": "insatisfait"})
    assert r.status == 409 and (await r.json())["error"] == "survey_already_answered"
    async with container.session_factory() as s:
        answer = await s.scalar(select(SatisfactionAnswer))
        facts = list(await s.scalars(select(JournalEvent).where(JournalEvent.kind == "survey_answered")))
    assert (answer.rating, answer.comment) == ("tres_satisfait", "Rapide, merci.")
    assert len(facts) == 1 and facts[0].data == {"rating": "tres_satisfait", "source": "mail"}
    assert "Rapide" not in str(facts[0].data)  # the comment stays out of the journal
    assert (await chat_client.get("/enquete/unlieninconnu123")).status == 404


async def test_the_portal_runs_on_its_own(container):
    from web_pages.__main__ import create_portal_app

    async with TestClient(TestServer(create_portal_app(container), host="127.0.0.1")) as alone:
        for path in ["/", "/contact", "/chat", "/donnees-personnelles"]:
            assert (await alone.get(path)).status == 200
        assert (await alone.get("/api/v1/chat/status")).status == 200
        r = await alone.post("/contact", data=FORM, allow_redirects=False)
        assert r.status == 303
        assert (await alone.get("/api/v1/tickets")).status == 404  # the rest of the API is not there
        ws = await alone.ws_connect("/chat/ws")
        await ws.send_json({"type": "start", "audience": "citoyen", "message": "Bonjour"})
        assert (await ws.receive_json(timeout=5))["type"] == "started"
        await ws.close()
