"""P2 — the most concurrent calls (waiting + bridged) our ACD holds on this machine with
none misrouted or dropped, beside Asterisk's own app_queue on the same Asterisk, with the
CPU of each process (Asterisk, our app, SIPp) measured apart.

    unshare --net sh -c 'ip link set lo up && .venv/bin/python bench/acd_capacity.py'
    .venv/bin/python bench/acd_capacity.py --levels 50,100,200,400 --operators 20   (defaults)

Method
------
The same call center as P1 (``bench/acd_latency.py``): one Asterisk with the product's
configuration, 3900 → our Stasis app (own process, SQLite by default), 3999 → app_queue
``Queue()`` (``autofill=yes``) toward the same SIPp operators; callers are SIPp sending
looped PCMU audio. For each level N (ramp: ``--levels``), and for each ACD in turn:

1. every operator is paused (ours: the ACD's pause; app_queue: ``queue pause member``);
2. N callers dial in at ``--rate`` calls/s and wait in the queue with music on hold
   (our IVR first: ``--ivr-timeout``, no digit) — Asterisk must hold all N channels;
3. they are held ``--hold`` seconds with N calls waiting (CPU measured: "hold");
4. every operator is made available: the ACD hands out the N calls, operators answer after
   ``--answer-ms``, talk ``--talk-ms`` and hang up; Asterisk hangs up the caller
   (CPU measured: "drain"; throughput = N / drain time);
5. the level **passes** when every one of the N calls was *served*: answered by Asterisk,
   offered to exactly one operator who answered (an operator INVITE carrying this
   caller's number: both ACDs put it in ``From``), whose audio reached the caller once
   that operator had answered (never before), and hung up by Asterisk after *that*
   operator hung up (more than ``--bye-within`` s later counts as a late hang-up,
   reported but not a failure); none *dropped* (unanswered, never reaching an operator,
   not bridged, or still there at the end); none *misrouted* (two operators for one
   caller, a caller hung up while its operator still talked, operator audio before its
   operator answered, an operator INVITE for a number no caller has); SIPp saw no failed
   call; and the peak of connected callers (from the capture) reached N. For ours, the
   journal must also agree: each call's ``call_answered`` names the operator whose phone
   took it.

The ramp stops for an ACD at its first failed level; the figure is the highest level
passed. Every step is bounded in time (``--max-trial``) and the script stops by itself.
Prints the figures side by side with the machine load, writes
``bench/results/acd_capacity.json``. A measurement, not a test: no assertions.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import callbench as cb  # noqa: E402


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--levels", default="50,100,200,400", help="concurrent calls to try, in order")
    p.add_argument("--systems", default="app_queue,ours", help="which ACDs (app_queue, ours)")
    p.add_argument("--rate", type=float, default=10.0, help="arrival rate, calls per second")
    p.add_argument("--hold", type=float, default=5.0, help="seconds all N calls wait before operators start")
    p.add_argument("--operators", type=int, default=20)
    p.add_argument("--answer-ms", type=int, default=200)
    p.add_argument("--talk-ms", type=int, default=1000)
    p.add_argument("--ivr-timeout", type=float, default=0.5, help="our IVR's timeout (no digit is sent)")
    p.add_argument("--bye-within", type=float, default=2.0,
                   help="a caller hung up later than this after its operator counts as a late hang-up")
    p.add_argument("--max-trial", type=float, default=600.0, help="seconds one level may take at most")
    p.add_argument("--database-url", default="", help="our app's database (default: SQLite in the run folder)")
    p.add_argument("--postgres", action="store_true",
                   help="our app on a new database of the machine's PostgreSQL (dropped afterwards)")
    p.add_argument("--run-dir", type=Path, help="keep everything (logs, pcap, configs) in this folder")
    p.add_argument("--out", default="acd_capacity", help="result name under bench/results/")
    return p.parse_args()


class Trial:
    def __init__(self, system: str, level: int) -> None:
        self.system = system
        self.level = level
        self.numbers: list[str] = []
        self.marks: dict[str, float] = {}
        self.notes: list[str] = []
        self.sipp_exit: int | None = None
        self.sipp_counts: dict[str, int] = {}
        self.sipp_cpu_s: float | None = None
        self.loadavg = cb.loadavg()
        self.channels_at_hold: int | None = None
        self.sipp: cb.Sipp | None = None
        self.aborted = False

    def close_marks(self) -> None:
        """After an aborted trial: the phases that did not happen end now."""
        now = time.monotonic()
        for key in ("start", "all_waiting", "hold_end", "drain_start", "drain_end", "end"):
            self.marks.setdefault(key, now)


def pause_all(cc: cb.CallCenter, system: str, pause: bool) -> None:
    if system == cb.OURS:
        assert cc.app is not None
        reply = cc.app.command("pause" if pause else "unpause")
        if not reply.get("ok"):
            raise RuntimeError(f"app {'pause' if pause else 'unpause'} failed: {reply}")
    else:
        verb = "pause" if pause else "unpause"
        for name, _ in cc.operators:
            cc.asterisk.cli(f"queue {verb} member PJSIP/{name} queue {cc.settings.queue_name}"
                            + (" reason bench" if pause else ""))


def run_trial(cc: cb.CallCenter, trial: Trial, args: argparse.Namespace, serial: int) -> None:
    n = trial.level
    digit = "1" if trial.system == cb.OURS else "2"
    trial.numbers = [f"07{digit}{serial:02d}{i:05d}" for i in range(1, n + 1)]
    target = cb.SUPPORT_NUMBER if trial.system == cb.OURS else cb.BASELINE_NUMBER
    cycle = (args.answer_ms + args.talk_ms) / 1000 + 0.3
    drain_estimate = n * cycle / args.operators
    arrival = n / args.rate
    wait_ms = int(1000 * (arrival + args.hold + 3 * drain_estimate + 120))
    pause_all(cc, trial.system, True)
    trial.marks["start"] = time.monotonic()
    sipp = trial.sipp = cc.callers(target, trial.numbers, rate=args.rate, wait_ms=wait_ms, limit=n)
    # 2. all N waiting: Asterisk holds the N caller channels (operators are paused)
    deadline = trial.marks["start"] + arrival + 60
    count = 0
    while time.monotonic() < deadline:
        count = cc.channel_count()
        if count >= n or sipp.proc.poll() is not None:
            break
        time.sleep(0.5)
    trial.marks["all_waiting"] = time.monotonic()
    if count < n:
        trial.notes.append(f"only {count} of {n} caller channels up after {deadline - trial.marks['start']:.0f} s")
    # 3. hold
    time.sleep(args.hold)
    trial.channels_at_hold = cc.channel_count()
    trial.marks["hold_end"] = time.monotonic()
    if trial.system == cb.OURS and cc.app is not None:
        stats = cc.app.command("stats")
        trial.notes.append(f"app before operators start: {stats.get('leg_states')}")
    # 4. operators start
    pause_all(cc, trial.system, False)
    trial.marks["drain_start"] = time.monotonic()
    budget = max(10.0, args.max_trial - (trial.marks["drain_start"] - trial.marks["start"]))
    rc = sipp.wait(timeout=budget)
    if rc is None:
        trial.notes.append(f"callers still there after {budget:.0f} s of drain: stopped")
        sipp.stop()
    trial.marks["drain_end"] = time.monotonic()
    trial.sipp_exit = sipp.proc.returncode
    trial.sipp_counts = sipp.counts()
    trial.sipp_cpu_s = sipp.cpu_s
    left = cc.wait_idle(30)
    if left:
        trial.notes.append(f"{left} channels left after the trial")
    trial.marks["end"] = time.monotonic()


def judge(trial: Trial, log: cb.SipLog, journal: dict[str, Any] | None, everyone: list[str],
          operator_ids: dict[str, int], args: argparse.Namespace, cc: cb.CallCenter) -> dict[str, Any]:
    check = cb.judge_calls(log, trial.numbers, known=everyone, bye_within=args.bye_within, media=True)
    peak = cb.peak_concurrency(log, trial.numbers)
    legs = log.legs_by_number()
    delays = []
    last_bye = None
    for number in trial.numbers:
        call = log.callers.get(number)
        answered = [leg for leg in legs.get(number, []) if leg.answered_at is not None]
        if call and call.bye_from_asterisk_at and len(answered) == 1 and answered[0].bye_from_operator_at:
            delays.append(call.bye_from_asterisk_at - answered[0].bye_from_operator_at)
        if call and call.bye_from_asterisk_at:
            last_bye = max(last_bye or 0.0, call.bye_from_asterisk_at)
    journal_mismatch = None
    if trial.system == cb.OURS and journal is not None:
        endpoint_of = {str(uid): ep for ep, uid in operator_ids.items()}
        number_of_call = {row["id"]: row["caller_raw"] for row in journal["calls"]}
        answered_by = {}
        for fact in journal["facts"]:
            if fact["kind"] == "call_answered" and fact["call_id"] in number_of_call:
                answered_by[number_of_call[fact["call_id"]]] = endpoint_of.get(str(fact["operator_id"]))
        journal_mismatch = 0
        for number in trial.numbers:
            sip_ops = {leg.operator for leg in legs.get(number, []) if leg.answered_at is not None}
            if answered_by.get(number) is None or sip_ops != {answered_by.get(number)}:
                journal_mismatch += 1
    marks = trial.marks
    cpu = {
        "arrival": cc.cpu.usage(marks["start"], marks["all_waiting"]),
        "hold": cc.cpu.usage(marks["all_waiting"], marks["hold_end"]),
        "drain": cc.cpu.usage(marks["drain_start"], marks["drain_end"]),
    }
    drain_wall = None
    first_invite = min((leg.invite_at for n in trial.numbers for leg in legs.get(n, [])), default=None)
    if last_bye and first_invite:
        drain_wall = last_bye - first_invite
    passed = (check["served"] == trial.level and check["dropped"] == 0 and check["misrouted"] == 0
              and peak >= trial.level and trial.sipp_exit == 0 and (journal_mismatch in (None, 0))
              and not trial.aborted)
    return {
        "system": trial.system, "level": trial.level, "passed": passed, "peak_concurrent": peak,
        "checks": check, "journal_mismatch": journal_mismatch, "sipp_exit": trial.sipp_exit,
        "sipp_counts": trial.sipp_counts, "channels_at_hold": trial.channels_at_hold,
        "hangup_delay_after_operator": cb.summary_ms(delays),
        "drain_seconds": round(drain_wall, 1) if drain_wall else None,
        "throughput_calls_per_s": round(trial.level / drain_wall, 2) if drain_wall else None,
        "cpu": cpu, "sipp_callers_cpu_s": trial.sipp_cpu_s, "loadavg": trial.loadavg, "notes": trial.notes,
        "seconds": round(marks["end"] - marks["start"], 1),
    }


def main() -> int:
    args = parse_args()
    if args.postgres and not args.database_url:
        with cb.temp_postgres() as url:
            args.database_url = url
            return run(args)
    return run(args)


def run(args: argparse.Namespace) -> int:
    missing = cb.check_tools()
    if missing:
        print("cannot run:\n  " + "\n  ".join(missing), file=sys.stderr)
        return 0
    if not cb.in_loopback_namespace():
        print("note: not in a loopback-only network namespace (see bench/README.md)", file=sys.stderr)
    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    systems = [s.strip() for s in args.systems.split(",") if s.strip() in (cb.OURS, cb.BASELINE)]
    temp = None
    run_dir = args.run_dir
    if run_dir is None:
        temp = tempfile.mkdtemp(prefix="guichet-bench-p2-")
        run_dir = Path(temp)
    run_dir.mkdir(parents=True, exist_ok=True)
    machine = cb.machine()
    print(f"P2 ACD capacity — levels {levels}, arrivals at {args.rate:g}/s, hold {args.hold:g} s, "
          f"{args.operators} operators (answer {args.answer_ms} ms, talk {args.talk_ms} ms); "
          f"load {machine['loadavg_start']}", flush=True)
    cc = cb.CallCenter(run_dir, operators=args.operators, answer_ms=args.answer_ms, talk_ms=args.talk_ms,
                       app_settings={"ivr_timeout": args.ivr_timeout, "ring_timeout": 15, "wrap_up_seconds": 0},
                       database_url=args.database_url, capture_rtp=False)
    trials: list[Trial] = []
    failed: set[str] = set()
    journal = None
    result: dict[str, Any] = {"benchmark": "P2 acd_capacity", "machine": machine,
                              "parameters": vars(args) | {"run_dir": str(run_dir)}}
    started = time.monotonic()
    try:
        ready = cc.start()
        print(f"  Asterisk, our app ({ready.get('database')}), {args.operators} operators registered; "
              f"run folder {run_dir}", flush=True)
        serial = 0
        for li, level in enumerate(levels):
            order = systems if li % 2 == 0 else list(reversed(systems))
            for system in order:
                if system in failed:
                    continue
                serial += 1
                trial = Trial(system, level)
                trials.append(trial)
                print(f"  {system:9s} {level:4d} calls … ", end="", flush=True)
                try:
                    run_trial(cc, trial, args, serial)
                except Exception as exc:  # noqa: BLE001 - a failed level is a result, not a crash
                    trial.aborted = True
                    trial.notes.append(f"trial aborted: {exc!r}"[:500])
                    if trial.sipp is not None:
                        trial.sipp.stop()
                        trial.sipp_exit = trial.sipp.proc.returncode
                        trial.sipp_counts = trial.sipp.counts()
                    with contextlib.suppress(Exception):
                        pause_all(cc, system, False)
                    with contextlib.suppress(Exception):
                        cc.wait_idle(60)
                    trial.close_marks()
                counts = trial.sipp_counts
                # quick verdict from SIPp (every caller hung up by Asterisk); the capture
                # decides at the end (served by exactly the right operator)
                ok = (not trial.aborted and trial.sipp_exit == 0 and counts.get("failed", 0) == 0
                      and counts.get("successful") == level)
                print(f"SIPp: {counts.get('successful', '?')} successful, {counts.get('failed', '?')} failed, "
                      f"exit {trial.sipp_exit}, {trial.marks['end'] - trial.marks['start']:.0f} s "
                      f"(load {cb.loadavg().split()[0]})" + (f" — {trial.notes}" if trial.notes else ""), flush=True)
                if not ok:
                    failed.add(system)
        assert cc.app is not None
        facts_path = run_dir / "journal.json"
        cc.app.command(f"dump {facts_path}")
        journal = json.loads(facts_path.read_text())
    finally:
        result["asterisk_warnings"] = cc.asterisk_warnings()
        result["app_problems"] = cc.app_problems()
        cc.stop()
    machine["loadavg_end"] = cb.loadavg()
    result["capture"] = cc.capture.stats if cc.capture else ""
    log = cc.sip_log()
    everyone = [n for t in trials for n in t.numbers]
    judged = [judge(t, log, journal, everyone, cc.operator_ids, args, cc) for t in trials]
    result["trials"] = judged
    # the highest level such that it and every level below it passed
    result["max_level_passed"] = {}
    for system in systems:
        best = 0
        for j in sorted((j for j in judged if j["system"] == system), key=lambda j: j["level"]):
            if not j["passed"]:
                break
            best = j["level"]
        result["max_level_passed"][system] = best
    result["seconds"] = round(time.monotonic() - started, 1)
    print_report(result)
    path = cb.write_result(args.out, result)
    print(f"\nresult: {path.relative_to(cb.REPO)}")
    if temp and not args.run_dir:
        shutil.rmtree(temp, ignore_errors=True)
    return 0


def print_report(result: dict[str, Any]) -> None:
    print("\nP2 — concurrent calls held (waiting + bridged), none dropped or misrouted")
    print(f"  {'ACD':9s} {'level':>5s} {'pass':>4s} {'peak':>5s} {'served':>7s} {'drop':>4s} {'misr':>4s} "
          f"{'calls/s':>7s}  CPU while N wait (mean %, peak %)  |  CPU while served")
    for j in result["trials"]:
        c = j["checks"]

        def cpu(phase: str) -> str:
            return " ".join(f"{name.replace('sipp_', 'sipp-')}={u['mean_pct']:.0f}/{u['peak_pct']:.0f}"
                            for name, u in j["cpu"][phase].items() if name != "dumpcap")
        print(f"  {j['system']:9s} {j['level']:5d} {'yes' if j['passed'] else 'NO':>4s} {j['peak_concurrent']:5d} "
              f"{c['served']:7d} {c['dropped']:4d} {c['misrouted']:4d} {j['throughput_calls_per_s'] or 0:7.2f}  "
              f"{cpu('hold')}  |  {cpu('drain')}")
        h = j["hangup_delay_after_operator"]
        if h.get("n"):
            print(f"      caller hung up after its operator: median {h['median_ms']:.0f} ms, p99 {h['p99_ms']:.0f} ms, "
                  f"max {h['max_ms']:.0f} ms; late (> {result['parameters']['bye_within']:g} s): {c['late_hangups']}")
        if not j["passed"]:
            print(f"      why: {c['reasons']} journal mismatches {j['journal_mismatch']} SIPp exit {j['sipp_exit']} "
                  f"{j['notes']}")
    print("\nhighest level passed: " + ", ".join(f"{s} {n}" for s, n in result["max_level_passed"].items()))
    m = result["machine"]
    print(f"machine: {m.get('cpus')} CPUs {m.get('cpu_model', '')}; load average at start {m['loadavg_start']}, "
          f"at end {m.get('loadavg_end')}; {result['seconds']:.0f} s")
    if result.get("app_problems"):
        print(f"our app's warnings/errors: {result['app_problems']}")
    if result.get("asterisk_warnings"):
        print(f"Asterisk warnings: {dict(list(result['asterisk_warnings'].items())[:6])}")
    if result.get("capture"):
        print(f"capture: {result['capture']}")


if __name__ == "__main__":
    sys.exit(main())
