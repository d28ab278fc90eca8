"""P1 — from the caller entering the queue to the operator's phone ringing: our ACD (Stasis
app over ARI) beside Asterisk's own app_queue ``Queue()``, same Asterisk, same operator
endpoints, same callers, measured in the same run on this machine.

    unshare --net sh -c 'ip link set lo up && .venv/bin/python bench/acd_latency.py'
    .venv/bin/python bench/acd_latency.py --calls 200 --rate 2 --operators 10   (defaults)

Method
------
* One Asterisk (the product's configuration from ``configs/asterisk/``): 3900 → our Stasis
  app, 3999 → ``Queue(support-baseline)`` with ``autofill=yes``, ``leastrecent``, members =
  the same PJSIP operator endpoints. Our app runs in its own process (``bench/acd_app.py``)
  on SQLite (the embedded default; ``--database-url`` for PostgreSQL), every operator logged
  in with every skill, wrap-up 0 (app_queue: ``wrapuptime=0``), no position announcements
  (app_queue: ``announce-frequency=0``), no virtual hold.
* ``--operators`` operators (SIPp, registered with digest auth) ring at once (180), answer
  after ``--answer-ms`` and hang up ``--talk-ms`` after the ACK: both ACDs see operators
  that free themselves the same way, and the call rate keeps most of them free, so the
  figure is the ACD's own dispatch delay, not a wait for an operator.
* Callers (SIPp) send looped PCMU audio from the ACK on (app_queue's ``Answer()`` waits up
  to 500 ms for the caller's first audio frame: silent callers would distort it).
* Calls go in alternating blocks (``--block`` calls to app_queue, then to ours, …), so
  both see the same machine load; ``--warmup`` calls to each are made first and left out.
* Every SIP packet (and the callers' RTP toward Asterisk) is captured on ``lo`` by dumpcap
  with kernel timestamps. Each call is paired with its operator leg by the caller's
  number, which both ACDs put in the operator INVITE's ``From``.
* **End point** (both): the operator INVITE seen on ``lo`` (the operator's phone rings).
* **Start point, app_queue**: the caller's INVITE to 3999 (as asked: app_queue dials as
  soon as the call enters ``Queue()``). This includes the SIP handling, the dialplan and the
  ``Answer()`` round trip, so a second figure starts at the caller's first RTP packet
  after the 200 OK, the moment ``Answer()`` returns and ``Queue()`` starts (a tighter
  estimate of its queue entry).
* **Start point, ours**: the ``call_presented`` fact of the journal (``occurred_at``, the
  app's clock when the ACD enqueued the call, after the IVR; the IVR's timeout is set
  short, ``--ivr-timeout``, and no digit is sent, so the call goes to the default
  audience). Our ACD's path from there: journal the fact (one database commit), start
  music on hold (one ARI request), choose the operator and journal the offer (a second
  commit), originate (one ARI request), Asterisk sends the INVITE. For information, the
  INVITE-to-INVITE time (IVR included) is printed too.
* Clocks: the pcap timestamps and the app's ``datetime.now(UTC)`` are both the system's
  real-time clock, read on the same machine.

Prints the figures beside each other with the machine load and each process's CPU, and
writes ``bench/results/acd_latency.json``. A measurement, not a test: no assertions.
"""

from __future__ import annotations

import argparse
import json
import math
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
    p.add_argument("--calls", type=int, default=200, help="measured calls per ACD (default 200)")
    p.add_argument("--warmup", type=int, default=10, help="calls per ACD made first and left out")
    p.add_argument("--block", type=int, default=25, help="calls per alternating block")
    p.add_argument("--rate", type=float, default=2.0, help="calls per second within a block")
    p.add_argument("--operators", type=int, default=10)
    p.add_argument("--answer-ms", type=int, default=100, help="operators answer after this ringing")
    p.add_argument("--talk-ms", type=int, default=400, help="operators hang up this long after answering")
    p.add_argument("--ivr-timeout", type=float, default=0.5, help="our IVR's timeout (no digit is sent)")
    p.add_argument("--database-url", default="", help="our app's database (default: SQLite in the run folder)")
    p.add_argument("--postgres", action="store_true",
                   help="our app on a new database of the machine's PostgreSQL (dropped afterwards)")
    p.add_argument("--run-dir", type=Path, help="keep everything (logs, pcap, configs) in this folder")
    p.add_argument("--out", default="acd_latency", help="result name under bench/results/")
    return p.parse_args()


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
        print("note: not in a loopback-only network namespace (see bench/README.md); "
              "pjlib may query DNS at Asterisk's start", file=sys.stderr)
    temp = None
    run_dir = args.run_dir
    if run_dir is None:
        temp = tempfile.mkdtemp(prefix="guichet-bench-p1-")
        run_dir = Path(temp)
    run_dir.mkdir(parents=True, exist_ok=True)
    machine = cb.machine()
    print(f"P1 ACD latency — {args.calls} calls per ACD after {args.warmup} warm-up, blocks of {args.block} "
          f"at {args.rate:g}/s, {args.operators} operators (answer {args.answer_ms} ms, talk {args.talk_ms} ms); "
          f"load {machine['loadavg_start']}", flush=True)
    cc = cb.CallCenter(run_dir, operators=args.operators, answer_ms=args.answer_ms, talk_ms=args.talk_ms,
                       app_settings={"ivr_timeout": args.ivr_timeout, "ring_timeout": 15,
                                     "wrap_up_seconds": 0},
                       database_url=args.database_url, capture_rtp=True)
    blocks: list[dict[str, Any]] = []
    numbers: dict[str, list[str]] = {cb.BASELINE: [], cb.OURS: []}
    warm: dict[str, list[str]] = {cb.BASELINE: [], cb.OURS: []}
    result: dict[str, Any] = {"benchmark": "P1 acd_latency", "machine": machine, "parameters": vars(args) | {
        "run_dir": str(run_dir)}}
    try:
        ready = cc.start()
        print(f"  Asterisk, our app ({ready.get('database')}), {args.operators} operators registered; "
              f"run folder {run_dir}", flush=True)
        prefix = {cb.BASELINE: "062", cb.OURS: "061"}
        counters = {cb.BASELINE: 0, cb.OURS: 0}

        def run_block(system: str, count: int, warmup: bool) -> None:
            batch = []
            for _ in range(count):
                counters[system] += 1
                batch.append(f"{'09' if warmup else '06'}{prefix[system][2]}{counters[system]:07d}")
            target = cb.BASELINE_NUMBER if system == cb.BASELINE else cb.SUPPORT_NUMBER
            t0 = time.monotonic()
            sipp = cc.callers(target, batch, rate=args.rate, wait_ms=60_000)
            rc = sipp.wait(timeout=count / args.rate + 120)
            if rc is None:
                sipp.stop()
            left = cc.wait_idle(30)
            t1 = time.monotonic()
            blocks.append({"system": system, "calls": count, "warmup": warmup, "start": t0, "end": t1,
                           "sipp_exit": rc, "sipp_counts": sipp.counts(), "channels_left": left,
                           "loadavg": cb.loadavg()})
            (warm if warmup else numbers)[system].extend(batch)
            print(f"  {'warm-up' if warmup else 'block'} {system:9s} {count:3d} calls in {t1 - t0:5.1f} s "
                  f"(SIPp exit {rc}, load {cb.loadavg().split()[0]})", flush=True)

        for system in (cb.BASELINE, cb.OURS):
            if args.warmup:
                run_block(system, args.warmup, True)
        n_blocks = math.ceil(args.calls / args.block)
        for i in range(n_blocks):
            size = min(args.block, args.calls - i * args.block)
            for system in ((cb.BASELINE, cb.OURS) if i % 2 == 0 else (cb.OURS, cb.BASELINE)):
                run_block(system, size, False)
        assert cc.app is not None
        facts_path = run_dir / "journal.json"
        cc.app.command(f"dump {facts_path}")
    finally:
        result["asterisk_warnings"] = cc.asterisk_warnings()
        result["app_problems"] = cc.app_problems()
        cc.stop()
    machine["loadavg_end"] = cb.loadavg()
    result["capture"] = cc.capture.stats if cc.capture else ""
    log = cc.sip_log()
    journal = json.loads(facts_path.read_text())
    result |= analyse(log, journal, numbers, warm, blocks, cc)
    print_report(result, args)
    path = cb.write_result(args.out, result)
    print(f"\nresult: {path.relative_to(cb.REPO)}")
    if temp and not args.run_dir:
        shutil.rmtree(temp, ignore_errors=True)
    return 0


def analyse(log: cb.SipLog, journal: dict[str, Any], numbers: dict[str, list[str]], warm: dict[str, list[str]],
            blocks: list[dict[str, Any]], cc: cb.CallCenter) -> dict[str, Any]:
    legs = log.legs_by_number()
    presented: dict[str, float] = {}
    number_of_call = {row["id"]: row["caller_raw"] for row in journal["calls"]}
    for fact in journal["facts"]:
        if fact["kind"] == "call_presented" and fact["call_id"] in number_of_call:
            presented.setdefault(number_of_call[fact["call_id"]], fact["at"])
    series: dict[str, list[float]] = {"app_queue_from_invite": [], "app_queue_from_first_rtp": [],
                                      "ours_from_presented": [], "ours_from_invite": [],
                                      "ours_invite_to_presented": [], "ours_presented_to_originate": [],
                                      "ours_originate_to_invite": []}
    trace = journal.get("trace", {})
    originate_at: dict[str, float] = {}
    for t0, _dt, detail in trace.get("originate", []):
        if detail and detail.startswith("operator,"):
            call_id = detail.split(",", 1)[1]
            if call_id in number_of_call:
                originate_at.setdefault(number_of_call[call_id], t0)
    missing: dict[str, int] = {cb.BASELINE: 0, cb.OURS: 0}
    for system, nums in numbers.items():
        for number in nums:
            call = log.callers.get(number)
            first_leg = min(legs.get(number, []), key=lambda leg: leg.invite_at, default=None)
            if call is None or first_leg is None:
                missing[system] += 1
                continue
            if system == cb.BASELINE:
                series["app_queue_from_invite"].append(first_leg.invite_at - call.invite_at)
                if call.first_rtp_at is not None:
                    series["app_queue_from_first_rtp"].append(first_leg.invite_at - call.first_rtp_at)
            else:
                series["ours_from_invite"].append(first_leg.invite_at - call.invite_at)
                if number in presented:
                    series["ours_from_presented"].append(first_leg.invite_at - presented[number])
                    series["ours_invite_to_presented"].append(presented[number] - call.invite_at)
                    if number in originate_at:
                        series["ours_presented_to_originate"].append(originate_at[number] - presented[number])
                        series["ours_originate_to_invite"].append(first_leg.invite_at - originate_at[number])
                else:
                    missing[system] += 1
    everyone = [n for nums in numbers.values() for n in nums] + [n for nums in warm.values() for n in nums]
    checks = {system: cb.judge_calls(log, nums, known=everyone, bye_within=2.0, media=True) for system, nums in numbers.items()}
    cpu: dict[str, dict[str, float]] = {}
    for system in (cb.BASELINE, cb.OURS):
        total: dict[str, float] = {}
        calls = 0
        seconds = 0.0
        for block in blocks:
            if block["system"] != system or block["warmup"]:
                continue
            calls += block["calls"]
            seconds += block["end"] - block["start"]
            for name, u in cc.cpu.usage(block["start"], block["end"]).items():
                total[name] = total.get(name, 0.0) + u["cpu_s"]
        cpu[system] = {name: {"cpu_ms_per_call": round(1000 * s / max(calls, 1), 1),
                              "mean_pct": round(100 * s / max(seconds, 1e-9), 1)} for name, s in total.items()}
    steps = {f"{name}_request": cb.summary_ms([dt for _t0, dt, _d in trace.get(name, [])])
             for name in ("flush", "start_moh", "originate")}
    return {
        "latency": {name: cb.summary_ms(values) for name, values in series.items()},
        "ours_steps": steps,
        "calls_without_pair": missing,
        "checks": checks,
        "cpu_by_system": cpu,
        "blocks": [{k: v for k, v in b.items() if k not in ("start", "end")} | {
            "seconds": round(b["end"] - b["start"], 1)} for b in blocks],
        "capture_packets": log.packets,
    }


def print_report(result: dict[str, Any], args: argparse.Namespace) -> None:
    lat = result["latency"]

    def row(label: str, key: str) -> str:
        s = lat[key]
        if not s.get("n"):
            return f"  {label:58s}   (no data)"
        return (f"  {label:58s} {s['median_ms']:8.1f} {s['p99_ms']:8.1f} {s['p90_ms']:8.1f} "
                f"{s['max_ms']:8.1f} {s['n']:5d}")

    print("\nP1 — caller enters the queue → operator INVITE on the wire (ms)")
    print(f"  {'':58s} {'median':>8s} {'p99':>8s} {'p90':>8s} {'max':>8s} {'n':>5s}")
    print(row("ours: call_presented (journal) → operator INVITE", "ours_from_presented"))
    print(row("app_queue: caller INVITE → operator INVITE", "app_queue_from_invite"))
    print(row("app_queue: caller's first RTP (Answer done) → operator INVITE", "app_queue_from_first_rtp"))
    print(row("ours, for information: caller INVITE → operator INVITE (IVR incl.)", "ours_from_invite"))
    print(row("ours, for information: caller INVITE → call_presented", "ours_invite_to_presented"))
    print(row("ours, split: call_presented → originate request sent", "ours_presented_to_originate"))
    print(row("ours, split: originate request sent → operator INVITE", "ours_originate_to_invite"))
    steps = result.get("ours_steps", {})
    if steps:
        print("  our app's awaited steps (all calls, ms): " + "; ".join(
            f"{name.replace('_request', '')} median {s.get('median_ms', 0):.1f} p99 {s.get('p99_ms', 0):.1f}"
            for name, s in steps.items() if s.get("n")))
    print("\nCalls (each must reach exactly one operator, be bridged to it — its audio reaches the caller —"
          " and be hung up after it):")
    for system, c in result["checks"].items():
        print(f"  {system:9s}: {c['served']}/{c['calls']} served, {c['dropped']} dropped, {c['misrouted']} misrouted, "
              f"{c['operator_invites_not_answered']} operator INVITEs not answered, "
              f"{c['late_hangups']} hung up > 2 s after their operator"
              + (f" — {c['reasons']}" if c["reasons"] else ""))
    print("\nCPU during the measured blocks (ms of CPU per call; mean % of one core):")
    for system, usage in result["cpu_by_system"].items():
        print(f"  {system:9s}: " + ", ".join(f"{n} {u['cpu_ms_per_call']:.1f} ms/call ({u['mean_pct']:.0f}%)"
                                            for n, u in usage.items()))
    m = result["machine"]
    print(f"\nmachine: {m.get('cpus')} CPUs {m.get('cpu_model', '')}; load average at start {m['loadavg_start']}, "
          f"at end {m.get('loadavg_end')}")
    if result.get("app_problems"):
        print(f"our app's warnings/errors: {result['app_problems']}")
    if result.get("asterisk_warnings"):
        print(f"Asterisk warnings: {dict(list(result['asterisk_warnings'].items())[:5])}")
    if result.get("capture"):
        print(f"capture: {result['capture']}")


if __name__ == "__main__":
    sys.exit(main())
