"""The indicators on 13 months of synthetic history (``demo.generator``, scale 0.5), on
SQLite and PostgreSQL: figures in the ranges the generator targets, equal to the
generator's own count where it keeps one, identical from one run to the next and on both
databases; availability, opening on time, drills and satisfaction (T1-IQ01/02, T3-IQ03,
T8-IQ01) from the service's records the generator writes, with the one month of long
outage under target and its quality-incentive run; the monthly
report's XLSX opened with openpyxl, where a pivot-style sum gives the indicator back; the
Word and PowerPoint reports converted by LibreOffice (headless) to PDF and PNG pages.

The PNG pages are kept in ``$GUICHET_REPORT_PAGES`` (default: the test's temporary folder)
for a person to look at."""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import subprocess
import uuid
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from openpyxl import load_workbook

from demo.generator import generate
from guichet.bootstrap import build_container
from guichet.settings import load_settings
from indicators.services import IndicatorService
from indicators.settings import IndicatorSettings
from reports.services import ReportService
from reports.settings import ReportSettings
from tests.conftest import PG_SERVER, _pg_admin, _sa_url

MONTHS = [(2025, m) for m in range(10, 13)] + [(2026, m) for m in range(1, 11)]
SCALE = 0.5
SEED = 2026

# What demo.profile targets, with room for the noise of half-scale months.
RANGES = {
    "T1-IQ01": (0.975, 1.0), "T1-IQ02": (0.95, 1.0),
    "T2-IQ01": (0.70, 0.95), "T2-IQ02": (0.02, 0.13), "T2-IQ03": (0.85, 0.98), "T2-IQ04": (0.80, 1.0),
    "T2-IQ05": (0.70, 1.0), "T2-IQ06": (0.70, 1.0), "T2-IQ07": (0.78, 0.95), "T2-IQ08": (0.88, 1.0),
    "T2-IQ09": (0.70, 1.0), "T2-IQ10": (0.82, 0.98), "T8-IQ01": (0.70, 0.97),
}
#: The month of the long outage for this seed (``demo.profile.major_outage``): the only one
#: under 99 % of availability, one month of quality-incentive run.
OUTAGE_MONTH = "2026-03"
#: Drills expected a semester: the failover module's default (the demo runs as many).
DRILLS = 2
#: The indicators' points per backend, compared once both are computed.
_POINTS: dict[str, dict] = {}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def history(request, tmp_path_factory, template_databases):
    """A migrated database per backend holding the 13 generated months, and the generator's
    own summary."""
    tmp = tmp_path_factory.mktemp(f"history-{request.param}")
    if request.param == "sqlite":
        target = tmp / "history.sqlite3"
        shutil.copyfile(template_databases["sqlite"], target)
        url = f"sqlite+aiosqlite:///{target}"
        name = None
    else:
        name = f"guichet_h_{uuid.uuid4().hex[:8]}"
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template_databases["postgresql"]}"'))
        url = _sa_url(PG_SERVER, name)
    settings = load_settings({"database_url": url, "data_dir": str(tmp / "var")})
    summary = asyncio.run(generate(settings, MONTHS, scale=SCALE, seed=SEED, progress=False))
    yield request.param, settings, summary, tmp
    if name:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _dashboard(settings, **kw):
    container = build_container(settings)
    try:
        svc = IndicatorService.from_container(container, settings=IndicatorSettings(cache_seconds=0))
        return await svc.dashboard((2026, 10), 13, **kw)
    finally:
        await container.close()


def _comparable(dash) -> dict:
    out = dash.to_json()
    out.pop("generated_at")
    return out


def test_figures_are_realistic_stable_and_match_the_generator(history):
    backend, settings, summary, _ = history
    dash = asyncio.run(_dashboard(settings))
    again = asyncio.run(_dashboard(settings))
    assert _comparable(dash) == _comparable(again)  # two runs, identical results
    stats = {s.month: s for s in summary.months}
    for key in dash.shown:
        for iid, (lo, hi) in RANGES.items():
            p = dash.point(iid, key)
            assert p.status in ("met", "missed") and lo <= p.value <= hi, (backend, key, iid, p.value)
        st = stats[key]
        # the generator counts answers under 40 s and abandons over the presented calls too
        p1 = dash.point("T2-IQ01", key)
        assert (p1.numerator, p1.denominator) == (st.within_40, st.presented), key
        p2 = dash.point("T2-IQ02", key)
        assert (p2.numerator, p2.denominator) == (st.calls["abandoned"], st.presented), key
        op = dash.operational[key]
        assert op.tickets + op.duplicates == st.tickets
        assert 0.72 <= op.by_channel["phone"] / op.tickets <= 0.92
        for iid in ("T3-IQ01", "T4-IQ02"):
            assert dash.point(iid, key).status == "no_data"
    volumes = [dash.operational[k].tickets for k in dash.shown]
    assert 0.8 * 1136 * SCALE <= sum(volumes) / len(volumes) <= 1.2 * 1136 * SCALE
    pk = dash.package["2026-10"]
    assert pk.months_elapsed == 10 and pk.consumed == sum(dash.operational[f"2026-{m:02d}"].tickets
                                                         for m in range(1, 11))
    _POINTS[backend] = {iid: [dash.point(iid, k).to_json() for k in dash.shown] for iid in dash.points}
    if len(_POINTS) == 2:  # the same seed gives the same figures on both databases
        assert _POINTS["sqlite"] == _POINTS["postgresql"]


def test_service_records_give_availability_openings_drills_and_satisfaction(history):
    backend, settings, summary, _ = history
    dash = asyncio.run(_dashboard(settings))
    stats = {s.month: s for s in summary.months}
    done: dict[str, int] = defaultdict(int)  # drills passed in the semester so far
    for key in dash.shown:
        st, sv = stats[key], stats[key].service
        # T1-IQ01: the probes the generator wrote, down only during its outages
        av = dash.point("T1-IQ01", key)
        assert (av.details["probes"], av.details["failed_probes"]) == (sv.probes, sv.failed_probes), key
        assert av.details["down_minutes"] == pytest.approx(sv.down_seconds / 60, abs=0.051), key
        assert (av.status, av.run) == (("missed", 1) if key == OUTAGE_MONTH else ("met", 0)), (key, av.value)
        # T1-IQ02: every opening and closing journaled, rarely beyond the tolerance
        op = dash.point("T1-IQ02", key)
        assert (op.numerator, op.denominator) == (sv.boundaries - sv.late_boundaries, sv.boundaries), key
        # T3-IQ03: the semester's drills so far, over the expected number
        semester = f"{key[:4]}-S{1 if int(key[5:]) <= 6 else 2}"
        done[semester] += sv.drills_ok
        d = dash.point("T3-IQ03", key)
        assert (d.numerator, d.denominator) == (done[semester], DRILLS), key
        complete = key[5:] in ("06", "12")
        assert d.status == ("met" if done[semester] >= DRILLS else "missed" if complete else "in_progress"), key
        if complete:  # every semester of this history did its drills (one after a failed run)
            assert d.status == "met", key
        # T8-IQ01: survey answers in the month's range (counted in the month answered)
        sat = dash.point("T8-IQ01", key)
        assert sat.denominator == sat.details["very_satisfied"] + sat.details["satisfied"] + sat.details[
            "unsatisfied"] > 30, key
    assert sum(stats[k].service.late_boundaries for k in dash.shown) <= 3
    assert sum(stats[k].service.drills for k in dash.shown) > sum(stats[k].service.drills_ok for k in dash.shown)
    # the survey over the 13 months: every answer generated is counted, in the designed shares
    answers = Counter()
    for k in dash.shown:
        p = dash.point("T8-IQ01", k)
        answers.update({r: p.details[r] for r in ("very_satisfied", "satisfied", "unsatisfied")})
    total = sum(answers.values())
    assert total == sum(sum(st.surveys.values()) for st in summary.months)
    assert 0.80 <= answers["very_satisfied"] / total <= 0.88
    assert 0.10 <= answers["satisfied"] / total <= 0.16
    assert answers["unsatisfied"] / total <= 0.05
    assert 0.15 <= total / sum(st.tickets for st in summary.months) <= 0.25


async def _report(settings, out: Path):
    container = build_container(settings)
    try:
        svc = ReportService(container, ReportSettings(schedule=False),
                            IndicatorService.from_container(container, settings=IndicatorSettings(cache_seconds=0)))
        return await svc.generate_monthly((2026, 10), trigger="test", out_dir=out)
    finally:
        await container.close()


def test_monthly_report_xlsx_pivots_back_and_documents_render(history):
    backend, settings, _, tmp = history
    out = tmp / "report"
    done = asyncio.run(_report(settings, out))
    dash = asyncio.run(_dashboard(settings))
    wb = load_workbook(io.BytesIO(done.files["exports-2026-10.xlsx"]), read_only=False)
    assert {"Indicateurs", "Tickets", "Appels", "Mails", "Chats", "Escalades", "Volumes", "Exploitation"} <= set(
        wb.sheetnames)
    assert "Appels" in wb["Appels"].tables  # an Excel table: a pivot table can use it directly

    def pivot(sheet: str, by: str, value: str) -> dict:
        ws = wb[sheet]
        rows = ws.iter_rows(values_only=True)
        header = list(next(rows))
        k, v = header.index(by), header.index(value)
        acc = defaultdict(float)
        for r in rows:
            acc[r[k]] += r[v] or 0
        return dict(acc)

    for iid, sheet, by in (("T2-IQ01", "Appels", "Mois"), ("T2-IQ03", "Appels", "Mois"),
                           ("T2-IQ04", "Appels", "Mois"), ("T2-IQ05", "Mails", "Mois de réception"),
                           ("T2-IQ07", "Tickets", "Mois de création"), ("T2-IQ09", "Tickets", "Mois de création")):
        num = pivot(sheet, by, f"{iid} numérateur")["2026-10"]
        den = pivot(sheet, by, f"{iid} dénominateur")["2026-10"]
        p = dash.point(iid, "2026-10")
        assert (num, den) == (p.numerator, p.denominator), iid
        assert num / den == pytest.approx(p.value)
    # the indicators sheet: one row per indicator and month, its value equal to the API's
    rows = list(wb["Indicateurs"].iter_rows(values_only=True))
    header = rows[0]
    row = next(r for r in rows[1:] if r[0] == "T2-IQ07" and r[3] == "2026-10")
    assert row[header.index("Valeur")] == pytest.approx(dash.point("T2-IQ07", "2026-10").value)
    assert len(rows) - 1 == 31 * 25  # 31 indicators × (13 months + the 12 before)

    if backend != "sqlite":
        return  # the documents are the same on both databases: rendered once
    pages = Path(os.environ.get("GUICHET_REPORT_PAGES") or tmp / "pages")
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    assert soffice, "LibreOffice is needed (scripts/test-deps.d/libreoffice installs it)"
    assert shutil.which("pdftoppm"), "poppler-utils is needed (scripts/test-deps.d/libreoffice installs it)"
    for name in ("rapport-mensuel-2026-10.docx", "rapport-mensuel-2026-10.pptx"):
        kind = name.rsplit(".", 1)[1]
        target = pages / kind
        target.mkdir(parents=True, exist_ok=True)
        profile = tmp / f"lo-profile-{kind}"
        subprocess.run([soffice, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "pdf",
                        "--outdir", str(target), str(out / name)], check=True, capture_output=True, timeout=240)
        pdf = target / name.replace(f".{kind}", ".pdf")
        assert pdf.exists() and pdf.stat().st_size > 50_000
        subprocess.run(["pdftoppm", "-r", "60", "-png", str(pdf), str(target / "page")], check=True, timeout=240)
        pngs = sorted(target.glob("page-*.png"))
        assert len(pngs) >= 10, (name, len(pngs))
        text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True,
                              text=True).stdout
        assert "Rapport mensuel d'activité" in text and "Octobre 2026" in text
        assert "T2-IQ01" in text and "Escalades en cours" in text
        if kind == "docx":
            assert "Annexe A. Définitions des indicateurs" in text and "strictement inférieur" in text
