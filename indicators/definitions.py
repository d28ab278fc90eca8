"""The definitions the tender leaves open (SPEC §6), made precise: the French wording of each
term, numerator and denominator, built from the settings in force so that the definitions
page, the reports' appendix and the computation never disagree.

Pure: no I/O. All user-facing text of the definitions is here (one place to review).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from indicators.settings import IndicatorSettings


@dataclass(frozen=True)
class Clocks:
    """The ticket core's business-hour clocks (``GUICHET_SLA_*``), stored on each ticket."""

    critical_hours: float = 2.0
    normal_hours: float = 4.0
    mail_hours: float = 1.0
    opening: str = "du lundi au vendredi de 08:30 à 17:30 (heure de Paris), hors jours fériés de métropole"

    @classmethod
    def from_settings(cls, settings) -> Clocks:  # guichet.settings.Settings
        days = settings.opening_days.replace(" ", "")
        if days in ("mon,tue,wed,thu,fri", "mon-fri"):
            days_fr = "du lundi au vendredi"
        else:
            days_fr = f"les jours {days}"
        opening = (f"{days_fr} de {settings.opening_time} à {settings.closing_time} ({settings.timezone}), "
                   "hors jours fériés de métropole, avec les ouvertures exceptionnelles (samedis) et "
                   "fermetures saisies par un superviseur")
        return cls(settings.sla_critical_hours, settings.sla_normal_hours, settings.sla_mail_hours, opening)


@dataclass(frozen=True)
class Term:
    key: str
    name: str
    text: str


@dataclass(frozen=True)
class Wording:
    numerator: str
    denominator: str
    rules: tuple[str, ...] = field(default_factory=tuple)
    source: str = ""


def _n(x: float) -> str:
    """A number in French: 40, 2,5."""
    return f"{x:g}".replace(".", ",")


def _hours(h: float) -> str:
    return f"{_n(h)} heure{'s' if h >= 2 else ''} ouvrée{'s' if h >= 2 else ''}"


def _window(s: IndicatorSettings) -> str:
    if s.recovery_business_days == 1:
        return "avant la fin du jour ouvré suivant la perte de l'appel (heure de fermeture de ce jour-là)"
    return (f"avant la fin du {s.recovery_business_days}e jour ouvré suivant la perte de l'appel "
            "(heure de fermeture de ce jour-là)")


def _short(s: IndicatorSettings) -> str:
    if s.short_abandon_seconds <= 0:
        return "aucun abandon court n'est exclu (seuil réglé à 0 seconde)"
    return (f"les abandons courts (attente strictement inférieure à {_n(s.short_abandon_seconds)} s, "
            "fausses numérotations) sont exclus du numérateur et du dénominateur")


def glossary(s: IndicatorSettings, c: Clocks) -> list[Term]:
    p = _n(s.pickup_seconds)
    return [
        Term("period", "Période",
             "Chaque fait compte dans le mois civil (heure de Paris) où il s'est produit : un appel dans le mois "
             "où il est reçu, présenté, décroché ou perdu ; un ticket dans le mois de sa création (mails, "
             "résolution au premier contact, délais de traitement), de sa résolution (autonomie) ou de sa "
             "première escalade (qualité des escalades). Le service fermant le soir, les faits d'un même appel "
             "sont toujours dans le même mois."),
        Term("opening", "Heures ouvrées (HO)", f"Le service est ouvert {c.opening}. Les délais en heures ouvrées "
             "ne comptent que ce temps d'ouverture."),
        Term("received", "Appel reçu",
             "Appel arrivé au service pendant les heures d'ouverture (fait « call_received »). Les appels reçus "
             "service fermé entendent le message de fermeture et ne sont pas comptés."),
        Term("presented", "Appel présenté",
             "Appel reçu qui entre dans une file d'attente après le choix du public dans le serveur vocal "
             "(fait « call_presented »). Un appel présenté avant la fermeture (par exemple à 17:29:50) est "
             "compté même s'il est décroché ou abandonné après 17:30."),
        Term("answered", "Appel décroché",
             "Appel dont la communication est établie avec un opérateur (fait « call_answered », avec son "
             "temps d'attente depuis l'entrée en file)."),
        Term("pickup", f"Décroché en moins de {p} s",
             f"Temps d'attente strictement inférieur à {p} secondes : un appel décroché à {p} s exactement "
             "n'est pas compté dans les appels décrochés à temps."),
        Term("abandoned", "Appel abandonné",
             "L'appelant raccroche pendant l'attente en file (ou pendant que le poste d'un opérateur sonne) — "
             "fait « call_abandoned »."
             + (" Une demande de rappel (attente virtuelle, « tapez 1 ») est comptée comme un abandon."
                if s.callback_requested_is_abandoned else
                " Une demande de rappel (attente virtuelle, « tapez 1 ») n'est pas comptée comme un abandon.")),
        Term("short", "Abandon court", _short(s)[0].upper() + _short(s)[1:] + "."),
        Term("lost", "Appel perdu",
             "Appel présenté non décroché : abandonné (hors abandons courts), coupé par le service (attente "
             "maximale, aucun opérateur) ou terminé par une demande de rappel."
             + (" Les appels raccrochés dans le serveur vocal, avant toute file, sont aussi des appels perdus."
                if s.ivr_hangups_are_lost else
                " Les appels raccrochés dans le serveur vocal, avant toute file, ne sont pas des appels perdus.")),
        Term("recovered", "Appel perdu récupéré (renouvelé)",
             f"Appel perdu suivi, {_window(s)}, d'un rappel abouti du support (fait « call_recovered ») ou d'un "
             "nouvel appel décroché du même numéro. Un appel anonyme (numéro masqué ou inutilisable) compte "
             "dans les appels perdus et n'est jamais récupéré."),
        Term("mail", "Mail pris en charge",
             f"Un mail (ticket du canal courriel) est pris en charge à la première action d'une personne du "
             f"support sur son ticket. Le délai de {_hours(c.mail_hours)} court en heures ouvrées depuis la "
             "réception : un mail reçu un soir de jour férié est à prendre en charge dans la première heure "
             "d'ouverture qui suit. Pris en charge à l'échéance exacte : à temps."),
        Term("fcr", "Résolution au premier contact",
             "Ticket résolu par le N1, jamais escaladé au N2 et sans second contact de l'usager (ni "
             "réouverture, ni nouveau message rattaché, ni doublon fusionné dans ce ticket)."),
        Term("merge", "Fusion",
             "Sont hors fusion : les demandes de fusion d'entrées Télérecours (types de demande marqués "
             "« exclus des indicateurs de résolution » au catalogue) et les doublons fusionnés dans un autre "
             "ticket (ce ne sont pas des demandes distinctes)."),
        Term("handled", "Traité ou escaladé",
             f"Un ticket est traité ou escaladé à sa première résolution par le N1 ou à sa première escalade au "
             f"N2. Délai : {_hours(c.critical_hours)} pour les priorités 1 et 2 (critiques), "
             f"{_hours(c.normal_hours)} pour les priorités 3 à 5, comptées depuis la création du ticket ; si la "
             "priorité change en cours de ticket, l'échéance est recalculée depuis la création avec la nouvelle "
             "priorité, et c'est la priorité finale qui range le ticket en critique ou normal. À l'échéance "
             "exacte : à temps. "
             + ("Un ticket jamais qualifié (sans priorité) est mesuré comme normal." if s.unqualified_as_normal
                else "Un ticket jamais qualifié (sans priorité) n'est pas mesuré.")),
        Term("pending", "En attente",
             "Un mail non encore pris en charge, ou un ticket non encore traité, dont l'échéance n'est pas "
             "passée n'est compté ni au numérateur ni au dénominateur ; une fois l'échéance passée, il compte "
             "comme hors délai."),
        Term("nodata", "Pas de données",
             "Un indicateur dont le dénominateur est nul (par exemple un mois sans appel) ou dont le logiciel "
             "n'enregistre pas encore les faits est affiché « pas de données », avec la raison, jamais 100 %."),
        Term("incentive", "Incitation à la qualité",
             "Pour chaque indicateur pénalisable, nombre de mois consécutifs sous l'objectif jusqu'au mois "
             "considéré : 1 = mise en observation et plan d'action ; 2 = réfactions possibles et mise en "
             "demeure ; 3 et plus = réfactions possibles et résiliation pour faute possible. Un mois sans "
             "données interrompt la série."),
    ]


def wording(indicator_id: str, s: IndicatorSettings, c: Clocks) -> Wording | None:
    p = _n(s.pickup_seconds)
    short = _short(s)
    short = short[0].upper() + short[1:]
    cb = ("les demandes de rappel (attente virtuelle) sont comptées comme abandons"
          if s.callback_requested_is_abandoned else
          "les demandes de rappel (attente virtuelle) ne sont pas comptées comme abandons")
    words: dict[str, Wording] = {
        "T1-IQ01": Wording(
            "durée d'ouverture du service pendant laquelle la plate-forme est disponible (aucune sonde en échec)",
            "durée d'ouverture du service dans le mois (calendrier : horaires, jours fériés, exceptions)",
            ("Une sonde en échec rend la plate-forme indisponible jusqu'à la sonde suivante du même contrôle"
             f" (au plus {_n(s.probe_max_gap_seconds / 60)} min) ; seule la durée comprise dans les heures "
             "d'ouverture compte.",
             "Contrôles pris en compte : " + (", ".join(s.checks) if s.checks else "tous ceux enregistrés") + ".",
             "Pas de données si aucune sonde n'est enregistrée sur la période."),
            "faits « probe_result » (module de secours)"),
        "T1-IQ02": Wording(
            "ouvertures et fermetures du service faites à l'heure",
            "ouvertures et fermetures prévues par le calendrier sur la période",
            (f"À l'heure : fait « service_opened » (« service_closed ») à {_n(s.opening_tolerance_seconds)} s "
             "au plus de l'heure d'ouverture (de fermeture) du calendrier.",
             "Pas de données si aucune ouverture ni fermeture n'est enregistrée sur la période."),
            "faits « service_opened » et « service_closed » (module de secours)"),
        "T2-IQ01": Wording(
            f"appels présentés décrochés avec une attente strictement inférieure à {p} s",
            "appels présentés (entrés en file d'attente)",
            (f"Un appel décroché à {p} s exactement n'est pas compté au numérateur.", short + "."),
            "faits « call_presented », « call_answered » (attente), « call_abandoned »"),
        "T2-IQ02": Wording(
            "appels présentés abandonnés par l'appelant pendant l'attente",
            "appels présentés (entrés en file d'attente)",
            (short + ".", cb[0].upper() + cb[1:] + "."),
            "faits « call_presented », « call_abandoned », « call_lost »"),
        "T2-IQ03": Wording(
            "appels décrochés",
            "appels reçus pendant les heures d'ouverture",
            ("Les appels reçus service fermé (message de fermeture) ne sont pas comptés.", short + "."),
            "faits « call_received », « call_answered »"),
        "T2-IQ04": Wording(
            f"appels perdus récupérés {_window(s)} par un rappel abouti ou un nouvel appel décroché du même numéro",
            "appels perdus (présentés, non décrochés)",
            ("Les appels anonymes comptent au dénominateur et ne sont jamais récupérés.", short + ".",
             "Les appels raccrochés dans le serveur vocal " + ("sont" if s.ivr_hangups_are_lost else "ne sont pas")
             + " comptés comme perdus."),
            "faits « call_abandoned », « call_lost », « call_recovered » ; table des appels (numéro, décroché)"),
        "T2-IQ05": Wording(
            f"mails reçus pris en charge dans le délai de {_hours(c.mail_hours)}",
            "mails reçus (tickets du canal courriel, doublons compris)",
            ("L'échéance est calculée et enregistrée sur le ticket à sa réception, en heures ouvrées.",
             "Un mail non pris en charge dont l'échéance n'est pas passée est en attente : non compté."),
            "tickets : prise en charge et échéance enregistrées"),
        "T2-IQ06": Wording(
            "tickets escaladés au N2 qui n'ont pas été renvoyés par le N2 pour information manquante",
            "tickets escaladés au N2 (mois de leur première escalade)",
            ("Un renvoi au N1 pour réponse (« send_back ») n'est pas un renvoi pour information manquante ; "
             "une demande d'information (« request_info ») l'est.",),
            "faits « ticket_escalated » ; tickets (indicateur de renvoi)"),
        "T2-IQ07": Wording(
            "tickets créés résolus par le N1 au premier contact (jamais escaladés, un seul contact)",
            "tickets créés dans le mois, hors fusion",
            ("Un ticket encore ouvert compte au dénominateur : le chiffre d'un mois peut progresser quand ses "
             "tickets se résolvent.",),
            "tickets : niveau de résolution, escalade, nombre de contacts"),
        "T2-IQ08": Wording(
            f"tickets critiques (priorités 1 et 2) traités ou escaladés dans les {_hours(c.critical_hours)}",
            "tickets critiques créés dans le mois (doublons fusionnés exclus)",
            ("L'échéance, calculée depuis la création avec la priorité en vigueur, est enregistrée sur le ticket.",
             "Un ticket non traité dont l'échéance n'est pas passée est en attente : non compté."),
            "tickets : date de traitement et échéance enregistrées"),
        "T2-IQ09": Wording(
            f"tickets normaux (priorités 3 à 5) traités ou escaladés dans les {_hours(c.normal_hours)}",
            "tickets normaux créés dans le mois (doublons fusionnés exclus)"
            + (", y compris les tickets non qualifiés" if s.unqualified_as_normal else ""),
            ("L'échéance, calculée depuis la création avec la priorité en vigueur, est enregistrée sur le ticket.",
             "Un ticket non traité dont l'échéance n'est pas passée est en attente : non compté."),
            "tickets : date de traitement et échéance enregistrées"),
        "T2-IQ10": Wording(
            "tickets résolus par le N1 (support), hors fusion",
            "tickets résolus dans le mois (par le N1, le N2 ou le N3), hors fusion",
            ("Mois de la résolution (dernière résolution si le ticket a été rouvert).",),
            "tickets : date et niveau de résolution"),
        "T3-IQ03": Wording(
            "exercices de bascule vers le site de secours réalisés dans le semestre (jusqu'au mois considéré)",
            "exercices attendus dans le semestre : ceux du calendrier des exercices du module de secours, à "
            "défaut " + (f"{s.drills_per_semester} par semestre" if s.drills_per_semester is not None else
                         "le nombre réglé dans le module de secours"),
            ("Calculé par semestre civil ; avant le dernier mois du semestre, le résultat est « en cours » tant "
             "que l'objectif n'est pas atteint.",
             "Pas de données tant qu'aucun exercice ni aucune bascule n'a jamais été enregistré."),
            "faits « drill_done » (module de secours)"),
        "T8-IQ01": Wording(
            "réponses « très satisfait » à l'enquête de satisfaction",
            "réponses à l'enquête de satisfaction reçues dans le mois",
            ("Objectif : au moins 80 % de très satisfaits et au plus 5 % de pas satisfaits (15 % de satisfaits "
             "attendus) ; les trois parts sont données.",),
            "faits « survey_answered » (note : très satisfait, satisfait, pas satisfait)"),
    }
    return words.get(indicator_id)


def settings_table(s: IndicatorSettings, c: Clocks) -> list[tuple[str, str, str]]:
    """(variable, value, meaning) rows for the definitions page."""
    yes_no = {True: "oui", False: "non"}
    return [
        ("GUICHET_INDICATORS_SHORT_ABANDON_SECONDS", f"{_n(s.short_abandon_seconds)} s",
         "seuil des abandons courts (exclus)"),
        ("GUICHET_INDICATORS_PICKUP_SECONDS", f"{_n(s.pickup_seconds)} s", "seuil du décroché à temps (strict)"),
        ("GUICHET_INDICATORS_CALLBACK_REQUESTED_IS_ABANDONED", yes_no[s.callback_requested_is_abandoned],
         "une demande de rappel compte comme un abandon"),
        ("GUICHET_INDICATORS_IVR_HANGUPS_ARE_LOST", yes_no[s.ivr_hangups_are_lost],
         "un appel raccroché dans le serveur vocal est un appel perdu"),
        ("GUICHET_INDICATORS_RECOVERY_BUSINESS_DAYS", str(s.recovery_business_days),
         "fenêtre de récupération : fin du n-ième jour ouvré suivant"),
        ("GUICHET_INDICATORS_UNQUALIFIED_AS_NORMAL", yes_no[s.unqualified_as_normal],
         "ticket sans priorité mesuré comme normal"),
        ("GUICHET_SLA_MAIL_HOURS", _hours(c.mail_hours), "délai de prise en charge des mails"),
        ("GUICHET_SLA_CRITICAL_HOURS", _hours(c.critical_hours), "délai de traitement, priorités 1 et 2"),
        ("GUICHET_SLA_NORMAL_HOURS", _hours(c.normal_hours), "délai de traitement, priorités 3 à 5"),
        ("GUICHET_INDICATORS_AVAILABILITY_CHECKS", s.availability_checks or "(tous)",
         "contrôles de disponibilité pris en compte"),
        ("GUICHET_INDICATORS_OPENING_TOLERANCE_SECONDS", f"{_n(s.opening_tolerance_seconds)} s",
         "tolérance d'ouverture et de fermeture à l'heure"),
        ("GUICHET_INDICATORS_DRILLS_PER_SEMESTER",
         str(s.drills_per_semester) if s.drills_per_semester is not None else "(celui du module de secours)",
         "exercices de bascule attendus par semestre, à défaut de calendrier des exercices"),
        ("GUICHET_INDICATORS_PACKAGE_TICKETS", f"{s.package_tickets:,}".replace(",", "\u202f"),
         "forfait annuel de tickets (facturé par douzième)"),
        ("GUICHET_INDICATORS_EXTENSION_TICKETS", str(s.extension_tickets), "taille d'une extension du forfait"),
        ("GUICHET_INDICATORS_PACKAGE_YEAR_START_MONTH", str(s.package_year_start_month),
         "premier mois de l'année contractuelle"),
        ("GUICHET_INDICATORS_COUNT_MERGED_DUPLICATES", yes_no[s.count_merged_duplicates],
         "les doublons fusionnés comptent dans les volumes et le forfait"),
    ]
