"""The portal in headless Chromium: every page passes axe-core with no violation and is
photographed; the mail form makes a ticket; a user chats with an operator and both see
every message in the same order, the ticket holds the transcript; a dropped connection
resumes the same conversation; outside opening hours the chat is not offered; the survey
records an answer."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from sqlalchemy import select

from tests.browser.conftest import PASSWORD, assert_accessible, screenshot

PAGES = [
    ("/", "accueil"),
    ("/contact", "contact"),
    ("/chat", "chat"),
    ("/mentions-legales", "mentions-legales"),
    ("/donnees-personnelles", "donnees-personnelles"),
    ("/cookies", "cookies"),
    ("/accessibilite", "accessibilite"),
    ("/plan-du-site", "plan-du-site"),
    ("/operateur/chat", "operateur-connexion"),
    ("/enquete/lien-qui-n-existe-pas", "enquete-introuvable"),
]


def api(portal, method: str, path: str, body: dict | None = None, headers: dict | None = None) -> Any:
    request = urllib.request.Request(portal.url + path, method=method, data=json.dumps(body).encode() if body else None,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=10) as r:
        return json.loads(r.read() or b"null")


def login_operator(page, portal) -> None:
    page.goto(portal.url + "/operateur/chat")
    page.get_by_label("Identifiant").fill("op01")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.get_by_role("button", name="Me rendre disponible").click()
    page.get_by_text("Vous êtes disponible").wait_for()


def start_chat(page, portal, question: str, audience: str = "citoyen") -> None:
    page.goto(portal.url + "/chat")
    page.locator(f"#audience-{audience}").check()
    page.get_by_label("Nom et prénom").fill("Jeanne Martin")
    page.get_by_label("Votre question").fill(question)
    page.get_by_role("button", name="Démarrer la conversation").click()
    page.locator("#chat-reference").get_by_text("Référence de votre demande").wait_for()


def messages(page, scope: str = "#chat-messages") -> list[str]:
    return page.locator(f"{scope} li .message__texte").all_inner_texts()


@pytest.mark.parametrize("path,name", PAGES)
def test_every_page_has_no_accessibility_violation(portal, new_page, screens, path, name):
    page = new_page()
    response = page.goto(portal.url + path)
    assert response.status in (200, 404)
    assert page.locator("html").get_attribute("lang") == "fr"
    if name == "operateur-connexion":
        page.get_by_label("Identifiant").wait_for()
    assert_accessible(page, path)
    screenshot(page, screens, name)


def test_small_screens_too(portal, new_page, screens):
    page = new_page(390, 844)
    page.goto(portal.url + "/")
    assert_accessible(page, "/ on a phone")
    screenshot(page, screens, "accueil-mobile")


def test_the_mail_form_creates_a_ticket(portal, new_page, screens):
    page = new_page()
    page.goto(portal.url + "/contact")
    page.get_by_role("button", name="Envoyer ma demande").click()  # empty: clear errors first
    page.get_by_role("heading", name="Le formulaire contient 5 erreurs").wait_for()
    assert page.evaluate("document.activeElement.id") == "erreurs"
    assert_accessible(page, "/contact with errors")
    screenshot(page, screens, "contact-erreurs")
    page.get_by_label("Administration", exact=False).first.check()
    page.get_by_label("Nom et prénom").fill("Paul Lefèvre")
    page.get_by_label("Adresse électronique").fill("paul.lefevre@prefecture.example.fr")
    page.get_by_label("Application concernée").select_option(label="Télérecours-administrations")
    page.get_by_label("Objet de votre demande").fill("Ajout d'un utilisateur")
    page.get_by_label("Votre message").fill("Bonjour, comment ajouter un agent à notre organisation ?")
    page.get_by_role("button", name="Envoyer ma demande").click()
    page.get_by_role("heading", name="Votre demande a bien été envoyée").wait_for()
    reference = page.locator(".reference").inner_text()
    assert_accessible(page, "/contact/envoye")
    screenshot(page, screens, "contact-envoye")
    ticket = api(portal, "GET", f"/api/v1/tickets/{reference}", headers=portal.supervisor["headers"])
    assert (ticket["channel"], ticket["subject"], ticket["audience"]) == ("mail", "Ajout d'un utilisateur",
                                                                          "administration")


def test_a_user_chats_with_an_operator_and_the_ticket_holds_the_transcript(portal, new_page, screens):
    operator = new_page(1280, 1000)
    login_operator(operator, portal)
    user = new_page()
    start_chat(user, portal, "Je n'arrive pas à déposer ma requête.")
    user.get_by_text("dans la file d’attente").or_(user.get_by_text("Un conseiller vous répond")).wait_for()
    screenshot(user, screens, "chat-attente")

    operator.get_by_role("button", name="Accepter").first.click()
    operator.locator(".conversation").first.wait_for()
    assert_accessible(operator, "/operateur/chat with a conversation")
    user.get_by_text("Un conseiller vous répond.").wait_for()

    user_lines = ["Le bouton « Déposer » reste grisé.", "<script>alert('xss')</script> & <b>gras</b>"]
    operator_lines = ["Avez-vous joint le document au format PDF ?", "Merci, je regarde."]
    reply_box = operator.locator(".conversation textarea").first
    for mine, theirs in zip(user_lines, operator_lines):
        user.get_by_label("Votre message").fill(mine)
        user.get_by_role("button", name="Envoyer", exact=True).click()
        operator.locator(".conversation .messages").first.get_by_text(mine, exact=True).wait_for()
        reply_box.fill(theirs)
        operator.locator(".conversation").first.get_by_role("button", name="Envoyer", exact=True).click()
        user.locator("#chat-messages").get_by_text(theirs, exact=True).wait_for()
    user.locator("#chat-messages .message--en-attente").wait_for(state="detached")
    expected = ["Je n'arrive pas à déposer ma requête.", "Un conseiller a rejoint la conversation.",
                user_lines[0], operator_lines[0], user_lines[1], operator_lines[1]]
    assert messages(user) == expected
    assert messages(operator, ".conversation .messages") == expected
    assert user.locator("#chat-messages script").count() == 0  # shown as text, never run
    assert_accessible(user, "/chat during a conversation")
    screenshot(user, screens, "chat-conversation")
    screenshot(operator, screens, "operateur-conversation")

    operator.locator(".conversation").first.get_by_role("button", name="Clore la conversation").click()
    user.get_by_role("heading", name="Conversation terminée").wait_for()
    user.get_by_label("Très satisfait").check()
    user.get_by_label("Commentaire").fill("Réponse claire.")
    assert_accessible(user, "/chat at the end, with the survey")
    screenshot(user, screens, "chat-fin-enquete")
    user.get_by_role("button", name="Envoyer mon avis").click()
    user.get_by_text("Merci pour votre avis.").wait_for()

    reference = user.locator("#chat-reference").inner_text().rsplit(" ", 1)[-1]
    chats = api(portal, "GET", f"/api/v1/chat/tickets/{reference}", headers=portal.supervisor["headers"])
    assert [m["text"] for m in chats["items"][0]["messages"]][:6] == expected
    history = api(portal, "GET", f"/api/v1/tickets/{reference}/history", headers=portal.supervisor["headers"])
    notes = [h["note"] for h in (history["items"] if isinstance(history, dict) else history) if h["action"] == "note"]
    assert len(notes) == 1 and all(line in notes[0] for line in expected)
    events = api(portal, "GET", "/api/v1/events?kind=survey_answered", headers=portal.supervisor["headers"])
    items = events["items"] if isinstance(events, dict) else events
    assert any(e["data"]["rating"] == "tres_satisfait" for e in items)


def test_a_dropped_connection_resumes_the_same_conversation(portal, new_page, screens):
    operator = new_page(1280, 1000)
    login_operator(operator, portal)
    user = new_page()
    start_chat(user, portal, "Ma session expire sans cesse.", audience="avocat")
    operator.get_by_role("button", name="Accepter").first.click()
    user.get_by_text("Un conseiller vous répond.").wait_for()
    reference = user.locator("#chat-reference").inner_text().rsplit(" ", 1)[-1]

    # The network drops: the server loses the user's connection without a close.
    async def cut() -> None:
        chat = next(c for c in portal.hub.chats.values() if c.reference == reference)
        chat.user.ws._req.transport.close()

    portal.run(cut())
    conv = operator.locator(".conversation", has_text=reference)
    conv.get_by_text("L’usager s’est déconnecté").or_(conv.get_by_text("L’usager est connecté.")).wait_for()
    conv.locator("textarea").fill("Je vous entends, restez en ligne.")
    conv.get_by_role("button", name="Envoyer", exact=True).click()
    user.locator("#chat-messages").get_by_text("Je vous entends, restez en ligne.").wait_for(timeout=20_000)
    user.get_by_text("Un conseiller vous répond.").wait_for()

    # Reloading the page (or the browser's own reconnection) resumes the same conversation too.
    user.reload()
    user.locator("#chat-messages").get_by_text("Je vous entends, restez en ligne.").wait_for()
    assert user.locator("#chat-reference").inner_text().endswith(reference)
    user.get_by_label("Votre message").fill("Me revoilà.")
    user.get_by_role("button", name="Envoyer", exact=True).click()
    conv.get_by_text("Me revoilà.").wait_for()
    texts = messages(user)
    assert texts.index("Je vous entends, restez en ligne.") < texts.index("Me revoilà.")
    screenshot(user, screens, "chat-reprise")
    user.get_by_role("button", name="Terminer la conversation").click()
    user.get_by_role("heading", name="Conversation terminée").wait_for()


def test_outside_opening_hours_the_chat_is_not_offered(portal, new_page, screens):
    exception = api(portal, "POST", "/api/v1/calendar/exceptions",
                    {"day": "2026-03-03", "kind": "closure", "note": "Fermeture exceptionnelle"},
                    headers=portal.supervisor["headers"])
    try:
        page = new_page()
        page.goto(portal.url + "/")
        page.get_by_text("Fermé actuellement").wait_for()
        assert page.get_by_role("link", name="Ouvrir le chat").count() == 0
        assert_accessible(page, "/ when closed")
        screenshot(page, screens, "accueil-ferme")
        page.goto(portal.url + "/chat")
        page.get_by_role("heading", name="Le chat est fermé actuellement").wait_for()
        assert page.locator("#chat-debut").count() == 0
        assert "mercredi 4 mars à 8 h 30" in page.locator("#chat-ferme").inner_text().replace("\u00a0", " ")
        page.get_by_role("link", name="Écrire au support").click()
        page.get_by_role("heading", name="Nous écrire").wait_for()
        page.goto(portal.url + "/chat")
        assert_accessible(page, "/chat when closed")
        screenshot(page, screens, "chat-ferme")
    finally:
        api(portal, "DELETE", f"/api/v1/calendar/exceptions/{exception['id']}", headers=portal.supervisor["headers"])


def test_the_survey_link_records_an_answer(portal, new_page, screens):
    ticket = api(portal, "POST", "/api/v1/portal/messages", {
        "audience": "citoyen", "nom": "Luc Moreau", "courriel": "luc.moreau@example.fr", "objet": "Mot de passe",
        "message": "Je n'ai pas reçu le courriel de réinitialisation."})
    invitation = api(portal, "POST", "/api/v1/surveys/invitations", {"reference": ticket["reference"]},
                     headers=portal.supervisor["headers"])
    page = new_page()
    page.goto(portal.url + invitation["path"])
    page.get_by_text(ticket["reference"]).first.wait_for()
    assert_accessible(page, "/enquete/<token>")
    screenshot(page, screens, "enquete")
    page.get_by_role("button", name="Envoyer mon avis").click()
    page.get_by_text("Choisissez l’une des trois réponses").or_(
        page.get_by_text("Choisissez l'une des trois réponses")).first.wait_for()
    assert_accessible(page, "/enquete with an error")
    page.get_by_label("Satisfait", exact=True).check()
    page.get_by_label("Commentaire").fill("Un peu long, mais résolu.")
    page.get_by_role("button", name="Envoyer mon avis").click()
    page.get_by_role("heading", name="Merci pour votre avis").wait_for()
    assert_accessible(page, "/enquete thanks")
    screenshot(page, screens, "enquete-merci")

    async def answer() -> Any:
        from chatgw.models import SatisfactionAnswer
        from ticket_core.models import Ticket

        async with portal.container.session_factory() as s:
            t = await s.scalar(select(Ticket).where(Ticket.reference == ticket["reference"]))
            return await s.get(SatisfactionAnswer, t.id)

    recorded = portal.run(answer())
    assert (recorded.rating, recorded.comment) == ("satisfait", "Un peu long, mais résolu.")
