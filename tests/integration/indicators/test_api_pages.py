"""The indicators' and reports' HTTP surface on the real aiohttp application, SQLite and
PostgreSQL: roles (auditors read, operators do not), the JSON API, the auditors' pages in
French with inline SVG charts and no outside resource, the definitions page, a report
generated on demand with its progress and downloaded (and the download audited), notes of
the monthly report, and the schedule's ticks with a settable clock."""

from __future__ import annotations

import asyncio
import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from accounts.services import create_user
from indicators.services import IndicatorService
from reports import runtime
from reports.models import GeneratedReport
from reports.services import ReportService
from reports.settings import ReportSettings
from tests.integration.indicators import timeline as tl
from ticket_core.models import AuditEntry

PASSWORD = "a-long-password-1"


@pytest.fixture
async def app(client, container, clock):
    await tl.build(container, clock)
    container.extras["indicators"] = IndicatorService.from_container(container, settings=tl.SETTINGS)
    async with container.session_factory() as session:
        for name, role in (("aud", "auditor"), ("sup", "supervisor"), ("opx", "operator")):
            await create_user(session, username=name, password=PASSWORD, role=role)
        await session.commit()
    return client, container, clock


async def _token(client, username: str) -> dict[str, str]:
    r = await client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status == 200
    return {"Authorization": f"Bearer {(await r.json())['token']}"}


async def test_api_roles_and_figures(app):
    client, _, _ = app
    aud, op = await _token(client, "aud"), await _token(client, "opx")
    r = await client.get("/api/v1/indicators?end=2026-04", headers=op)
    assert r.status == 403
    r = await client.get("/api/v1/indicators?end=2026-04", headers=aud)
    assert r.status == 200
    body = await r.json()
    assert body["months"][-1] == "2026-04" and len(body["months"]) == 13
    iq01 = next(i for i in body["indicators"] if i["id"] == "T2-IQ01")
    april = iq01["months"][-1]
    assert (april["numerator"], april["denominator"], april["status"]) == (4, 12, "missed")
    assert april["same_month_last_year"]["value"] == 1.0 and april["incentive_run"] == 1
    t4 = next(i for i in body["indicators"] if i["id"] == "T4-IQ01")
    assert t4["months"][-1]["status"] == "no_data" and t4["months"][-1]["value"] is None
    r = await client.get("/api/v1/indicators/T2-IQ05?end=2026-04", headers=aud)
    assert (await r.json())["months"][-1]["numerator"] == 3
    r = await client.get("/api/v1/indicators?end=2026-13", headers=aud)
    assert r.status == 422
    r = await client.get("/api/v1/indicators/definitions", headers=aud)
    defs = await r.json()
    assert any("40 secondes" in t["text"] for t in defs["terms"])
    assert next(i for i in defs["indicators"] if i["id"] == "T2-IQ07")["denominator"].startswith("tickets créés")
    r = await client.get("/api/v1/indicators/daily?day=2026-04-07", headers=aud)
    daily = await r.json()
    assert daily["from"] == "2026-04-03" and daily["indicators"]["T2-IQ01"]["numerator"] == 1
    openapi = await (await client.get("/api/openapi.json")).json()
    assert "/api/v1/indicators" in openapi["paths"] and "/api/v1/reports/monthly" in openapi["paths"]


async def test_pages_for_auditors(app):
    client, _, _ = app
    r = await client.get("/indicateurs", allow_redirects=False)
    assert r.status == 302 and r.headers["Location"].startswith("/indicateurs/connexion")
    r = await client.post("/indicateurs/connexion", data={"username": "aud", "password": "wrong-password",
                                                         "next": "/indicateurs"}, allow_redirects=False)
    assert r.status == 401 and "incorrect" in await r.text()
    r = await client.post("/indicateurs/connexion", data={"username": "aud", "password": PASSWORD,
                                                         "next": "/indicateurs?fin=2026-04"}, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/indicateurs?fin=2026-04"
    r = await client.get("/indicateurs?fin=2026-04")
    page = await r.text()
    assert r.status == 200 and '<html lang="fr">' in page
    assert "Tableau de bord des niveaux de service" in page and "avril 2026" in page
    assert page.count("<svg") >= 10  # one trend per computed indicator, and the volumes
    assert "Réactivité au décroché téléphonique" in page and "non atteint" in page
    # 13 tickets in the 4 months since January: 39 at that pace over the year, no extension
    assert re.search(r"<strong>39</strong>\s*tickets projetés sur l.{1,5}année au rythme actuel, soit 0 extension",
                     page), page[page.find("forfait"):page.find("forfait") + 600]
    assert not re.search(r"(src|href)=\"https?://", page)  # nothing from elsewhere
    assert "Content-Security-Policy" in r.headers
    r = await client.get("/indicateurs/T2-IQ04?fin=2026-04")
    page = await r.text()
    assert "Taux d'appels récupérés" in page or "Taux d&#39;appels récupérés" in page
    assert "appels perdus (présentés, non décrochés)" in page and "<svg" in page
    r = await client.get("/indicateurs/definitions")
    page = await r.text()
    assert "strictement inférieur à 40 secondes" in page
    assert "GUICHET_INDICATORS_SHORT_ABANDON_SECONDS" in page and "5 s" in page
    r = await client.get("/rapports")
    assert r.status == 200 and "Générer le rapport mensuel" not in await r.text()  # auditors read only
    r = await client.get("/rapports/point-prod?jour=2026-04-07")
    assert "Point prod du mardi 7 avril 2026" in await r.text()


async def test_operators_are_refused_the_pages(app):
    client, _, _ = app
    await client.post("/indicateurs/connexion", data={"username": "opx", "password": PASSWORD})
    r = await client.get("/indicateurs")
    assert r.status == 403 and "réservées" in await r.text()


async def test_report_on_demand_with_progress_download_and_notes(app):
    client, container, _ = app
    sup, aud = await _token(client, "sup"), await _token(client, "aud")
    r = await client.post("/api/v1/reports/monthly", json={"month": "2026-04"}, headers=aud)
    assert r.status == 403
    r = await client.patch("/api/v1/reports/notes/2026-04", headers=sup,
                           json={"section": "actions_correctives", "text": "Renfort de deux opérateurs le lundi."})
    assert r.status == 200
    r = await client.post("/api/v1/reports/monthly", json={"month": "2026-04"}, headers=sup)
    assert r.status == 202
    rid = (await r.json())["id"]
    for _ in range(1500):
        report = await (await client.get(f"/api/v1/reports/{rid}", headers=aud)).json()
        if report["status"] != "running":
            break
        await asyncio.sleep(0.2)
    assert report["status"] == "done", report
    assert [s["step"] for s in report["steps"]] == list(range(1, 10))
    names = {f["name"] for f in report["files"]}
    assert names == {"rapport-mensuel-2026-04.docx", "rapport-mensuel-2026-04.pptx", "exports-2026-04.xlsx",
                     "exports-2026-04-csv.zip", "indicateurs-2026-04.json"}
    r = await client.get(f"/api/v1/reports/{rid}/files/exports-2026-04.xlsx", headers=aud)
    assert r.status == 200
    wb = load_workbook(io.BytesIO(await r.read()), read_only=True)
    assert len(list(wb["Tickets"].iter_rows(values_only=True))) == 15  # header + the 14 tickets of April
    r = await client.get(f"/api/v1/reports/{rid}/files/rapport-mensuel-2026-04.docx", headers=aud)
    from docx import Document

    text = "\n".join(p.text for p in Document(io.BytesIO(await r.read())).paragraphs)
    assert "Renfort de deux opérateurs le lundi." in text
    async with container.session_factory() as session:
        audited = list(await session.scalars(select(AuditEntry).where(AuditEntry.action == "export")))
    assert {a.subject_id for a in audited} >= {f"{rid}/exports-2026-04.xlsx"}


async def test_schedule_generates_once_per_period(app):
    _, container, clock = app
    svc = ReportService(container, ReportSettings(), container.extras["indicators"])
    rs = ReportSettings()
    # Easter Monday 6 April 2026 07:05: a holiday, no point prod; the 2nd business day of
    # April (Thursday 2) has passed: March's report is due.
    due = await runtime.due(svc, rs, tl.at("2026-04-06", "07:05:00"))
    assert [k for k, _ in due] == ["monthly:2026-03"]
    # Tuesday 7 April, 06:59: not yet; 07:01: the point prod too.
    assert [k for k, _ in await runtime.due(svc, rs, tl.at("2026-04-07", "06:59:00"))] == ["monthly:2026-03"]
    made = await runtime.tick(svc, rs, tl.at("2026-04-07", "07:01:00"))
    assert made == ["daily:2026-04-07", "monthly:2026-03"]
    assert await runtime.tick(svc, rs, tl.at("2026-04-07", "07:02:00")) == []  # once only
    # Wednesday 1 April 07:40: first business day, March's report is not due yet
    assert runtime.nth_business_day(await svc.indicators.calendar(), 2026, 4, 2).isoformat() == "2026-04-02"
    # another instance claiming the same scheduled report gets nothing
    assert await svc.generate_daily(tl.at("2026-04-07", "07:00").date(), schedule_key="daily:2026-04-07") is None


async def test_given_the_standby_site_of_a_pair_then_the_schedule_waits_until_it_is_active(app, monkeypatch):
    _, container, clock = app
    container.extras["reports"] = ReportService(container, ReportSettings(), container.extras["indicators"])
    monkeypatch.setenv("GUICHET_REPORTS_TICK_SECONDS", "0.05")
    clock.now = tl.at("2026-04-07", "07:01:00")  # the point prod and March's report are due
    active = {"now": False}
    container.extras["site_is_active"] = lambda: active["now"]
    stop = await runtime.start(container)
    try:
        await asyncio.sleep(0.5)  # ten ticks on the standby: nothing made, nothing claimed
        async with container.session_factory() as session:
            assert list(await session.scalars(select(GeneratedReport.schedule_key))) == []
        active["now"] = True  # the switchover: this site now holds the lease
        for _ in range(1500):
            async with container.session_factory() as session:
                keys = set(await session.scalars(select(GeneratedReport.schedule_key)
                                                 .where(GeneratedReport.status == "done")))
            if keys == {"daily:2026-04-07", "monthly:2026-03"}:
                break
            await asyncio.sleep(0.1)
        assert keys == {"daily:2026-04-07", "monthly:2026-03"}
    finally:
        await stop()


async def test_given_a_validated_monthly_report_then_its_pdf_edition_says_so_and_only_once(app, tmp_path):
    """SPEC §7: PDF only for final, validated documents."""
    import shutil
    import subprocess

    client, container, clock = app
    svc = ReportService(container, ReportSettings(schedule=False), container.extras["indicators"])
    container.extras["reports"] = svc
    done = await svc.generate_monthly((2026, 4), trigger="test")
    daily = await svc.generate_daily(tl.at("2026-04-07", "08:00").date(), trigger="test")
    sup, aud = await _token(client, "sup"), await _token(client, "aud")
    assert (await client.post(f"/api/v1/reports/{done.report_id}/validate", headers=aud)).status == 403
    r = await client.post(f"/api/v1/reports/{daily.report_id}/validate", headers=sup)
    assert (r.status, (await r.json())["error"]) == (409, "report_not_validatable")
    r = await client.post(f"/api/v1/reports/{done.report_id}/validate", headers=sup)
    body = await r.json()
    assert r.status == 200, body
    assert body["validated_by"] == "sup" and body["validated_at"]
    pdfs = sorted(f["name"] for f in body["files"] if f["name"].endswith(".pdf"))
    assert pdfs == ["presentation-2026-04-valide.pdf", "rapport-mensuel-2026-04-valide.pdf"]
    r = await client.get(f"/api/v1/reports/{done.report_id}/files/rapport-mensuel-2026-04-valide.pdf", headers=aud)
    assert r.status == 200 and r.headers["Content-Type"] == "application/pdf"
    path = tmp_path / "valide.pdf"
    path.write_bytes(await r.read())
    text = subprocess.run([shutil.which("pdftotext"), "-l", "1", str(path), "-"], capture_output=True,
                          check=True).stdout.decode()
    assert "version validée en comité de pilotage le" in " ".join(text.split()) and "version projet" not in text
    # the generated DOCX stays as it was reviewed; a second validation of the month is refused
    r = await client.post(f"/api/v1/reports/{done.report_id}/validate", headers=sup)
    assert (r.status, (await r.json())["error"]) == (409, "report_not_validatable")
    again = await svc.generate_monthly((2026, 4), trigger="test")
    r = await client.post(f"/api/v1/reports/{again.report_id}/validate", headers=sup)
    assert r.status == 409 and "already validated" in (await r.json())["message"]
    async with container.session_factory() as session:
        audited = list(await session.scalars(select(AuditEntry).where(AuditEntry.action == "validate")))
    assert [a.subject_id for a in audited] == [str(done.report_id)]
