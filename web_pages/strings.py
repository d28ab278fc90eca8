"""Texts of the portal that are not in the templates (French): form errors, audiences as
the public knows them, dates and opening hours written out."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

DAYS = ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"]
MONTHS = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
          "novembre", "décembre"]

# How the public names each audience (the catalogue's labels are the help desk's).
AUDIENCE_HELP = {
    "avocat": ("Avocat", "Avocat ou cabinet d'avocats"),
    "administration": ("Administration", "Administration ou organisme chargé d'un service public"),
    "citoyen": ("Particulier ou entreprise", "Personne ou entreprise non représentée par un avocat"),
}

ERRORS = {
    "audience_required": "Indiquez qui vous êtes.",
    "name_required": "Indiquez votre nom et votre prénom.",
    "name_too_long": "Le nom ne doit pas dépasser {limit} caractères.",
    "email_required": "Indiquez votre adresse électronique, pour que nous puissions vous répondre.",
    "email_invalid": "L'adresse électronique n'est pas valide. Exemple : prenom.nom@domaine.fr",
    "subject_required": "Indiquez l'objet de votre demande.",
    "subject_too_long": "L'objet ne doit pas dépasser {limit} caractères.",
    "message_required": "Décrivez votre demande.",
    "message_too_short": "Votre message est trop court : décrivez votre demande en quelques mots au moins.",
    "message_too_long": "Votre message ne doit pas dépasser {limit} caractères (il en compte {count}).",
    "application_unknown": "Choisissez une application dans la liste.",
    "honeypot": "Le formulaire n'a pas pu être envoyé. Laissez vide le champ « Ne pas remplir » et réessayez.",
    "too_large": "Votre envoi est trop volumineux : raccourcissez votre message.",
    "rate_limited": ("Vous avez envoyé plusieurs demandes en peu de temps. Pour protéger le service, "
                     "attendez {minutes} minutes avant d'envoyer une nouvelle demande."),
    "rating_required": "Choisissez l'une des trois réponses.",
    "comment_too_long": "Votre commentaire ne doit pas dépasser {limit} caractères.",
}


def group(n: int) -> str:
    """12 345 (narrow no-break space, as French typography wants)."""
    return f"{n:,}".replace(",", "\u202f")


def hm(t: time) -> str:
    """8 h 30, with no-break spaces (never cut across two lines)."""
    return f"{t.hour}\u00a0h\u00a0{t.minute:02d}" if t.minute else f"{t.hour}\u00a0h"


def days_text(weekdays: frozenset[int]) -> str:
    days = sorted(weekdays)
    if not days:
        return ""
    if days == list(range(days[0], days[-1] + 1)) and len(days) > 2:
        return f"du {DAYS[days[0]]} au {DAYS[days[-1]]}"
    names = [DAYS[d] for d in days]
    return "le " + names[0] if len(names) == 1 else "les " + ", ".join(names[:-1]) + " et " + names[-1]


def when(at: datetime, zone: ZoneInfo) -> str:
    """« lundi 9 mars à 8 h 30 » in the service's time zone."""
    local = at.astimezone(zone)
    day = "1er" if local.day == 1 else str(local.day)
    return f"{DAYS[local.weekday()]} {day} {MONTHS[local.month - 1]} à {hm(local.time())}"
