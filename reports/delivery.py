"""Sending the scheduled reports to the people who read them: the point prod every
business morning (its text, with its HTML as the alternative) and the monthly report
(DOCX, PPTX and XLSX attached), to ``GUICHET_REPORTS_DAILY_RECIPIENTS`` and
``GUICHET_REPORTS_MONTHLY_RECIPIENTS``.

The mails go through the mail gateway's outbox (one ``mail_messages`` row per recipient,
kind ``report``, no ticket), written in one transaction once the report is stored: the
outbox sender delivers them through the relay, retries what the relay defers, and a crash
in between sends them at the next start. Reports made on demand are not mailed: whoever
asked downloads them.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from email.message import EmailMessage
from typing import Any

from indicators.periods import day_label, month_label
from mailgw.outbound import build_message, outbox_row
from mailgw.runtime import gateway_settings, wake_outbox
from mailgw.settings import MailSettings
from reports.settings import ReportSettings

log = logging.getLogger("guichet.reports")

KIND_REPORT = "report"
ATTACHED = {".docx": ("application", "vnd.openxmlformats-officedocument.wordprocessingml.document"),
            ".pptx": ("application", "vnd.openxmlformats-officedocument.presentationml.presentation"),
            ".xlsx": ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")}


def daily_message(ms: MailSettings, rs: ReportSettings, *, to: str, day: str, files: dict[str, bytes],
                  now: datetime) -> EmailMessage:
    text = files[f"point-prod-{day}.txt"].decode("utf-8")
    msg = build_message(ms, to=to, subject=f"Point prod du {day_label(date.fromisoformat(day))}", body=text,
                        now=now, in_reply_to=None, references=[], automatic="auto-generated")
    html = files.get(f"point-prod-{day}.html")
    if html:
        msg.add_alternative(html.decode("utf-8"), subtype="html")
    return msg


def monthly_message(ms: MailSettings, rs: ReportSettings, *, to: str, month: str, files: dict[str, bytes],
                    now: datetime) -> EmailMessage:
    label = month_label(month)
    attached = sorted(name for name in files if name[name.rfind("."):] in ATTACHED)
    body = (f"Bonjour,\n\nVeuillez trouver ci-joint le rapport mensuel d'activité de {label} "
            f"({rs.service_name}), en version projet à valider en comité de pilotage :\n"
            + "".join(f"  - {name}\n" for name in attached)
            + "\nLes indicateurs, leurs définitions et les exports sont aussi consultables à tout moment sur "
              "les pages /indicateurs et /rapports.\n\n" + f"{rs.contractor}\n")
    msg = build_message(ms, to=to, subject=f"Rapport mensuel d'activité — {label}", body=body, now=now,
                        in_reply_to=None, references=[], automatic="auto-generated")
    for name in attached:
        maintype, subtype = ATTACHED[name[name.rfind("."):]]
        msg.add_attachment(files[name], maintype=maintype, subtype=subtype, filename=name)
    return msg


async def queue_report_mails(container: Any, rs: ReportSettings, *, kind: str, period: str,
                             files: dict[str, bytes]) -> int:
    """Queue the mails of a scheduled report in the outbox; how many were queued."""
    recipients = rs.daily_recipients if kind == "daily" else rs.monthly_recipients
    if not recipients:
        return 0
    ms = gateway_settings(container)
    now = container.clock()
    build = daily_message if kind == "daily" else monthly_message
    async with container.session_factory() as session:
        for to in recipients:
            msg = build(ms, rs, to=to, **({"day": period} if kind == "daily" else {"month": period}),
                        files=files, now=now)
            # The support address sends (bounces come back to it, not into a loop).
            session.add(outbox_row(msg, kind=KIND_REPORT, ticket_id=None, to=to, envelope_from=ms.support_address,
                                   now=now, body=""))
        await session.commit()
    wake_outbox(container)
    log.info("%s %s: mailed to %s (outbox)", kind, period, ", ".join(recipients))
    return len(recipients)
