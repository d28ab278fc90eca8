"""Real SIP peers for integration tests: operators' softphones and callers.

Each peer is a pjsua2 process (``tests/support/sip/pjsua_agent.py``; pjsua2 is built from
the pjproject bundled in Debian's asterisk source by ``scripts/build-pjsua2``) driven over
a pipe. Peers speak real SIP/RTP to Asterisk on loopback: digest-authenticated REGISTER,
INVITE with PCMU audio (a 440 Hz tone, RTP every 20 ms), RFC 4733 DTMF, BYE/CANCEL.

Times: every observation carries ``at`` = ``time.monotonic()`` of the peer process (on
Linux CLOCK_MONOTONIC is system-wide, so it compares directly with ``time.monotonic()`` in
the test) and ``wall`` = ``time.time()`` (compare with journal timestamps).

    peers = SipPeers("127.0.0.1:5060", log_dir)
    op = await peers.operator("op1", "secret", behavior=Answer(after=1.0))   # registered
    caller = await peers.caller("0612345678", name="Mme Durand")
    call = await caller.dial("3900", dtmf=[(1.0, "2")], hangup_after=8.0)
    await call.wait_answered()                 # 200 OK from Asterisk
    invite = await op.wait_invite()            # invite.number == "0612345678"
    await call.wait_ended()
    await peers.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
AGENT = Path(__file__).resolve().parent / "sip" / "pjsua_agent.py"
PJSUA2_DIR = Path(os.environ.get("GUICHET_PJSUA2_DIR", "/opt/guichet/pjsua2"))


class SipPeerError(RuntimeError):
    """A peer failed to start, to register, or reported an error."""


# ----------------------------------------------------------------------------- behaviors


@dataclass(frozen=True)
class Answer:
    """Answer an incoming INVITE after ``after`` seconds of ringing (180); optionally hang
    up ``hangup_after`` seconds after answering."""

    after: float = 0.0
    hangup_after: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"action": "answer", "after": self.after, "hangup_after": self.hangup_after}


@dataclass(frozen=True)
class Reject:
    """Reject at once with ``code`` (486 Busy Here, 603 Decline, 480 Unavailable)."""

    code: int = 486

    def to_json(self) -> dict[str, Any]:
        return {"action": "reject", "code": self.code}


@dataclass(frozen=True)
class Ring:
    """Ring (180) and never answer: the caller side (Asterisk) must cancel."""

    def to_json(self) -> dict[str, Any]:
        return {"action": "ring"}


Behavior = Answer | Reject | Ring


# ----------------------------------------------------------------------------- records


@dataclass
class CallRecord:
    """One SIP call as a peer saw it. ``*_at`` are ``time.monotonic()`` values."""

    n: int
    started_at: float | None = None  # INVITE sent (caller) or received (operator)
    answered_at: float | None = None  # 200 OK received (caller) or sent (operator)
    ended_at: float | None = None
    end_code: int | None = None  # last SIP status of the dialog (e.g. 200, 486, 487)
    end_reason: str | None = None
    ended_by: str | None = None  # "local" | "remote"
    rtp_tx: int = 0
    rtp_rx: int = 0
    dtmf_received: list[tuple[float, str]] = field(default_factory=list)
    dtmf_sent: list[tuple[float, str]] = field(default_factory=list)
    states: list[tuple[float, str, int]] = field(default_factory=list)
    answered_wall: float | None = None
    ended_wall: float | None = None
    started_wall: float | None = None

    @property
    def answered(self) -> bool:
        return self.answered_at is not None

    @property
    def ended(self) -> bool:
        return self.ended_at is not None


@dataclass(frozen=True)
class IncomingInvite:
    """An INVITE an operator's softphone received."""

    call: int
    at: float  # time.monotonic()
    wall: float  # time.time()
    from_header: str
    display: str  # caller-ID name
    number: str  # caller-ID number (user part of From)
    to_header: str
    behavior: dict[str, Any]


# ----------------------------------------------------------------------------- base


class _Peer:
    """One pjsua2 agent process and the events it reported."""

    _ids = itertools.count(1)

    def __init__(self, label: str, log_dir: Path) -> None:
        self.label = label
        self.target_host = ""  # "127.0.0.1:5060": where dial() sends INVITEs
        self.number = ""
        self.name: str | None = None
        self.log_path = Path(log_dir) / f"sip-{next(self._ids):03d}-{label}.log"
        self.events: list[dict[str, Any]] = []
        self.calls: dict[int, CallRecord] = {}
        self.errors: list[str] = []
        self.sip_port: int | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._changed = asyncio.Condition()
        self._log_fh: Any = None
        self._cmd_ids = itertools.count(1)

    async def _spawn(self) -> None:
        if not (PJSUA2_DIR / "pjsua2.py").exists():
            raise SipPeerError(f"pjsua2 not found in {PJSUA2_DIR}: run scripts/build-pjsua2")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PJSUA2_DIR), env.get("PYTHONPATH")]))
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log_fh = open(self.log_path, "ab")  # noqa: SIM115 - closed in close()
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable, str(AGENT), stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=self._log_fh, env=env,
        )
        self._reader = asyncio.create_task(self._read(), name=f"sip-peer-{self.label}")
        ready = await self.wait_event(lambda e: e["ev"] in ("ready", "fatal"), timeout=10)
        if ready["ev"] == "fatal":
            raise SipPeerError(f"{self.label}: {ready['message']} (log: {self.log_path})")
        self.sip_port = ready["sip_port"]

    async def _read(self) -> None:
        assert self._proc and self._proc.stdout
        while True:
            line = await self._proc.stdout.readline()
            if not line:
                break
            try:
                event = json.loads(line)
            except ValueError:
                continue
            self._apply(event)
            async with self._changed:
                self.events.append(event)
                self._changed.notify_all()
        async with self._changed:
            self.events.append({"ev": "exited"})
            self._changed.notify_all()

    def _record(self, n: int) -> CallRecord:
        return self.calls.setdefault(n, CallRecord(n))

    def record(self, n: int) -> CallRecord:
        """What this peer saw of its call number ``n`` (``IncomingInvite.call``)."""
        return self._record(n)

    def _apply(self, e: dict[str, Any]) -> None:
        ev, t = e["ev"], e.get("t", 0.0)
        if ev == "error":
            self.errors.append(e["message"])
        if "call" not in e or e.get("call") is None:
            return
        rec = self._record(int(e["call"]))
        if ev in ("calling", "invite"):
            rec.started_at, rec.started_wall = t, e["wall"]
        elif ev == "state":
            rec.states.append((t, e["state"], e["code"]))
        elif ev == "answered":
            rec.answered_at, rec.answered_wall = t, e["wall"]
        elif ev == "dtmf":
            rec.dtmf_received.append((t, e["digit"]))
        elif ev == "dtmf_sent":
            rec.dtmf_sent.append((t, e["digits"]))
        elif ev == "ended":
            rec.ended_at, rec.ended_wall = t, e["wall"]
            rec.end_code, rec.end_reason, rec.ended_by = e["code"], e["reason"], e["by"]
            rec.rtp_tx, rec.rtp_rx = e["rtp_tx"], e["rtp_rx"]

    async def send(self, cmd: str, *, wait: bool = True, **fields: Any) -> dict[str, Any] | None:
        """Send one command; unless ``wait=False``, return once the peer has carried it out
        (so e.g. a behavior change is in force before the test triggers the next INVITE).
        Raises :class:`SipPeerError` if the peer reports an error for it."""
        if self._proc is None or self._proc.stdin is None or self._proc.returncode is not None:
            raise SipPeerError(f"{self.label}: the peer process is not running (log: {self.log_path})")
        ident = next(self._cmd_ids)
        mark = len(self.events)
        self._proc.stdin.write((json.dumps({"cmd": cmd, "id": ident, **fields}) + "\n").encode())
        await self._proc.stdin.drain()
        if not wait:
            return None
        await self.wait_event(lambda e: e["ev"] == "ack" and e.get("id") == ident, 10, since=mark)
        for event in self.events[mark:]:
            if event["ev"] == "error" and event.get("id") == ident:
                raise SipPeerError(f"{self.label}: {cmd} failed: {event['message']}")
        return None

    async def wait_event(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10.0,
                         *, since: int = 0) -> dict[str, Any]:
        """The first event (from index ``since``) matching ``predicate``, waiting for it."""

        def find() -> dict[str, Any] | None:
            for event in self.events[since:]:
                if predicate(event):
                    return event
            return None

        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(lambda: find() is not None
                                                              or self._exited()), timeout)
            except TimeoutError:
                raise SipPeerError(f"{self.label}: timed out after {timeout}s waiting for an event; "
                                   f"last events: {self.events[-5:]} (log: {self.log_path})") from None
            found = find()
            if found is None:
                raise SipPeerError(f"{self.label}: the peer process exited (log: {self.log_path})")
            return found

    def _exited(self) -> bool:
        return bool(self.events) and self.events[-1]["ev"] == "exited"

    async def wait_call(self, n: int, predicate: Callable[[CallRecord], bool], timeout: float) -> CallRecord:
        await self.wait_event(lambda e: e.get("call") == n and predicate(self._record(n)), timeout)
        return self._record(n)

    async def hangup(self, call: int | None = None, *, code: int = 0) -> None:
        """Hang up one call (or all): BYE if answered, CANCEL/final response otherwise."""
        await self.send("hangup", call=call, code=code)

    async def send_dtmf(self, digits: str, call: int | None = None) -> None:
        """Send RFC 4733 DTMF on one call (or all)."""
        await self.send("dtmf", call=call, digits=digits)

    async def dial(
        self,
        extension: str,
        *,
        dtmf: list[tuple[float, str]] | None = None,
        hangup_after: float | None = None,
        hangup_after_start: float | None = None,
    ) -> CallerCall:
        """Call ``extension`` (e.g. the support number). ``dtmf``: ``(seconds after the 200
        OK, digits)`` sent as RFC 4733 by the peer itself (timing independent of the test's
        event loop); ``hangup_after``: BYE that many seconds after the 200 OK;
        ``hangup_after_start``: hang up (CANCEL or BYE) that long after the INVITE.
        Without either, the call lasts until the far end hangs up or :meth:`hangup`.
        An operator's phone dials as its registered (digest-authenticated) account."""
        mark = len(self.events)
        await self.send("call", uri=f"sip:{extension}@{self.target_host}", number=self.number,
                        name=self.name, dtmf=[[t, d] for t, d in (dtmf or [])],
                        hangup_after=hangup_after, hangup_after_start=hangup_after_start)
        e = await self.wait_event(lambda e: e["ev"] in ("calling", "error"), 10, since=mark)
        if e["ev"] == "error":
            raise SipPeerError(f"{self.label}: {e['message']}")
        return CallerCall(self, int(e["call"]))

    async def close(self, timeout: float = 5.0) -> None:
        """Hang up, unregister and stop the process (killed after ``timeout``)."""
        if self._proc is not None and self._proc.returncode is None:
            with contextlib.suppress(Exception):
                await self.send("quit", wait=False)
            try:
                await asyncio.wait_for(self._proc.wait(), timeout)
            except TimeoutError:
                self._proc.kill()
                await self._proc.wait()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, 2)
        if self._log_fh is not None:
            self._log_fh.close()
            self._log_fh = None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


# ----------------------------------------------------------------------------- operator


class OperatorPhone(_Peer):
    """An operator's softphone registered to a PJSIP endpoint with digest auth.

    Each incoming INVITE takes the next behavior queued with :meth:`set_behavior`
    (``next=[...]``), else the default one. It is reported in :attr:`invites`.
    """

    def __init__(self, username: str, password: str, registrar: str, log_dir: Path,
                 behavior: Behavior = Answer()) -> None:
        super().__init__(f"op-{username}", log_dir)
        self.username = username
        self.password = password
        self.registrar = registrar
        self.target_host = registrar
        self.behavior = behavior

    @property
    def invites(self) -> list[IncomingInvite]:
        return [self._invite(e) for e in self.events if e["ev"] == "invite"]

    @staticmethod
    def _invite(e: dict[str, Any]) -> IncomingInvite:
        return IncomingInvite(call=e["call"], at=e["t"], wall=e["wall"], from_header=e["from"],
                              display=e["display"], number=e["number"], to_header=e["to"],
                              behavior=e["behavior"])

    async def start(self, timeout: float = 10.0) -> OperatorPhone:
        await self._spawn()
        await self.set_behavior(self.behavior)
        mark = len(self.events)
        await self.send("register", registrar=self.registrar, user=self.username, password=self.password)
        reg = await self.wait_event(lambda e: e["ev"] == "registered", timeout, since=mark)
        if reg["code"] != 200:
            raise SipPeerError(f"{self.label}: REGISTER answered {reg['code']} {reg['reason']}")
        return self

    async def set_behavior(self, default: Behavior | None = None, *, next: list[Behavior] | None = None) -> None:  # noqa: A002
        """Change how the next INVITEs are handled: ``next`` (one behavior per INVITE, in
        order) then ``default`` for the rest."""
        if default is not None:
            self.behavior = default
        await self.send("policy", default=self.behavior.to_json(),
                        queue=None if next is None else [b.to_json() for b in next])

    async def wait_invite(self, count: int = 1, timeout: float = 10.0) -> IncomingInvite:
        """Wait until ``count`` INVITEs in total have arrived; return the ``count``-th."""
        await self.wait_event(lambda e: e["ev"] == "invite" and len(self.invites) >= count, timeout)
        return self.invites[count - 1]

    async def answer(self, call: int | None = None) -> None:
        """Answer a ringing call now (with behavior ``Ring``)."""
        await self.send("answer", call=call)

    async def wait_dtmf(self, digit: str, timeout: float = 10.0) -> float:
        e = await self.wait_event(lambda e: e["ev"] == "dtmf" and e["digit"] == digit, timeout)
        return float(e["t"])


# ----------------------------------------------------------------------------- caller


class CallerCall:
    """One call placed by a :class:`Caller` (or an :class:`OperatorPhone`)."""

    def __init__(self, caller: _Peer, n: int) -> None:
        self.caller = caller
        self.n = n

    @property
    def record(self) -> CallRecord:
        return self.caller._record(self.n)

    async def wait_answered(self, timeout: float = 10.0) -> float:
        """Wait for the 200 OK; returns its ``time.monotonic()``."""
        rec = await self.caller.wait_call(self.n, lambda r: r.answered or r.ended, timeout)
        if not rec.answered:
            raise SipPeerError(f"{self.caller.label}: call ended with {rec.end_code} {rec.end_reason} "
                               "before any 200 OK")
        assert rec.answered_at is not None
        return rec.answered_at

    async def wait_ended(self, timeout: float = 30.0) -> CallRecord:
        return await self.caller.wait_call(self.n, lambda r: r.ended, timeout)

    async def send_dtmf(self, digits: str) -> None:
        await self.caller.send_dtmf(digits, self.n)

    async def hangup(self) -> None:
        await self.caller.hangup(self.n)

    async def wait_dtmf(self, digit: str, timeout: float = 10.0) -> float:
        e = await self.caller.wait_event(
            lambda e: e["ev"] == "dtmf" and e.get("call") == self.n and e["digit"] == digit, timeout)
        return float(e["t"])


class Caller(_Peer):
    """A caller (through the inbound trunk, identified by source address) with a number."""

    def __init__(self, number: str, target_host: str, log_dir: Path, name: str | None = None) -> None:
        super().__init__(f"caller-{number}", log_dir)
        self.number = number
        self.name = name
        self.target_host = target_host  # "127.0.0.1:5060"

    async def start(self) -> Caller:
        await self._spawn()
        return self



# ----------------------------------------------------------------------------- factory


class SipPeers:
    """Creates peers pointed at one Asterisk and closes them all at the end."""

    def __init__(self, sip_address: str, log_dir: Path) -> None:
        self.sip_address = sip_address  # "127.0.0.1:5060"
        self.log_dir = Path(log_dir)
        self.peers: list[_Peer] = []

    async def operator(self, username: str, password: str, *, behavior: Behavior = Answer(),
                       timeout: float = 10.0) -> OperatorPhone:
        """Start a softphone and wait until its REGISTER got 200 OK."""
        phone = OperatorPhone(username, password, self.sip_address, self.log_dir, behavior)
        self.peers.append(phone)
        return await phone.start(timeout)

    async def caller(self, number: str, *, name: str | None = None) -> Caller:
        caller = Caller(number, self.sip_address, self.log_dir, name)
        self.peers.append(caller)
        return await caller.start()

    async def close(self) -> None:
        await asyncio.gather(*(peer.close() for peer in self.peers), return_exceptions=True)
        self.peers.clear()
