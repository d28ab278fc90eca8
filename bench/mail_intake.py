"""P3: mails per second from SMTP DATA to a committed ticket, beside a baseline measured
in the same run: a bare aiosmtpd handler that only writes the message to a file and
fsyncs it. Same clients for both: real SMTP sessions (smtplib, one persistent connection
per client thread, MAIL/RCPT/DATA per mail), all on loopback. A measurement, not a test:
no assertions, no thresholds.

    .venv/bin/python bench/mail_intake.py [--mails 400] [--clients 4] [--size 4096]
                                          [--database-url postgresql+asyncpg://…]

The gateway path per mail: parse (email, policy.default), store the raw bytes and the
parsed mail, find or create the requester, thread or create the ticket (reference counter,
SLA clocks, history), journal ``mail_received``, queue the acknowledgement (outbox row,
rate-limit query), commit (SQLite WAL synchronous=FULL: an fsync), then answer 250.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import smtplib
import sys
import tempfile
import threading
import time
import uuid
from email.message import EmailMessage
from email import policy
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiosmtpd.smtp import SMTP  # noqa: E402

from guichet.bootstrap import build_container  # noqa: E402
from guichet.cli import prepare_database  # noqa: E402
from guichet.settings import load_settings  # noqa: E402
from mailgw.runtime import MailGateway  # noqa: E402
from mailgw.settings import MailSettings  # noqa: E402

SUPPORT = "support@bench.test"


def make_mails(count: int, size: int) -> list[bytes]:
    out = []
    filler = ("Le dépôt de ma requête échoue à l'étape de la signature. " * 200)[: max(size - 600, 10)]
    for n in range(count):
        msg = EmailMessage(policy=policy.SMTP)
        msg["From"] = f"Usager {n % 50} <usager{n % 50}@exemple.fr>"
        msg["To"] = SUPPORT
        msg["Subject"] = f"Demande d'assistance n° {n}"
        msg["Message-ID"] = f"<{uuid.uuid4().hex}@exemple.fr>"
        msg.set_content(f"Bonjour,\n\n{filler}\n\nCordialement")
        out.append(msg.as_bytes())
    return out


def run_clients(port: int, mails: list[bytes], clients: int) -> float:
    """Send every mail, spread over ``clients`` persistent connections; seconds elapsed."""
    chunks = [mails[i::clients] for i in range(clients)]
    errors: list[str] = []
    barrier = threading.Barrier(clients + 1)

    def worker(chunk: list[bytes]) -> None:
        with smtplib.SMTP("127.0.0.1", port, local_hostname="bench.test", timeout=60) as client:
            client.ehlo()
            barrier.wait()
            for raw in chunk:
                client.mail("usager@exemple.fr")
                client.rcpt(SUPPORT)
                code, resp = client.data(raw)
                if code != 250:
                    errors.append(f"{code} {resp!r}")

    threads = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"{len(errors)} mails refused, first: {errors[0]}")
    return elapsed


class FsyncHandler:
    """The baseline: write the message to its own file and fsync it, nothing else."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.n = 0

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: ANN001
        self.n += 1
        path = self.folder / f"{self.n}.eml"
        data = envelope.original_content
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        return "250 OK"


async def baseline(mails: list[bytes], clients: int, folder: Path) -> float:
    loop = asyncio.get_running_loop()
    handler = FsyncHandler(folder)
    server = await loop.create_server(lambda: SMTP(handler, hostname="bench.test", loop=loop), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        return await asyncio.to_thread(run_clients, port, mails, clients)
    finally:
        server.close()
        await server.wait_closed()


async def gateway(mails: list[bytes], clients: int, tmp: Path, database_url: str) -> tuple[float, str]:
    settings = load_settings({"data_dir": str(tmp / "var"), "database_url": database_url})
    container = build_container(settings)
    await prepare_database(container)
    mail_settings = MailSettings(smtp_port=_free_port(), hostname="guichet.bench", support_address=SUPPORT,
                                 relay_host="", ack_rate_limit=1000)
    gw = await MailGateway(container, mail_settings).start()
    try:
        elapsed = await asyncio.to_thread(run_clients, gw.smtp_port, mails, clients)
    finally:
        await gw.stop()
        await container.close()
    return elapsed, settings.effective_database_url.split(":")[0]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mails", type=int, default=400)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--size", type=int, default=4096, help="approximate size of each mail in bytes")
    parser.add_argument("--database-url", default="", help="default: a new SQLite file in a temporary folder")
    args = parser.parse_args()
    import logging

    logging.basicConfig(level=logging.WARNING)
    mails = make_mails(args.mails, args.size)
    size = sum(map(len, mails)) / len(mails)
    with tempfile.TemporaryDirectory(prefix="guichet-bench-mail-") as tmp:
        folder = Path(tmp) / "baseline"
        folder.mkdir()
        base = asyncio.run(baseline(mails, args.clients, folder))
        took, db = asyncio.run(gateway(mails, args.clients, Path(tmp), args.database_url))
    print(f"P3 mail intake, {args.mails} mails of {size:,.0f} bytes over {args.clients} SMTP connections:")
    print(f"  gateway  (DATA → raw + ticket + journal + ack queued, committed on {db}): "
          f"{args.mails / took:8.1f} mails/s  ({took * 1000 / args.mails:6.2f} ms per mail wall-clock)")
    print(f"  baseline (bare aiosmtpd handler: write + fsync the message):              "
          f"{args.mails / base:8.1f} mails/s  ({base * 1000 / args.mails:6.2f} ms per mail wall-clock)")
    print(f"  ratio: the gateway runs at {base / took:.1%} of the bare fsync baseline")


if __name__ == "__main__":
    main()
