"""Two PostgreSQL 15 servers of the machine's installation, started by the tests: a primary
and a real streaming standby (``pg_basebackup -R``) with synchronous commit, so a commit
acknowledged by the primary is on the standby's disk before the client hears "COMMIT".

Each server has its own data directory in a temporary folder owned by ``postgres`` (the
servers run as that user, through ``runuser``), its own unix socket folder and a loopback
TCP port. The machine's own server (5432) is never touched.

    pair = PgPair.create()            # initdb, start primary, base backup, start standby
    pair.url                          # the application's URL: both hosts, read-write one
    pair.kill_primary()               # SIGKILL of the postmaster and every backend
    pair.promote_standby()            # pg_ctl promote (the failover module does it itself)
    pair.destroy()
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.net import free_port

def _pg_bin() -> Path:
    if os.environ.get("GUICHET_PG_BIN"):
        return Path(os.environ["GUICHET_PG_BIN"])
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else Path("/usr/lib/postgresql/15/bin")


PG_BIN = _pg_bin()
DB = "guichet"
USER = "guichet"
STANDBY_NAME = "backup"  # application_name of the standby = synchronous_standby_names


def _run_as_postgres(*args: str, timeout: float = 60) -> str:
    res = subprocess.run(["runuser", "-u", "postgres", "--", *args], capture_output=True, text=True,
                         timeout=timeout, stdin=subprocess.DEVNULL)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
    return res.stdout


@dataclass
class PgServer:
    name: str
    data_dir: Path
    socket_dir: Path
    port: int
    log: Path

    @property
    def dsn(self) -> str:
        """libpq/asyncpg DSN as the superuser (promotion, replication checks)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def app_dsn(self) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{DB}"

    def start(self) -> None:
        _run_as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log), "-w", "-t", "60",
                         "-o", f"-p {self.port} -k {self.socket_dir}", "start")

    def pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def running(self) -> bool:
        pid = self.pid()
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True

    def kill(self) -> None:
        """A crash: SIGKILL to the postmaster and all its children at once."""
        pid = self.pid()
        if pid is None:
            return
        victims = [pid] + _children(pid)
        for p in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(p) for p in victims):
            time.sleep(0.05)

    def stop(self) -> None:
        if self.running():
            with contextlib.suppress(Exception):
                _run_as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "-w",
                                 "stop", timeout=30)
        if self.running():
            self.kill()

    def promote(self) -> None:
        _run_as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "-w", "promote")

    def psql(self, sql: str, db: str = "postgres") -> str:
        return _run_as_postgres(str(PG_BIN / "psql"), "-X", "-A", "-t", "-h", str(self.socket_dir), "-p",
                                str(self.port), "-d", db, "-c", sql)


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            out.append(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


PRIMARY_CONF = """
listen_addresses = '127.0.0.1'
max_connections = 60
shared_buffers = 16MB
wal_level = replica
max_wal_senders = 4
wal_keep_size = 64MB
hot_standby = on
synchronous_commit = on
wal_sender_timeout = 5s
wal_receiver_timeout = 5s
wal_receiver_status_interval = 1s
tcp_keepalives_idle = 2
tcp_keepalives_interval = 1
tcp_keepalives_count = 3
log_min_messages = warning
log_connections = off
"""

HBA = """
local all all trust
host all all 127.0.0.1/32 trust
local replication all trust
host replication all 127.0.0.1/32 trust
"""


@dataclass
class PgPair:
    root: Path
    primary: PgServer
    standby: PgServer
    extra: list[PgServer] = field(default_factory=list)

    @classmethod
    def create(cls) -> PgPair:
        if not (PG_BIN / "initdb").exists():
            raise RuntimeError(f"{PG_BIN}/initdb missing: run scripts/test-deps.d/postgresql-tools")
        root = Path(tempfile.mkdtemp(prefix="guichet-pgpair-"))
        pg = pwd.getpwnam("postgres")
        os.chown(root, pg.pw_uid, pg.pw_gid)
        servers = []
        for name in ("primary", "standby"):
            sock = root / f"{name}-sock"
            sock.mkdir()
            os.chown(sock, pg.pw_uid, pg.pw_gid)
            servers.append(PgServer(name, root / name, sock, free_port(), root / f"{name}.log"))
        primary, standby = servers
        pair = cls(root, primary, standby)
        atexit.register(pair.destroy)  # even if the test session is interrupted
        try:
            _run_as_postgres(str(PG_BIN / "initdb"), "-D", str(primary.data_dir), "-U", "postgres", "-A", "trust",
                             "-E", "UTF8", "--locale=C.UTF-8", "--no-instructions")
            with open(primary.data_dir / "postgresql.conf", "a") as fh:
                fh.write(PRIMARY_CONF)
            (primary.data_dir / "pg_hba.conf").write_text(HBA)
            primary.start()
            primary.psql(f"CREATE ROLE {USER} LOGIN")
            primary.psql(f"CREATE DATABASE {DB} OWNER {USER}")
            # The failover module of the backup site promotes its standby with pg_promote().
            primary.psql(f"GRANT EXECUTE ON FUNCTION pg_promote(boolean, integer) TO {USER}", db=DB)
            _run_as_postgres(str(PG_BIN / "pg_basebackup"), "-D", str(standby.data_dir), "-R", "-X", "stream",
                             "-c", "fast", "-d",
                             f"host=127.0.0.1 port={primary.port} user=postgres application_name={STANDBY_NAME}")
            standby.start()
            # Synchronous from now on: a commit waits until the standby has flushed it.
            primary.psql(f"ALTER SYSTEM SET synchronous_standby_names = '{STANDBY_NAME}'")
            primary.psql("SELECT pg_reload_conf()")
            pair.wait_streaming()
        except BaseException:
            pair.destroy()
            raise
        return pair

    def wait_streaming(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            last = self.primary.psql("SELECT sync_state FROM pg_stat_replication").strip()
            if last == "sync":
                return
            time.sleep(0.2)
        raise RuntimeError(f"the standby is not a synchronous replica (state {last!r})")

    @property
    def url(self) -> str:
        """The applications' database URL: both servers, whichever accepts writes."""
        # host=a,b&port=p,q: understood by SQLAlchemy and, once converted, by asyncpg and libpq
        return (f"postgresql+asyncpg://{USER}@/{DB}?host=127.0.0.1,127.0.0.1"
                f"&port={self.primary.port},{self.standby.port}&target_session_attrs=read-write")

    def destroy(self) -> None:
        for server in (self.standby, self.primary, *self.extra):
            with contextlib.suppress(Exception):
                server.stop()
        shutil.rmtree(self.root, ignore_errors=True)
