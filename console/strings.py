"""Every text of the console and the wallboard that is not in a template (French), in
one place to review and translate. The scripts receive them through the page (``data-``
attributes and the JSON of ``textes``), never hard-coded in JavaScript."""

from __future__ import annotations

STATES = {
    "logged_out": "Déconnecté",
    "available": "Disponible",
    "ringing": "Sonnerie",
    "on_call": "En communication",
    "wrap_up": "Post-appel",
    "paused": "En pause",
}

# Short labels of the queues when the catalogue has none; the catalogue's labels win.
QUEUES = {"avocat": "Avocats", "administration": "Administrations", "citoyen": "Citoyens"}

TICKET_STATUS = {
    "new": "Nouveau",
    "in_progress": "En cours",
    "resolved": "Résolu",
    "escalated_n2": "Escaladé N2",
    "returned_to_n1": "Retourné au N1",
    "info_requested": "Information demandée",
    "escalated_n3": "Escaladé N3",
    "technically_closed": "Clôture technique",
    "closed": "Clos",
    "merged": "Fusionné",
}

CHANNELS = {"phone": "Téléphone", "mail": "Courriel", "chat": "Chat", "portal": "Portail"}

CRITICALITY = {1: "Haute", 2: "Moyenne", 3: "Basse"}

# The fields N2 needs (request types' ``escalation_fields``), as the operator reads them.
ESCALATION_FIELDS = {
    "identifiant": "Identifiant de l'utilisateur",
    "identifiant_a_fusionner": "Identifiant à fusionner",
    "message_erreur": "Message d'erreur affiché",
    "numero_dossier": "Numéro de dossier",
    "juridiction": "Juridiction",
    "document": "Document concerné",
    "adresse_courriel": "Adresse électronique concernée",
    "organisation": "Organisation (cabinet, administration)",
}

CALLBACK_STATES = {"scheduled": "Planifié", "dialing": "En cours", "done": "Abouti",
                   "exhausted": "Épuisé", "cancelled": "Annulé"}

ALERTS = {
    "service_level": "{queue} : niveau de service du jour {value} (objectif {target})",
    "abandonment": "{queue} : taux d'abandon du jour {value} (maximum {target})",
    "long_wait": "{queue} : un appel attend depuis {value} (seuil {target})",
    "no_operator": "{queue} : {value} appel(s) en attente et aucun conseiller disponible",
    "mail_late": "Courriels : {value} hors délai de prise en charge (objectif 1 h ouvrée)",
    "mail_soon": "Courriels : le plus urgent atteint son délai de prise en charge dans {value} (seuil {target})",
    "callbacks_late": "Rappels : {value} en retard sur l'heure prévue",
    "stale": "Données temps réel indisponibles depuis {value} : l'instance qui pilote les appels ne répond plus",
}

TOTAL = "Toutes files"
UNQUALIFIED_QUEUE = "Sans file"

# Texts the scripts need (sent once per page, as JSON in a data attribute).
SCRIPT_TEXTS = {
    "states": STATES,
    "ticket_status": TICKET_STATUS,
    "channels": CHANNELS,
    "criticality": {str(k): v for k, v in CRITICALITY.items()},
    "escalation_fields": ESCALATION_FIELDS,
    "callback_states": CALLBACK_STATES,
    "live": "En direct",
    "reconnecting": "Reconnexion…",
    "stale": "Temps réel indisponible",
    "none": "—",
    "overdue": "dépassé de {d}",
    "remaining": "reste {d}",
    "clock_stopped": "(service fermé : délai suspendu)",
    "priority_critical": "critique",
    "priority_normal": "normale",
    "priority_unknown": "à déterminer",
    "saved": "Qualification enregistrée.",
    "resolved": "Ticket {ref} résolu.",
    "redirected": "Ticket {ref} résolu : usager réorienté vers {to}.",
    "escalated": "Ticket {ref} escaladé au N2.",
    "taken": "Ticket {ref} pris en charge.",
    "callback_triggered": "Rappel lancé : le téléphone sonnera dès qu'un conseiller sera libre.",
    "error": "Erreur : {message}",
    "required": "Renseignez « {field} » : le N2 en a besoin.",
    "no_previous": "Aucune demande précédente.",
    "unknown_caller": "Numéro masqué",
    "new_requester": "Nouveau demandeur",
    "no_call": "Pas d'appel en cours.",
    "redirect_note": "Réorientation : {to}",
    "call_popup": "Appel de {number}",
    "session_ended": "Session terminée : reconnectez-vous.",
    "read_only": "Lecture seule",
}
