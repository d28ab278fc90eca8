"""Every text of the mail gateway that a user or an operator reads, in French, in one
place so it can be reviewed and translated."""

from __future__ import annotations

NO_SUBJECT = "(sans objet)"
UNREADABLE_SUBJECT = "(courriel illisible)"
UNREADABLE_DESCRIPTION = (
    "Ce courriel n'a pas pu être lu automatiquement (structure MIME incomplète ou invalide, "
    "ou expéditeur illisible). Le message brut est conservé : un superviseur peut le "
    "télécharger depuis le ticket."
)
PREVIOUS_TICKET_CLOSED = "Suite du ticket {reference} (clos) reçue par courriel."

INBOUND_NOTE = "Courriel reçu de {sender}\nObjet : {subject}{attachments}\n\n{body}"
INBOUND_NOTE_ATTACHMENTS = "\nPièces jointes : {names}"
REPLY_NOTE = "Réponse envoyée par courriel à {to}\nObjet : {subject}\n\n{body}"
ATTACHMENT_OVER_QUOTA = "Pièce jointe non conservée (quota par courriel dépassé) : {name}"

ACK_SUBJECT = "[{reference}] Accusé de réception : {subject}"
ACK_BODY = """Bonjour,

Nous avons bien reçu votre message et l'avons enregistré sous la référence {reference}.

Un conseiller de l'assistance le traitera pendant nos heures d'ouverture
({opening} – {closing}, jours ouvrés, hors jours fériés).

Pour compléter votre demande, répondez simplement à ce courriel en conservant la
référence {reference} dans l'objet.

Ceci est un message automatique : merci de ne pas y joindre de données sensibles.

{signature}
"""

REPLY_SUBJECT = "Re: [{reference}] {subject}"
REPLY_FOOTER = """

--
{signature}
Référence de votre demande : {reference}
Pour nous répondre, conservez cette référence dans l'objet de votre courriel.
"""

SMTP_OK = "250 2.0.0 Ok: {reference}"
SMTP_RELAY_DENIED = "550 5.7.1 Relay access denied: this server only accepts mail for its own domains"
SMTP_TEMPORARY = "451 4.3.0 Temporary failure, message not accepted: please retry"
SMTP_TOO_BIG = "552 5.3.4 Message size exceeds fixed maximum message size"
SMTP_TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"
