"""Every indicator of SPEC §6 (the tender's table 6.2): identifier, French name, target,
whether it is penalised, and — for those the product does not record yet — why there is no
data. Pure data; the wording of numerators and denominators is in ``definitions``.

A target is compared on exact fractions (``Fraction(numerator, denominator)``), never on
rounded percentages: 79.996 % is below 80 %.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

Op = Literal[">=", "<=", ">", "="]


@dataclass(frozen=True)
class Target:
    op: Op
    value: Fraction

    def met(self, value: Fraction) -> bool:
        if self.op == ">=":
            return value >= self.value
        if self.op == "<=":
            return value <= self.value
        if self.op == ">":
            return value > self.value
        return value == self.value

    @property
    def label(self) -> str:
        """French: ``≥ 80 %``."""
        if self.value == 1 and self.op in (">=", "="):
            return "100\u202f%"
        symbol = {">=": "≥", "<=": "≤", ">": ">", "=": "="}[self.op]
        return f"{symbol} {fmt_percent(self.value, 0)}"

    @property
    def as_float(self) -> float:
        return float(self.value)


def pct(value: int) -> Fraction:
    return Fraction(value, 100)


def fmt_percent(value: Fraction | float | None, digits: int = 1) -> str:
    """French percentage: ``85,3 %`` (narrow no-break space before %)."""
    if value is None:
        return "–"
    text = f"{float(value) * 100:.{digits}f}".replace(".", ",")
    return f"{text}\u202f%"


Family = Literal["T1", "T2", "T3", "T4", "T5", "T6", "T7", "T8"]

FAMILIES: dict[str, str] = {
    "T1": "Mise à disposition des canaux de sollicitation",
    "T2": "Traitement des sollicitations",
    "T3": "Gouvernance de la prestation",
    "T4": "Gestion de la connaissance et montée en compétence",
    "T5": "Sections gérées en mode projet",
    "T6": "Chatbot (tranche optionnelle 3)",
    "T7": "Réversibilité (tranche 4)",
    "T8": "Satisfaction des utilisateurs externes",
}


@dataclass(frozen=True)
class Indicator:
    id: str
    name: str  # French, as in the tender
    family: Family
    target: Target | None
    penalised: bool
    tender: str  # the tender's definition, in French
    #: None: computed by the product from its records; else why there is never data yet.
    not_recorded: str | None = None
    #: "month" or "semester" (T3-IQ03: drills are counted per semester).
    period: str = "month"
    #: A contractual target that is stated but not a single threshold (T5, T6…).
    target_text: str | None = None

    @property
    def target_label(self) -> str:
        if self.target_text:
            return self.target_text
        return self.target.label if self.target else "mesuré"


_KB = ("La gestion des consignes, des fiches de support et de la documentation n'est pas encore "
       "enregistrée par le logiciel (base de connaissances à venir) : l'indicateur ne peut pas "
       "être calculé.")
_TRAINING = ("Les formations des opérateurs ne sont pas encore enregistrées par le logiciel "
             "(suivi des compétences à venir) : l'indicateur ne peut pas être calculé.")
_BOT = "Le chatbot (tranche optionnelle 3) n'est pas en service : aucune donnée."
_REV = ("La réversibilité (tranche 4) n'est pas engagée ; ses jalons ne sont pas enregistrés "
        "par le logiciel : aucune donnée.")

INDICATORS: tuple[Indicator, ...] = (
    Indicator("T1-IQ01", "Disponibilité des canaux de sollicitation", "T1", Target(">=", pct(99)), True,
              "Durée durant laquelle la plate-forme d'assistance est disponible / plage d'ouverture du service"),
    Indicator("T1-IQ02", "Ouverture de service", "T1", Target(">=", pct(99)), True,
              "Régularité sur l'ouverture et la fermeture du service (voir horaires)"),
    Indicator("T2-IQ01", "Réactivité au décroché téléphonique", "T2", Target(">=", pct(80)), True,
              "Nombre d'appels décrochés en moins de 40 secondes / nombre d'appels présentés"),
    Indicator("T2-IQ02", "Taux d'abandon des appels", "T2", Target("<=", pct(10)), True,
              "Nombre d'appels abandonnés / nombre d'appels présentés"),
    Indicator("T2-IQ03", "Taux de décroché global", "T2", Target(">=", pct(85)), True,
              "Nombre d'appels décrochés / nombre d'appels reçus"),
    Indicator("T2-IQ04", "Taux d'appels récupérés", "T2", Target(">=", pct(95)), True,
              "Nombre d'appels perdus mais ayant été renouvelés / nombre d'appels perdus"),
    Indicator("T2-IQ05", "Gestion des mails", "T2", Target(">=", pct(90)), True,
              "Délai de prise en charge d'un mail (aux heures d'ouverture du support) : 90 % en moins d'1 h",
              target_text="≥ 90\u202f% en 1 HO"),
    Indicator("T2-IQ06", "Qualité des escalades", "T2", Target(">", pct(90)), False,
              "Nombre de tickets routés vers le niveau 2 avec les bonnes informations / nombre de tickets "
              "routés vers le niveau 2"),
    Indicator("T2-IQ07", "Performance globale de résolution du N1", "T2", Target(">=", pct(90)), True,
              "Nombre de tickets résolus par le N1 au premier contact / nombre de tickets créés (hors fusion)"),
    Indicator("T2-IQ08", "Délai de traitement des sollicitations critiques (2 HO)", "T2",
              Target(">=", pct(98)), True,
              "Sollicitations critiques (priorités 1 et 2) traitées ou escaladées en moins de 2 heures ouvrées "
              "/ nombre total de sollicitations critiques"),
    Indicator("T2-IQ09", "Délai de traitement normal (4 HO)", "T2", Target(">=", pct(80)), True,
              "Sollicitations classiques (priorités 3, 4 et 5) traitées ou escaladées en moins de 4 heures "
              "ouvrées / nombre total de sollicitations classiques"),
    Indicator("T2-IQ10", "Autonomie du support", "T2", Target(">=", pct(90)), True,
              "Nombre de tickets résolus par le support (hors demandes de fusion) / nombre total de tickets "
              "résolus"),
    Indicator("T3-IQ01", "Complétude du reporting", "T3", Target(">=", pct(100)), True,
              "Nombre de tableaux de bord présentant l'ensemble des indicateurs attendus / nombre de tableaux "
              "de bord diffusés",
              not_recorded="La diffusion des tableaux de bord et leur validation ne sont pas encore enregistrées "
                           "par le logiciel (registre des diffusions à venir) : aucune donnée."),
    Indicator("T3-IQ02", "Organisation des comités de suivi", "T3", Target(">=", pct(100)), True,
              "Nombre de comités réalisés / nombre de comités prévus",
              not_recorded="Les comités prévus et réalisés ne sont pas encore enregistrés par le logiciel : "
                           "aucune donnée."),
    Indicator("T3-IQ03", "Gestion du site de secours", "T3", Target(">=", pct(100)), True,
              "Nombre de bascules du service principal vers le service de secours / nombre de bascules "
              "attendues (calculé par semestre)", period="semester"),
    Indicator("T4-IQ01", "Délai de mise à jour de consignes existantes", "T4", Target(">=", pct(95)), True,
              "Nombre de consignes mises à jour dans le délai imparti / nombre total de consignes à mettre à jour",
              not_recorded=_KB),
    Indicator("T4-IQ02", "Délai de prise en compte de nouvelles consignes", "T4", Target(">=", pct(95)), True,
              "Nombre de nouvelles consignes intégrées dans le délai imparti / nombre total de nouvelles "
              "consignes transmises", not_recorded=_KB),
    Indicator("T4-IQ03", "Niveau de formation des opérateurs", "T4", Target(">=", pct(90)), True,
              "Nombre d'opérateurs formés dans les délais impartis / nombre d'opérateurs formés",
              not_recorded=_TRAINING),
    Indicator("T4-IQ04", "Documentation", "T4", Target(">=", pct(100)), True,
              "Tenue de la documentation (sur échéance de validité)", not_recorded=_KB),
    Indicator("T5-IQ01", "Plan d'actions", "T5", None, True,
              "Réalisation d'un plan d'actions (planning, liste documentation, plan formation) dans les délais "
              "impartis",
              not_recorded="Les plans d'actions des évolutions (mode projet) ne sont pas encore suivis par le "
                           "logiciel : aucune donnée.", target_text="pas de retard"),
    Indicator("T6-IQ01", "Taux de réduction des sollicitations de premier niveau", "T6", None, False,
              "Sollicitations simples et récurrentes traitées par le chatbot / sollicitations totales",
              not_recorded=_BOT),
    Indicator("T6-IQ02", "Taux de performance du chatbot", "T6", None, False,
              "Utilisations du chatbot non suivies d'un contact avec le support / utilisations du chatbot",
              not_recorded=_BOT),
    Indicator("T6-IQ03", "Taux d'utilisation du chatbot", "T6", None, False,
              "Utilisateurs actifs du chatbot dans le mois / sollicitations sur l'ensemble des canaux",
              not_recorded=_BOT),
    Indicator("T6-IQ04", "Durée de l'échange", "T6", None, False, "Durée totale d'un échange avec le chatbot",
              not_recorded=_BOT),
    Indicator("T6-IQ05", "Nombre de messages échangés", "T6", None, False,
              "Nombre d'interactions entre le chatbot et l'usager", not_recorded=_BOT),
    Indicator("T7-IQ01", "Pilotage de la réversibilité (indicateurs)", "T7", Target(">=", pct(100)), True,
              "Nombre d'indicateurs restitués / nombre d'indicateurs prévus", not_recorded=_REV),
    Indicator("T7-IQ02", "Pilotage de la réversibilité (comités)", "T7", Target(">=", pct(100)), True,
              "Nombre de comités réalisés / nombre de comités prévus", not_recorded=_REV),
    Indicator("T7-IQ03", "Transfert de connaissance", "T7", Target(">=", pct(100)), True,
              "Thématiques transférées / nombre total de thématiques à transférer", not_recorded=_REV),
    Indicator("T7-IQ04", "Restitution des données", "T7", Target(">=", pct(100)), True,
              "Données de l'ITSM et autres fournitures restituées / données à restituer", not_recorded=_REV),
    Indicator("T7-IQ05", "Transfert de compétence", "T7", Target(">=", pct(100)), True,
              "Formations ou transferts effectués / formations ou transferts à effectuer", not_recorded=_REV),
    Indicator("T8-IQ01", "Satisfaction des utilisateurs externes", "T8", Target(">=", pct(80)), False,
              "Pourcentage des utilisateurs satisfaits (enquête web ou courriel) : très satisfaits 80 %, "
              "satisfaits 15 %, pas satisfaits 5 % au plus",
              target_text="très satisfaits ≥ 80\u202f%, pas satisfaits ≤ 5\u202f%"),
)

BY_ID: dict[str, Indicator] = {i.id: i for i in INDICATORS}
PENALISED: tuple[str, ...] = tuple(i.id for i in INDICATORS if i.penalised)
#: The indicators the product computes from its records (others: ``not_recorded``).
COMPUTED: tuple[str, ...] = tuple(i.id for i in INDICATORS if i.not_recorded is None)
#: T8: the share of unsatisfied users must not exceed this.
UNSATISFIED_MAX = pct(5)

#: Quality incentive (tender §6.4): consecutive months below target → what the public body may do.
INCENTIVE_LEVELS: dict[int, str] = {
    1: "Mise en observation et plan d'action validé en comité de pilotage",
    2: "Réfactions possibles et mise en demeure",
    3: "Réfactions possibles et résiliation pour faute possible",
}


def incentive_text(run: int) -> str:
    if run <= 0:
        return ""
    return INCENTIVE_LEVELS[min(run, 3)]
