"""A SIP peer process driven over stdin/stdout: one pjsua2 endpoint, JSON lines both ways.

Run by ``tests/support/sip_peers.py``, never imported by pytest. Why a separate process:
pjsua2 allows one endpoint per process, wants every call from the thread that created it,
and a crash or a destructor running at interpreter exit must not take pytest down.

Protocol (one JSON object per line):

  commands (stdin)                                          events (stdout)
  {"cmd": "register", "registrar": "127.0.0.1:5060",        {"ev": "ready", "sip_port": …}
   "user": "op1", "password": "…"}                           {"ev": "registered", "code": 200, "expires": 300}
  {"cmd": "policy", "default": B, "queue": [B, …]}           {"ev": "invite", "call": 1, "from": "\"N\" <sip:…>",
     B = {"action": "answer", "after": 2.0,                    "display": "N", "number": "0612…", "to": …}
          "hangup_after": null}                              {"ev": "state", "call": 1, "state": "CONFIRMED", "code": 200}
       | {"action": "reject", "code": 486}                  {"ev": "answered", "call": 1}         (200 OK got or sent)
       | {"action": "ring"}                                 {"ev": "dtmf", "call": 1, "digit": "2"}
  {"cmd": "call", "uri": "sip:3900@127.0.0.1:5060",          {"ev": "ended", "call": 1, "code": 200, "reason": …,
   "number": "0612…", "name": "…", "dtmf": [[1.0, "2"]],       "by": "local|remote", "rtp_tx": n, "rtp_rx": n}
   "hangup_after": 5.0, "hangup_after_start": null}         {"ev": "error", "message": …}
  {"cmd": "dtmf", "call": 1, "digits": "2"}
  {"cmd": "hangup", "call": 1 | null}                        every event has "t" (time.monotonic(), which on
  {"cmd": "quit"}                                            Linux is comparable across processes) and "wall"
                                                             (time.time()).
Every command may carry an "id"; once it has been carried out the agent answers
{"ev": "ack", "id": …} (after an {"ev": "error", "id": …} if it failed).
Times in "dtmf"/"hangup_after" count from the call's 200 OK; "hangup_after_start" from the
INVITE. Audio: a 440 Hz tone (real PCMU RTP, 20 ms packets, no silence suppression).
DTMF: RFC 4733 telephone-events only (never in-band).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import json
import os
import queue
import re
import sys
import threading
import time
from typing import Any

import pjsua2 as pj

# The protocol owns the real stdout; pjsip (C code) and stray prints go to stderr (a log).
_PROTO = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)
sys.stdout = sys.stderr

_SIP_URI = re.compile(r'^\s*(?:"(?P<q>[^"]*)"|(?P<bare>[^<"]*?))?\s*<?sips?:(?P<user>[^@;>]*)@')


def parse_party(value: str) -> tuple[str, str]:
    """``'"Name" <sip:0612@host>'`` → ``("Name", "0612")``."""
    m = _SIP_URI.match(value or "")
    if not m:
        return "", ""
    display = m.group("q") if m.group("q") is not None else (m.group("bare") or "")
    return display.strip(), m.group("user") or ""


def header(msg: str, *names: str) -> str:
    for line in msg.split("\r\n"):
        key, _, value = line.partition(":")
        if key.strip().lower() in names:
            return value.strip()
    return ""


class Call(pj.Call):
    def __init__(self, agent: Agent, acc: pj.Account, n: int, call_id: int = pj.PJSUA_INVALID_ID) -> None:
        super().__init__(acc, call_id)
        self.agent = agent
        self.n = n
        self.confirmed_at: float | None = None
        self.answered_sent = False
        self.hangup_local = False
        self.ended = False
        self.schedule: list[tuple[float, str]] = []  # (seconds after 200 OK, digits)
        self.hangup_after: float | None = None
        self.rtp_tx = 0
        self.rtp_rx = 0
        self.tone_on = False

    # --- pjsua2 callbacks (main thread, inside libHandleEvents) ---

    def onCallState(self, prm: Any) -> None:  # noqa: N802 - pjsua2 API
        ci = self.getInfo()
        self.agent.emit("state", call=self.n, state=ci.stateText, code=ci.lastStatusCode)
        if ci.state in (pj.PJSIP_INV_STATE_CONNECTING, pj.PJSIP_INV_STATE_CONFIRMED) \
                and self.confirmed_at is None:
            self.confirmed_at = time.monotonic()
            self.agent.emit("answered", call=self.n, code=ci.lastStatusCode)
            for delay, digits in self.schedule:
                self.agent.at(self.confirmed_at + delay, lambda d=digits: self.dtmf(d))
            if self.hangup_after is not None:
                self.agent.at(self.confirmed_at + self.hangup_after, self.local_hangup)
        if ci.state == pj.PJSIP_INV_STATE_DISCONNECTED and not self.ended:
            self.ended = True
            self.update_stats()
            self.agent.emit("ended", call=self.n, code=ci.lastStatusCode, reason=ci.lastReason,
                            by="local" if self.hangup_local else "remote",
                            rtp_tx=self.rtp_tx, rtp_rx=self.rtp_rx)
            self.agent.retire(self)

    def onCallMediaState(self, prm: Any) -> None:  # noqa: N802
        ci = self.getInfo()
        for i, media in enumerate(ci.media):
            if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE \
                    and not self.tone_on:
                # Real audio toward the far end: the shared 440 Hz tone generator.
                self.agent.tone.startTransmit(self.getAudioMedia(i))
                self.tone_on = True

    def onDtmfDigit(self, prm: Any) -> None:  # noqa: N802
        self.agent.emit("dtmf", call=self.n, digit=prm.digit)

    # --- actions ---

    def update_stats(self) -> None:
        try:
            stat = self.getStreamStat(0)
            self.rtp_tx = max(self.rtp_tx, stat.rtcp.txStat.pkt)
            self.rtp_rx = max(self.rtp_rx, stat.rtcp.rxStat.pkt)
        except pj.Error:
            pass  # no media (yet, or any more)

    def dtmf(self, digits: str) -> None:
        if self.ended:
            return
        try:
            self.dialDtmf(digits)  # RFC 4733 when the far end offered telephone-event
            self.agent.emit("dtmf_sent", call=self.n, digits=digits)
        except pj.Error as exc:
            self.agent.emit("error", call=self.n, message=f"dtmf {digits}: {exc.info()}")

    def local_hangup(self, code: int = 0) -> None:
        if self.ended:
            return
        self.hangup_local = True
        self.update_stats()
        op = pj.CallOpParam()
        if code:
            op.statusCode = code
        try:
            self.hangup(op)
        except pj.Error as exc:
            self.agent.emit("error", call=self.n, message=f"hangup: {exc.info()}")

    def answer_now(self) -> None:
        if self.ended or self.answered_sent:
            return
        self.answered_sent = True
        op = pj.CallOpParam()
        op.statusCode = 200
        try:
            self.answer(op)
        except pj.Error as exc:
            self.agent.emit("error", call=self.n, message=f"answer: {exc.info()}")


class Account(pj.Account):
    def __init__(self, agent: Agent) -> None:
        super().__init__()
        self.agent = agent

    def onRegState(self, prm: Any) -> None:  # noqa: N802
        self.agent.emit("registered", code=prm.code, reason=prm.reason, expires=prm.expiration)

    def onIncomingCall(self, prm: Any) -> None:  # noqa: N802
        agent = self.agent
        n = next(agent.numbers)
        call = Call(agent, self, n, prm.callId)
        agent.calls[n] = call
        msg = prm.rdata.wholeMsg
        from_hdr = header(msg, "from", "f") or call.getInfo().remoteUri
        display, number = parse_party(from_hdr)
        behavior = agent.policy_queue.pop(0) if agent.policy_queue else agent.policy_default
        agent.emit("invite", call=n, **{"from": from_hdr}, display=display, number=number,
                   to=header(msg, "to", "t"), behavior=behavior)
        action = behavior.get("action", "answer")
        if action == "reject":
            call.local_hangup(int(behavior.get("code", 486)))
            return
        op = pj.CallOpParam()
        op.statusCode = 180
        call.answer(op)
        if action == "answer":
            call.hangup_after = behavior.get("hangup_after")
            agent.at(time.monotonic() + float(behavior.get("after", 0.0)), call.answer_now)
        # "ring": stay ringing until the caller (Asterisk) cancels


class Agent:
    def __init__(self) -> None:
        self.ep = pj.Endpoint()
        self.ep.libCreate()
        cfg = pj.EpConfig()
        # Every pjsua2 call and callback on this one thread: Python and pjsip stay simple.
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.userAgent = "Guichet test peer (pjsua2)"
        cfg.uaConfig.maxCalls = 32
        level = int(os.environ.get("GUICHET_SIP_LOG_LEVEL", "3"))
        cfg.logConfig.level = level
        cfg.logConfig.consoleLevel = level  # stderr, i.e. the peer's log file
        cfg.logConfig.msgLogging = level >= 4
        # 8 kHz G.711 only: the DFSG pjproject has no resampler, and Asterisk speaks PCMU.
        cfg.medConfig.clockRate = 8000
        cfg.medConfig.sndClockRate = 8000
        cfg.medConfig.noVad = True  # always send RTP (app_queue and strictrtp expect media)
        cfg.medConfig.ecTailLen = 0
        self.ep.libInit(cfg)
        tcfg = pj.TransportConfig()
        tcfg.port = int(os.environ.get("GUICHET_SIP_PORT", "0"))
        tcfg.boundAddress = "127.0.0.1"
        tcfg.publicAddress = "127.0.0.1"
        self.tp = self.ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
        self.ep.libStart()
        self.ep.audDevManager().setNullDev()
        for codec in self.ep.codecEnum2():
            self.ep.codecSetPriority(codec.codecId, 255 if codec.codecId.startswith("PCMU/") else 0)
        self.tone = pj.ToneGenerator()
        self.tone.createToneGenerator(8000, 1)
        tones = pj.ToneDescVector()
        desc = pj.ToneDesc()
        desc.freq1, desc.freq2, desc.on_msec, desc.off_msec, desc.volume = 440, 0, 1000, 0, 0
        tones.append(desc)
        self.tone.play(tones, True)

        self.acc: Account | None = None
        self.calls: dict[int, Call] = {}
        self._graveyard: list[tuple[float, Call]] = []
        self.numbers = itertools.count(1)
        self.policy_default: dict[str, Any] = {"action": "answer", "after": 0.0}
        self.policy_queue: list[dict[str, Any]] = []
        self._timers: list[tuple[float, int, Any]] = []
        self._seq = itertools.count()
        self._commands: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.running = True
        local = self.ep.transportGetInfo(self.tp).localName
        self.sip_port = int(local.rsplit(":", 1)[1])

    # --- plumbing ---

    def emit(self, ev: str, **fields: Any) -> None:
        fields.update(ev=ev, t=time.monotonic(), wall=time.time())
        _PROTO.write(json.dumps(fields) + "\n")

    def at(self, when: float, fn: Any) -> None:
        heapq.heappush(self._timers, (when, next(self._seq), fn))

    def retire(self, call: Call) -> None:
        # Deleting a pj.Call inside its own callback is unsafe: keep it a moment.
        self.calls.pop(call.n, None)
        self._graveyard.append((time.monotonic() + 2.0, call))

    def _stdin_reader(self) -> None:
        for line in sys.stdin:
            line = line.strip()
            if line:
                try:
                    self._commands.put(json.loads(line))
                except ValueError:
                    self.emit("error", message=f"bad command line {line[:200]!r}")
        self._commands.put(None)  # parent gone: quit

    def _account(self, id_uri: str, registrar: str | None, user: str | None, password: str | None) -> Account:
        acfg = pj.AccountConfig()
        acfg.idUri = id_uri
        if registrar:
            acfg.regConfig.registrarUri = f"sip:{registrar}"
            acfg.regConfig.timeoutSec = 300
            acfg.regConfig.retryIntervalSec = 2
            acfg.regConfig.firstRetryIntervalSec = 1
        if user and password:
            acfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", user, 0, password))
        acfg.sipConfig.transportId = self.tp
        nat = acfg.natConfig
        nat.iceEnabled = False
        nat.sipStunUse = pj.PJSUA_STUN_USE_DISABLED
        nat.mediaStunUse = pj.PJSUA_STUN_USE_DISABLED
        nat.contactRewriteUse = 0
        nat.viaRewriteUse = 0
        nat.sdpNatRewriteUse = 0
        nat.udpKaIntervalSec = 0
        acfg.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
        acfg.mediaConfig.transportConfig.publicAddress = "127.0.0.1"
        acfg.mediaConfig.srtpUse = pj.PJMEDIA_SRTP_DISABLED
        acfg.callConfig.timerUse = pj.PJSUA_SIP_TIMER_INACTIVE  # no session-timer re-INVITEs
        acc = Account(self)
        acc.create(acfg)
        return acc

    # --- commands ---

    def cmd_register(self, c: dict[str, Any]) -> None:
        host = c["registrar"].rsplit(":", 1)[0]
        self.acc = self._account(f"sip:{c['user']}@{host}", c["registrar"], c["user"], c["password"])

    def cmd_policy(self, c: dict[str, Any]) -> None:
        if c.get("default") is not None:
            self.policy_default = c["default"]
        if c.get("queue") is not None:
            self.policy_queue = list(c["queue"])

    def cmd_call(self, c: dict[str, Any]) -> None:
        host = c["uri"].split("@", 1)[1].split(":", 1)[0].split(";", 1)[0]
        name = c.get("name")
        ident = f"sip:{c['number']}@{host}"
        id_uri = f'"{name}" <{ident}>' if name else ident
        if self.acc is None:
            self.acc = self._account(id_uri, None, None, None)
        n = next(self.numbers)
        call = Call(self, self.acc, n)
        call.schedule = [(float(t), str(d)) for t, d in c.get("dtmf", [])]
        call.hangup_after = c.get("hangup_after")
        self.calls[n] = call
        self.emit("calling", call=n, uri=c["uri"])
        call.makeCall(c["uri"], pj.CallOpParam(True))
        if c.get("hangup_after_start") is not None:
            self.at(time.monotonic() + float(c["hangup_after_start"]), call.local_hangup)

    def _target(self, c: dict[str, Any]) -> list[Call]:
        if c.get("call") is None:
            return list(self.calls.values())
        call = self.calls.get(int(c["call"]))
        return [call] if call else []

    def cmd_dtmf(self, c: dict[str, Any]) -> None:
        for call in self._target(c):
            call.dtmf(c["digits"])

    def cmd_hangup(self, c: dict[str, Any]) -> None:
        for call in self._target(c):
            call.local_hangup(int(c.get("code") or 0))

    def cmd_answer(self, c: dict[str, Any]) -> None:
        for call in self._target(c):
            call.answer_now()

    def cmd_quit(self, c: dict[str, Any]) -> None:
        self.running = False

    # --- main loop ---

    def run(self) -> None:
        threading.Thread(target=self._stdin_reader, daemon=True).start()
        self.emit("ready", sip_port=self.sip_port, pid=os.getpid())
        last_stats = 0.0
        while self.running:
            self.ep.libHandleEvents(5)
            now = time.monotonic()
            while self._timers and self._timers[0][0] <= now:
                _, _, fn = heapq.heappop(self._timers)
                fn()
            while True:
                try:
                    c = self._commands.get_nowait()
                except queue.Empty:
                    break
                if c is None:
                    self.running = False
                    break
                try:
                    getattr(self, f"cmd_{c['cmd']}")(c)
                except Exception as exc:  # noqa: BLE001 - report, keep the peer alive
                    info = exc.info() if isinstance(exc, pj.Error) else repr(exc)
                    self.emit("error", message=f"{c.get('cmd')}: {info}", id=c.get("id"))
                # The parent waits for this before going on: a policy change is in force
                # before the test triggers the INVITE it is meant for.
                self.emit("ack", id=c.get("id"))
            if now - last_stats > 0.5:
                last_stats = now
                for call in self.calls.values():
                    call.update_stats()
                self._graveyard = [(t, call) for t, call in self._graveyard if t > now]
        self.shutdown()

    def shutdown(self) -> None:
        for call in list(self.calls.values()):
            call.local_hangup()
        if self.acc is not None and self.acc.getInfo().regIsActive:
            with contextlib.suppress(pj.Error):
                self.acc.setRegistration(False)
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline and (self.calls or (self.acc and self.acc.getInfo().regIsActive)):
            self.ep.libHandleEvents(10)
        self.emit("bye")
        _PROTO.flush()
        # Skip pjsua2's destructors at interpreter exit (they crash when run out of order).
        os._exit(0)


if __name__ == "__main__":
    try:
        Agent().run()
    except Exception as exc:  # noqa: BLE001
        _PROTO.write(json.dumps({"ev": "fatal", "message": repr(exc), "t": time.monotonic()}) + "\n")
        _PROTO.flush()
        os._exit(1)
