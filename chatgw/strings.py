"""Every text of the chat gateway that a user or an operator reads (French), in one place
so that it can be reviewed and translated. Close reasons must stay under 123 bytes in
UTF-8 (the websocket protocol's limit)."""

from __future__ import annotations

# --- websocket close reasons (code: meaning) -------------------------------------------------
CLOSE_TOO_BIG = "Message trop long : {limit} caractères au plus."
CLOSE_FRAME_TOO_BIG = "Trame trop volumineuse : {limit} octets au plus."
CLOSE_BINARY = "Trame binaire refusée : seul le texte JSON est accepté."
CLOSE_NOT_JSON = "Trame illisible : un objet JSON est attendu."
CLOSE_BAD_FRAME = "Trame invalide : {detail}"
CLOSE_FLOOD = "Trop de messages envoyés : connexion fermée."
CLOSE_SLOW = "Connexion trop lente : fermée pour protéger le service."
CLOSE_NO_HELLO = "Aucune demande reçue : connexion fermée."
CLOSE_REPLACED = "Conversation reprise dans une autre fenêtre."
CLOSE_ENDED = "Conversation terminée."
CLOSE_UNKNOWN_TOKEN = "Conversation introuvable ou expirée."
CLOSE_CLOSED = "Le chat est fermé en dehors des heures d'ouverture."
CLOSE_SHUTDOWN = "Service en cours de redémarrage : reconnexion possible."
CLOSE_TOO_MANY_STARTS = "Trop de conversations ouvertes depuis votre adresse : réessayez plus tard."

# --- errors sent as frames (the connection stays open) ------------------------------------------
ERR_RATE_LIMITED = "Vous envoyez des messages trop vite : ce message n'a pas été envoyé, réessayez dans un instant."
ERR_NOT_SAVED = "Le message n'a pas pu être enregistré : réessayez."
ERR_CHAT_ENDED = "La conversation est terminée."
ERR_NO_SUCH_CONVERSATION = "Cette conversation ne vous est pas attribuée."
ERR_NOT_ALLOWED = "Action impossible : {detail}"
DISPATCH_ERRORS = {
    "offer_not_found": "Cette proposition n'est plus valable : elle a expiré ou a été retirée.",
    "chat_not_found": "Cette conversation est terminée.",
    "operator_not_connected": "Votre connexion n'est pas établie : rechargez la page.",
    "operator_not_found": "Votre compte n'est pas reconnu pour le chat : rechargez la page.",
}

# --- system messages written into the transcript ------------------------------------------------
SYS_JOINED = "Un conseiller a rejoint la conversation."
SYS_OPERATOR_LOST = ("Votre conseiller a été déconnecté. La conversation reprend sa place dans la file : "
                     "un autre conseiller va vous répondre.")
SYS_ENDED = {
    "user_ended": "Conversation terminée par l'usager.",
    "operator_closed": "Conversation terminée par le conseiller.",
    "user_left": "Conversation terminée : l'usager ne s'est pas reconnecté.",
    "abandoned": "Conversation abandonnée avant la réponse d'un conseiller.",
}

# --- the transcript added to the ticket ---------------------------------------------------------
TRANSCRIPT_TITLE = "Transcription du chat {conversation} ({date}, heure de Paris)"
SENDER_LABELS = {"user": "Usager", "operator": "Conseiller", "system": "Système"}
TICKET_SUBJECT = "Chat : {text}"
