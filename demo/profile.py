"""The statistical model behind the synthetic history: every figure the generator draws from.

Sources: SPEC §1 (volumes, channel mix per audience), §2 (audiences, request types and the top
three per audience), §6 (what the indicators measure, so that the history exercises them:
months around the targets, some below). Figures that SPEC does not give (hourly profile,
seasonality, wait distributions, N2 delays) are plausible choices, documented here so they
can be tuned in one place.
"""

from __future__ import annotations

from datetime import date

# --- volumes (SPEC §1) ---------------------------------------------------------------------

#: Mean requests (tickets, merged duplicates excluded) a month at scale 1.
MEAN_REQUESTS_PER_MONTH = 1136

#: Seasonality of the courts' activity: quiet August and Christmas, busy September and January.
_RAW_MONTH_FACTORS = {
    1: 1.12, 2: 1.04, 3: 1.06, 4: 0.98, 5: 0.92, 6: 1.02,
    7: 0.90, 8: 0.68, 9: 1.16, 10: 1.10, 11: 1.04, 12: 0.86,
}
_MEAN_FACTOR = sum(_RAW_MONTH_FACTORS.values()) / 12
MONTH_FACTORS = {m: f / _MEAN_FACTOR for m, f in _RAW_MONTH_FACTORS.items()}

#: Slow growth of the user base: +3 % a year around mid-2025, so that a month compared with
#: the same month a year before shows a small trend.
GROWTH_PER_YEAR = 0.03
GROWTH_REFERENCE = date(2025, 7, 1)

#: Month-to-month noise on the volume (relative standard deviation).
VOLUME_NOISE = 0.035


def month_volume_factor(year: int, month: int) -> float:
    years = (date(year, month, 15) - GROWTH_REFERENCE).days / 365.25
    return MONTH_FACTORS[month] * (1 + GROWTH_PER_YEAR) ** years


# --- audiences and channels (SPEC §1, §2) -----------------------------------------------

AUDIENCE_WEIGHTS = {"citoyen": 0.50, "avocat": 0.25, "administration": 0.25}

#: phone, mail, chat shares per audience.
CHANNEL_MIX = {
    "avocat": {"phone": 0.91, "mail": 0.08, "chat": 0.01},
    "administration": {"phone": 0.91, "mail": 0.08, "chat": 0.01},
    "citoyen": {"phone": 0.75, "mail": 0.22, "chat": 0.03},
}

# --- catalogue mixes (SPEC §2) ----------------------------------------------------------

#: Applications per audience (catalogue codes).
APPLICATION_MIX = {
    "avocat": {"tr-avocats-ta": 0.60, "tr-avocats-caa": 0.18, "tr-avocats-ce": 0.12, "tr-avocats-cnda": 0.10},
    "administration": {"tr-administrations": 1.0},
    "citoyen": {"tr-citoyens": 1.0},
}

#: Request types per audience: SPEC's top three, the rest spread. "Case access" is the
#: "case not visible" incident. Citizens' legal follow-up is redirected to the registry.
REQUEST_TYPE_MIX = {
    "avocat": {
        "connexion": 43, "configuration": 12, "incident-dossier-invisible": 12,
        "information": 8, "depot": 7, "inscription": 6, "incident-acces": 4,
        "incident-document-greffe": 3, "incident-telechargement": 2, "incident-notification": 2,
        "fusion": 1,
    },
    "administration": {
        "connexion": 36, "configuration": 28, "incident-dossier-invisible": 16,
        "information": 5, "inscription": 4, "depot": 4, "incident-acces": 2,
        "incident-document-greffe": 2, "incident-telechargement": 1, "incident-notification": 1,
        "fusion": 1,
    },
    "citoyen": {
        "depot": 40, "suivi-juridique": 20, "incident-dossier-invisible": 20,
        "information": 6, "inscription": 5, "connexion": 5, "incident-acces": 1,
        "incident-document-greffe": 1, "incident-telechargement": 1, "incident-notification": 1,
    },
}

#: Which component of an application a request type concerns (criticality comes from it).
COMPONENT_FOR = {
    ("tr-citoyens", "depot"): "depot",
    ("tr-citoyens", "incident-telechargement"): "depot",
    ("tr-citoyens", "incident-document-greffe"): "depot",
    ("tr-citoyens", "connexion"): "compte",
    ("tr-citoyens", "inscription"): "compte",
    ("tr-avocats-ta", "depot"): "depot",
    ("tr-avocats-ta", "incident-telechargement"): "depot",
    ("tr-avocats-ta", "configuration"): "annuaire",
    ("tr-avocats-ta", "inscription"): "annuaire",
    ("tr-administrations", "depot"): "depot",
    ("tr-administrations", "incident-telechargement"): "depot",
    ("tr-administrations", "configuration"): "organisation",
    ("tr-administrations", "inscription"): "organisation",
}

#: Severity (1 blocking, 2 major, 3 minor) weights per request-type category.
SEVERITY_MIX = {
    "information": (0.00, 0.05, 0.95),
    "legal": (0.00, 0.02, 0.98),
    "help": (0.04, 0.26, 0.70),
    "incident": (0.20, 0.50, 0.30),
    "merge": (0.00, 0.20, 0.80),
}

#: Relative propensity of a request type to need N2; scaled each month to the month's rate.
ESCALATION_PROPENSITY = {
    "information": 0.01, "inscription": 0.03, "connexion": 0.03, "configuration": 0.06,
    "depot": 0.05, "suivi-juridique": 0.0, "incident-acces": 0.40,
    "incident-dossier-invisible": 0.40, "incident-document-greffe": 0.45,
    "incident-telechargement": 0.35, "incident-notification": 0.40, "fusion": 0.70,
}

SUBJECTS = {
    "information": ["Demande d'information sur Télérecours", "Question sur les délais de dépôt",
                    "Renseignement sur le fonctionnement du service"],
    "inscription": ["Inscription impossible", "Aide à la création du compte", "Validation de l'inscription"],
    "connexion": ["Mot de passe oublié", "Compte bloqué après plusieurs essais", "Réinitialisation du mot de passe"],
    "configuration": ["Ajout d'un utilisateur", "Paramétrage des droits du cabinet", "Création d'un bureau"],
    "depot": ["Aide au dépôt d'une requête", "Dépôt de pièces complémentaires", "Format de fichier refusé"],
    "suivi-juridique": ["Où en est mon dossier ?", "Question sur la date d'audience", "Suivi de ma requête"],
    "incident-acces": ["Accès impossible à l'application", "Erreur à la connexion", "Page blanche après authentification"],
    "incident-dossier-invisible": ["Dossier non visible", "Dossier absent de la liste", "Accès au dossier refusé"],
    "incident-document-greffe": ["Document du greffe inaccessible", "Courrier du greffe illisible",
                                 "Pièce du greffe introuvable"],
    "incident-telechargement": ["Échec de téléchargement", "Téléchargement interrompu", "Fichier corrompu"],
    "incident-notification": ["Courriels de notification non reçus", "Plus de notifications depuis lundi",
                              "Notification absente"],
    "fusion": ["Fusion de deux comptes", "Doublon d'entrée Télérecours", "Fusion d'entrées à effectuer"],
}

# --- arrivals: weekday and hour-of-day profiles ------------------------------------------

#: Monday is the busiest day, Friday the quietest; Saturday openings are quiet.
WEEKDAY_FACTORS = (1.25, 1.05, 1.00, 0.95, 0.80, 0.50, 0.30)


def open_hour_weight(hour: float) -> float:
    """Arrival intensity by local hour while open: morning peak, lunch dip, afternoon bump."""
    if hour < 9.0:
        return 0.9
    if hour < 10.0:
        return 1.5
    if hour < 11.0:
        return 1.6
    if hour < 12.0:
        return 1.3
    if hour < 13.0:
        return 0.7
    if hour < 14.0:
        return 0.8
    if hour < 15.0:
        return 1.2
    if hour < 16.0:
        return 1.1
    if hour < 17.0:
        return 0.9
    return 0.6


def closed_mail_weight(hour: float, weekday: int, business_day: bool) -> float:
    """Mail intensity while closed: evenings, early mornings, weekend days; little at night."""
    if hour < 6.0:
        w = 0.08
    elif hour < 8.0:
        w = 0.35
    elif hour < 18.0:
        w = 0.55 if not business_day else 0.9
    elif hour < 21.0:
        w = 0.7
    else:
        w = 0.35
    if weekday >= 5:
        w *= 0.75
    return w


def outside_call_weight(hour: float, weekday: int, business_day: bool) -> float:
    """Calls while closed: mostly just before opening and just after closing on weekdays."""
    if business_day or weekday < 5:
        if 7.0 <= hour < 8.5 or 17.5 <= hour < 19.0:
            return 1.0
        if 8.5 <= hour < 17.5:  # a holiday or a closure: people call as usual
            return 0.8
        if 6.0 <= hour < 7.0 or 19.0 <= hour < 21.0:
            return 0.15
        return 0.01
    if 9.0 <= hour < 18.0:
        return 0.12
    return 0.01


#: Share of mails arriving while the service is closed (nights, weekends, holidays).
MAIL_OUTSIDE_SHARE = 0.30
#: Calls received while closed, relative to the month's answered-call count.
OUTSIDE_CALL_RATE = 0.04
#: Anonymous callers (no usable caller id).
ANONYMOUS_SHARE = 0.02

# --- phone service levels (SPEC §6, T2-IQ01..04) -----------------------------------------

IVR_SECONDS = (8.0, 25.0)
RING_SECONDS = (2.0, 9.0)
WRAP_UP_SECONDS = (30.0, 150.0)
#: Talk time: log-normal (median seconds, sigma); with the wrap-up, about the 9 min 40 s of
#: mean handling time of SPEC §1.
TALK_MEDIAN_SECONDS = 400.0
TALK_SIGMA = 0.55
TALK_AUDIENCE_FACTOR = {"avocat": 1.0, "administration": 1.05, "citoyen": 1.1}
MAX_WAIT_SECONDS = 300.0
#: Among failed (unanswered) presented calls: the share lost rather than abandoned.
LOST_SHARE_OF_FAILED = 0.2
#: Among lost calls: cut at max wait, else no skilled operator available.
LOST_MAX_WAIT_SHARE = 0.75

# --- operators -------------------------------------------------------------------------------

#: Share of a day's calls arriving in its busiest hour, used to staff each day.
PEAK_HOUR_SHARE = 0.16
HANDLING_SECONDS = 580.0

# --- tickets ---------------------------------------------------------------------------------

#: N1 resolutions that needed a second contact (reopened after the user came back).
SECOND_CONTACT_SHARE = 0.02
#: Escalated tickets whose requester writes again while N2 holds it: a duplicate, merged.
DUPLICATE_SHARE_OF_ESCALATED = 0.12
#: N1 resolutions closed at once (else closed a few business hours later).
IMMEDIATE_CLOSE_SHARE = 0.75
#: Tickets not handled during the contact itself (investigation by N1), per class.
DEFERRED_SHARE = {"critical": 0.04, "normal": 0.10}
#: Business hours between two reminders ("relances") while N2/N3 holds a ticket.
REMIND_EVERY_HOURS = 27.0
#: N2 outcomes after escalation: passed to N3, sent back to N1; the rest: technical closure.
PASS_TO_N3_SHARE = 0.15
BACK_TO_N2_SHARE = 0.15
SEND_BACK_SHARE = 0.06
#: Business-hour delays, log-normal (median hours, sigma).
N2_RESOLUTION = (16.0, 0.9)
N3_RESOLUTION = (30.0, 0.8)
BOUNCE_AFTER = (4.0, 0.7)
INFO_PROVIDED_AFTER = (1.0, 0.8)


def expected_escalation_propensity() -> float:
    """Mean propensity over the audience and request-type mixes (to calibrate each month)."""
    total = 0.0
    for audience, aw in AUDIENCE_WEIGHTS.items():
        mix = REQUEST_TYPE_MIX[audience]
        s = sum(mix.values())
        total += aw * sum(w / s * ESCALATION_PROPENSITY.get(code, 0.0) for code, w in mix.items())
    return total


# --- the service's own records: probes, openings, drills (SPEC §6, T1-IQ01/02, T3-IQ03) -----
# Not scaled: they depend on time (opening hours, semesters), not on the volume of requests.

#: The active site journals each check every ``record_every`` seconds (60) and at once when
#: its result changes; the demo journals a round every five minutes (and at once on a
#: change), well under the indicators' 900-second gap, so a year stays a few 100,000 facts.
PROBE_EVERY_SECONDS = 300.0
#: What a healthy check takes, in milliseconds (the site's own application: 0, by definition).
PROBE_MS = {"app": (0.0, 0.0), "ari": (1.5, 6.0), "sip": (0.8, 4.0), "database": (1.5, 12.0),
            "smtp": (3.0, 25.0), "chat": (4.0, 30.0)}
#: Short incidents in an ordinary month: how many (weights).
INCIDENTS_PER_MONTH = {0: 0.20, 1: 0.35, 2: 0.30, 3: 0.15}
#: Among them, glitches of a critical check (ARI, SIP, database) lasting a few seconds: under
#: the three failed rounds in a row (5 s apart) that would switch sites. The others: the mail
#: intake or the chat down for minutes (not critical: no switchover, but unavailable).
GLITCH_SHARE = 0.55
GLITCH_SECONDS = (4.0, 14.0)
SHORT_OUTAGE_MINUTES = (4.0, 20.0)
#: One month in every 13 consecutive ones has a long outage of the mail intake (or the chat):
#: availability under 99 %, so the quality incentive shows. Which month: ``major_outage``.
MAJOR_OUTAGE_MINUTES = (150.0, 200.0)
#: Failure details, as ``failover.health`` words them (probe timeout 2 s).
PROBE_FAILURES = {
    "ari": ("no answer within 2s", "RuntimeError: HTTP 503"),
    "sip": ("no answer within 2s", "RuntimeError: OPTIONS answered 503"),
    "database": ("no answer within 2s",),
    "smtp": ("ConnectionRefusedError: [Errno 111] Connect call failed", "no answer within 2s"),
    "chat": ("WSServerHandshakeError: 502, message='Invalid response status'", "no answer within 2s"),
    "app": ("no answer within 2s",),
}

#: Openings and closings are journaled at the failover module's first round (every 5 s)
#: after the calendar's instant: a few seconds late; now and then a slow round.
BOUNDARY_LATE_SECONDS = (0.2, 5.2)
BOUNDARY_SLOW_SHARE = 0.06
BOUNDARY_SLOW_SECONDS = (5.0, 45.0)
#: Business days whose opening waits for the database (the site is not fit to serve: the
#: opening is journaled once it is), minutes after the hour: beyond the 60 s tolerance.
LATE_OPENING_DAY_SHARE = 0.004
LATE_OPENING_MINUTES = (3.0, 12.0)


def major_outage(seed: int, year: int, month: int) -> bool:
    """The month of the long outage: one in every 13 consecutive months, chosen by the seed
    alone (a month's data never depends on which other months are generated). Seed 2026:
    March 2026, inside the default 13 months ending October 2026, not their last."""
    return (year * 12 + month + seed) % 13 == 3


#: Switchover drills: the months each semester's drills go to, quietest first (the number of
#: drills is the failover module's ``drills_per_semester``); a Tuesday to Thursday of the
#: month's 2nd or 3rd week, soon after opening, started by a supervisor.
DRILL_MONTHS = {1: (2, 5, 3, 6, 4, 1), 2: (10, 12, 11, 7, 9, 8)}
DRILL_LOCAL_TIME = (8, 45)
DRILL_START_DELAY_SECONDS = (0.0, 420.0)
#: A drill fails (one of its test contacts); the supervisor runs it again a few business days
#: later, once: a semester misses its target when the second run fails too (or the semester
#: ends first), about one semester in 30.
DRILL_FAILURE_SHARE = 0.12
#: Seconds: from the lease request to the other site active (each way), the other site's
#: activation inside it, and the test contacts (call through the IVR and the queue, mail
#: into a ticket, chat opened).
DRILL_SWITCH_SECONDS = (6.0, 18.0)
DRILL_ACTIVATION_SECONDS = (1.5, 5.0)
DRILL_STEP_SECONDS = {"call": (14.0, 45.0), "mail": (2.0, 9.0), "chat": (0.8, 3.0)}
#: When a test contact fails: after its deadline, with the drill runner's words.
DRILL_STEP_FAILURES = {
    "call": (120.0, "appel de test non reçu"),
    "mail": (30.0, "courriel accepté mais aucun ticket à temps"),
    "chat": (20.0, "pas de réponse au démarrage du chat"),
}


# --- satisfaction survey (SPEC §6, T8-IQ01) ----------------------------------------------

#: Resolved tickets whose requester answers the survey (mean, deviation month to month,
#: bounds); chat users answer at the end of the chat, more often.
SURVEY_SHARE = (0.20, 0.02, 0.15, 0.25)
SURVEY_CHAT_FACTOR = 1.6
#: Ratings (``chatgw.models.RATINGS``): "très satisfait" share (mean, deviation, bounds) and
#: "pas satisfait" share, drawn each month; "satisfait" is the rest (about 10–15 %).
VERY_SATISFIED = (0.87, 0.012, 0.84, 0.90)
UNSATISFIED = (0.02, 0.005, 0.01, 0.035)
#: Escalated or reopened tickets, or handled late (about a fifth), are rated less well: over
#: all answers, about 84 % very satisfied, 13 % satisfied, 2–3 % unsatisfied.
HARD_CASE_VERY_DROP = 0.12
HARD_CASE_UNSATISFIED_FACTOR = 2.0
#: Mail-linked answers come hours after the resolution (log-normal median hours, sigma; at
#: most this many days); chat answers a minute after the chat.
SURVEY_DELAY = (3.0, 1.2)
SURVEY_MAX_DAYS = 10.0
SURVEY_CHAT_SECONDS = (15.0, 120.0)
#: Share of answers with a comment, per rating, and the comments.
COMMENT_SHARE = {"tres_satisfait": 0.12, "satisfait": 0.25, "insatisfait": 0.6}
COMMENTS = {
    "tres_satisfait": ["Merci pour votre aide rapide.", "Interlocuteur très aimable et efficace.",
                       "Problème résolu en quelques minutes, merci !", "Très bonnes explications."],
    "satisfait": ["Réponse correcte mais un peu d'attente.", "Résolu, même s'il a fallu rappeler.",
                  "Bien, mais la procédure reste compliquée."],
    "insatisfait": ["Attente trop longue avant d'avoir quelqu'un.", "Mon problème n'est toujours pas réglé.",
                    "Réponse trop tardive pour mon dépôt.", "On m'a renvoyé vers le greffe sans solution."],
}
