"""The catalogue's starting data (SPEC §2, §5) and its idempotent seeding.

The catalogue is data: supervisors add audiences, applications and request types later
through the API; ``seed_catalogue`` only inserts what is missing, never overwrites.
User-facing labels are French.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ticket_core.models import Application, ApplicationComponent, Audience, RequestType, Severity

AUDIENCES = [
    # code, label, IVR digit
    ("avocat", "Avocat (cabinet)", "1"),
    ("administration", "Administration", "2"),
    ("citoyen", "Citoyen", "3"),
]

SEVERITIES = [
    (1, "bloquante", "Bloquante", "L'utilisateur ne peut pas travailler."),
    (2, "majeure", "Majeure", "L'utilisateur travaille en mode dégradé."),
    (3, "mineure", "Mineure", "Gêne sans conséquence sur le travail."),
]

# code, label, default criticality (1 high, 2 medium, 3 low), components
APPLICATIONS = [
    ("tr-citoyens", "Télérecours citoyens", 2, [("depot", "Dépôt de requête", 1), ("compte", "Compte", 2)]),
    ("tr-legacy-ta", "Télérecours « legacy » TA", 1, []),
    ("tr-legacy-caa", "Télérecours « legacy » CAA", 1, []),
    ("tr-legacy-ce", "Télérecours « legacy » CE", 1, []),
    ("tr-avocats-ta", "Télérecours-avocats TA", 1, [("depot", "Dépôt de pièces", 1), ("annuaire", "Annuaire", 2)]),
    ("tr-avocats-caa", "Télérecours-avocats CAA", 1, []),
    ("tr-avocats-ce", "Télérecours-avocats CE", 1, []),
    ("tr-avocats-cnda", "Télérecours-avocats CNDA", 2, []),
    ("tr-administrations", "Télérecours-administrations", 1, [("depot", "Dépôt de mémoires", 1), ("organisation", "Organisation", 2)]),
]

# code, label, category, excluded from T2-IQ07/10, redirect target, fields N2 needs
REQUEST_TYPES = [
    ("information", "Information générale", "information", False, None, []),
    ("inscription", "Aide à l'inscription", "help", False, None, []),
    ("connexion", "Aide à la connexion (mot de passe)", "help", False, None, ["identifiant"]),
    ("configuration", "Aide au paramétrage de l'organisation", "help", False, None, ["organisation"]),
    ("depot", "Aide au dépôt (requêtes, pièces)", "help", False, None, ["numero_dossier"]),
    ("suivi-juridique", "Suivi juridique d'un dossier (réorientation vers le greffe)", "legal", False,
     "Greffe de la juridiction", []),
    ("incident-acces", "Incident : accès", "incident", False, None, ["identifiant", "message_erreur"]),
    ("incident-dossier-invisible", "Incident : dossier non visible", "incident", False, None,
     ["numero_dossier", "juridiction"]),
    ("incident-document-greffe", "Incident : document du greffe inaccessible", "incident", False, None,
     ["numero_dossier", "juridiction", "document"]),
    ("incident-telechargement", "Incident : échec de téléchargement", "incident", False, None,
     ["numero_dossier", "document", "message_erreur"]),
    ("incident-notification", "Incident : courriels de notification absents", "incident", False, None,
     ["identifiant", "adresse_courriel"]),
    ("fusion", "Fusion d'entrées Télérecours", "merge", True, None, ["identifiant", "identifiant_a_fusionner"]),
]


async def seed_catalogue(session: AsyncSession) -> int:
    """Insert the missing starting entries; return how many rows were added."""
    added = 0
    for code, label, digit in AUDIENCES:
        if await session.get(Audience, code) is None:
            session.add(Audience(code=code, label=label, ivr_digit=digit, active=True))
            added += 1
    for level, code, label, description in SEVERITIES:
        if await session.get(Severity, level) is None:
            session.add(Severity(level=level, code=code, label=label, description=description))
            added += 1
    for code, label, criticality, components in APPLICATIONS:
        app = await session.scalar(select(Application).where(Application.code == code))
        if app is None:
            app = Application(code=code, label=label, criticality=criticality, active=True)
            session.add(app)
            await session.flush()
            added += 1
        known = {c.code for c in await session.scalars(
            select(ApplicationComponent).where(ApplicationComponent.application_id == app.id))}
        for ccode, clabel, ccrit in components:
            if ccode not in known:
                session.add(ApplicationComponent(application_id=app.id, code=ccode, label=clabel, criticality=ccrit))
                added += 1
    for code, label, category, excluded, redirect, fields in REQUEST_TYPES:
        if await session.scalar(select(RequestType).where(RequestType.code == code)) is None:
            session.add(RequestType(
                code=code, label=label, category=category,
                excluded_from_resolution_indicators=excluded, redirect_to=redirect,
                escalation_fields=fields, active=True,
            ))
            added += 1
    await session.flush()
    return added
