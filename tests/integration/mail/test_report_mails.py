"""The scheduled reports reach their readers by mail, through the gateway's outbox and a
real relay: the point prod (text, with the HTML alternative) and the monthly report with its
DOCX, PPTX and XLSX attached; reports made on demand are not mailed."""

from __future__ import annotations

import io

from openpyxl import load_workbook

from indicators.services import IndicatorService
from reports import runtime
from reports.services import ReportService
from reports.settings import ReportSettings
from tests.integration.indicators import timeline as tl
from tests.integration.mail.conftest import SUPPORT, mails, wait_until


async def test_given_recipients_when_the_schedule_makes_the_reports_then_they_are_mailed(gateway, container, relay,
                                                                                        clock):
    await tl.build(container, clock)
    indicators = IndicatorService.from_container(container, settings=tl.SETTINGS)
    rs = ReportSettings(daily_recipients="dsi@conseil-etat.test, Pilotage@Conseil-Etat.test",
                        monthly_recipients=["pilotage@conseil-etat.test"])
    svc = ReportService(container, rs, indicators)
    await svc.generate_daily(tl.at("2026-04-08", "07:00").date(), trigger="api")  # on demand: not mailed
    made = await runtime.tick(svc, rs, tl.at("2026-04-07", "07:01:00"))
    assert made == ["daily:2026-04-07", "monthly:2026-03"]
    got = await relay.wait_for(3)
    by_subject = {}
    for captured in got:
        by_subject.setdefault(captured.message["Subject"], []).append(captured)
    daily = by_subject["Point prod du mardi 7 avril 2026"]
    assert sorted(c.rcpt_tos[0] for c in daily) == ["dsi@conseil-etat.test", "pilotage@conseil-etat.test"]
    msg = daily[0].message
    assert daily[0].mail_from == SUPPORT and msg["Auto-Submitted"] == "auto-generated"
    text = msg.get_body(("plain",)).get_content()
    assert "Point prod du mardi 7 avril 2026" in text and "T2-IQ01" in text
    assert "<html" in msg.get_body(("html",)).get_content()
    [monthly] = by_subject["Rapport mensuel d'activité — mars 2026"]
    names = sorted(part.get_filename() for part in monthly.message.iter_attachments())
    assert names == ["exports-2026-03.xlsx", "rapport-mensuel-2026-03.docx", "rapport-mensuel-2026-03.pptx"]
    xlsx = next(p for p in monthly.message.iter_attachments() if p.get_filename().endswith(".xlsx"))
    assert "Indicateurs" in load_workbook(io.BytesIO(xlsx.get_content())).sheetnames
    async def all_sent():
        rows = [m for m in await mails(container, "out") if m.kind == "report"]
        return len(rows) == 3 and all(m.status == "sent" and m.ticket_id is None for m in rows)

    await wait_until(all_sent, what="report mails marked sent")
