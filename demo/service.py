"""The service's own records, written as the failover module writes them (``failover/``):

- ``probe_result`` facts of the active site during opening hours (``SiteController.
  _record_probes``: the same check names and data keys), with a few incidents a month and,
  one month in 13, a long one (T1-IQ01);
- ``service_opened`` / ``service_closed`` at each opening window's start and end, a few
  seconds late (``_calendar_boundaries``), now and then minutes late when the site was not
  fit to serve at opening (T1-IQ02);
- the semester's switchover drills (``DrillRunner``): a ``failover_drills`` row, the two
  switchovers (``failover_switchovers`` and ``site_switched_over``, the outbound one written
  by the other site), ``drill_done``; the other site journals the probes while it is active
  (T3-IQ03).

Drawn from their own ``Random`` streams (the month's for probes and boundaries, the
semester's for drills), so the calls and tickets of a seed are the same as without them,
and a month's records do not depend on which other months are generated.

Approximations: a probe round every ``PROBE_EVERY_SECONDS`` rather than every minute;
drills are run on demand (no ``failover_drill_plans`` rows: the indicators then expect the
failover module's ``drills_per_semester``, the number run here), and their test call, mail
and chat make no ticket (so the figures of the help desk are not touched); the live lease
(``failover_lease``) is left as it is, the switchovers' epochs continue the history's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from random import Random
from typing import Any

from demo import profile as P
from ticket_core.business_time import BusinessCalendar
from ticket_core.journal import REQUIRED_DATA, EventKind

_K_PROBE = EventKind.PROBE_RESULT.value
_K_OPENED = EventKind.SERVICE_OPENED.value
_K_CLOSED = EventKind.SERVICE_CLOSED.value
_K_SWITCHED = EventKind.SITE_SWITCHED_OVER.value
_K_DRILL = EventKind.DRILL_DONE.value
#: ``Out.fact`` of the generator: journals a fact on this site.
Fact = Callable[..., None]
CRITICAL = ("ari", "sip", "database")  # the failover module's critical checks that can fail alone
NOT_CRITICAL = ("smtp", "chat")


def _ms(seconds: float) -> timedelta:
    return timedelta(milliseconds=round(seconds * 1000))


@dataclass
class Outage:
    """One check failing over [start, end), inside an opening window."""

    check: str
    start: datetime
    end: datetime
    detail: str

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass
class Drill:
    """One drill and its timeline (UTC); ``id`` and the epochs are set before writing."""

    semester: str
    started: datetime
    switch_s: float
    activation_s: float
    back_s: float
    back_activation_s: float
    steps: list[tuple[str, bool, float, str]]  # name, ok, seconds, detail (test contacts)
    request_delay: float
    end_delay: float
    id: int = 0
    epoch: int = 0  # the other site's; the way back: epoch + 1

    @property
    def ok(self) -> bool:
        return all(s[1] for s in self.steps)

    # the instants, as the runner and the two sites would see them
    @property
    def out_requested(self) -> datetime:
        return self.started + _ms(self.request_delay)

    @property
    def out_done(self) -> datetime:
        return self.started + _ms(self.switch_s)

    @property
    def back_requested(self) -> datetime:
        return self.out_done + _ms(max(s[2] for s in self.steps) + 0.1) + _ms(self.request_delay)

    @property
    def back_done(self) -> datetime:
        return self.back_requested - _ms(self.request_delay) + _ms(self.back_s)

    @property
    def ended(self) -> datetime:
        return self.back_done + _ms(self.end_delay)

    @property
    def seconds(self) -> float:
        return round((self.ended - self.started).total_seconds(), 3)


@dataclass
class ServiceStats:
    probes: int = 0
    failed_probes: int = 0
    down_seconds: float = 0.0  # inside opening hours (the outages never overlap)
    boundaries: int = 0
    late_boundaries: int = 0  # beyond the 60 s tolerance
    drills: int = 0
    drills_ok: int = 0


@dataclass
class ServiceMonth:
    """The month's records of the service, day by day."""

    site: str
    peer: str
    checks: tuple[str, ...]
    windows: dict[date, list[tuple[datetime, datetime]]]
    rng: Random
    zone: Any = UTC
    by: str = ""  # the supervisor who runs the drills
    by_id: int | None = None
    outages: dict[date, list[Outage]] = field(default_factory=dict)
    late_openings: dict[date, float] = field(default_factory=dict)  # seconds
    drills: list[Drill] = field(default_factory=list)
    stats: ServiceStats = field(default_factory=ServiceStats)

    # --- one day ----------------------------------------------------------------------------

    def day(self, day: date, fact: Fact, elsewhere: list[tuple]) -> None:
        """The day's facts: ``fact(at, kind, data=…)`` journals on this site (the generator's
        ``Out.fact``); ``elsewhere`` gets (at, kind, site, data) journaled by the other one."""
        windows = self.windows.get(day) or []
        drills = [d for d in self.drills if d.started.astimezone(self.zone).date() == day]
        for i, (ws, we) in enumerate(windows):
            late_open = self.late_openings.get(day) if i == 0 else None
            self._probes(ws, we, self.outages.get(day, []), drills, late_open, fact, elsewhere)
            self._boundaries(ws, we, late_open, fact)
        for d in drills:
            self._drill_facts(d, fact, elsewhere)

    def _boundaries(self, ws: datetime, we: datetime, late_open: float | None, fact: Fact) -> None:
        for kind, instant, late in ((_K_OPENED, ws, late_open), (_K_CLOSED, we, None)):
            if late is None:
                late = self._late()
            else:
                late += self.rng.uniform(*P.BOUNDARY_LATE_SECONDS)  # the next round once fit
            at = instant + _ms(late)
            fact(at, kind, data={"scheduled_at": instant.isoformat(), "late_seconds": round(late, 1)})
            self.stats.boundaries += 1
            self.stats.late_boundaries += late > 60.0

    def _late(self) -> float:
        rng = self.rng
        if rng.random() < P.BOUNDARY_SLOW_SHARE:
            return rng.uniform(*P.BOUNDARY_SLOW_SECONDS)
        return rng.uniform(*P.BOUNDARY_LATE_SECONDS)

    def _probes(self, ws: datetime, we: datetime, outages: list[Outage], drills: list[Drill],
                late_open: float | None, fact: Fact, elsewhere: list[tuple]) -> None:
        """Rounds every ``PROBE_EVERY_SECONDS`` by the active site; a failing check is also
        journaled when it fails and when it recovers (the module journals a change at once).
        While a drill has the other site active, that site journals; during the handovers
        nobody does (unobserved, not unavailable)."""
        failing = list(outages)
        if late_open is not None:  # not fit to serve: the database answers late at opening
            failing.append(Outage("database", ws, ws + _ms(late_open), "no answer within 2s"))
        t = ws + _ms(self.rng.uniform(0.0, 5.0))
        step = timedelta(seconds=P.PROBE_EVERY_SECONDS)
        while t < we:
            site = self._holder(t, drills)
            if site is not None:
                self._round(t, site, failing, fact, elsewhere)
            t += step
        for o in failing:
            if ws <= o.start < we:
                self._record(o.start, self.site, o.check, False, o.detail, fact, elsewhere)
                self._record(o.end, self.site, o.check, True, "", fact, elsewhere)
        for d in drills:  # a site that becomes active journals every check at once
            if ws <= d.out_done < we:
                self._round(d.out_done, self.peer, [], fact, elsewhere)
            if ws <= d.back_done < we:
                self._round(d.back_done, self.site, [], fact, elsewhere)

    def _holder(self, t: datetime, drills: list[Drill]) -> str | None:
        for d in drills:
            if d.out_requested <= t < d.back_done:
                return self.peer if d.out_done <= t < d.back_requested else None
        return self.site

    def _round(self, at: datetime, site: str, failing: list[Outage], fact: Fact, elsewhere: list[tuple]) -> None:
        for check in self.checks:
            down = next((o for o in failing if o.check == check and o.start <= at < o.end), None)
            self._record(at, site, check, down is None, down.detail if down else "", fact, elsewhere)

    def _record(self, at: datetime, site: str, check: str, ok: bool, detail: str, fact: Fact,
                elsewhere: list[tuple]) -> None:
        if ok:
            ms = round(self.rng.uniform(*P.PROBE_MS.get(check, (1.0, 10.0))), 1)
            data: dict[str, Any] = {"check": check, "ok": True, "probed_site": site, "ms": ms}
        else:  # a timeout takes the probe's whole 2 s; a refusal is quick
            spent = self.rng.uniform(0.2, 3.0) + (2000.0 if detail.startswith("no answer") else 0.0)
            data = {"check": check, "ok": False, "probed_site": site, "ms": round(spent, 1),
                    "detail": detail[:200]}
            self.stats.failed_probes += 1
        self.stats.probes += 1
        if site == self.site:
            fact(at, _K_PROBE, data=data)
        else:
            elsewhere.append((at, _K_PROBE, site, data))

    # --- drills -------------------------------------------------------------------------------

    def _drill_facts(self, d: Drill, fact: Fact, elsewhere: list[tuple]) -> None:
        """What ``record_switchover`` (each way, by the site that takes over) and
        ``DrillRunner._finish`` journal."""
        out, back = switchovers(d, self.site, self.peer, self.by)
        elsewhere.append((d.out_done, _K_SWITCHED, self.peer, _switch_data(out)))
        fact(d.back_done, _K_SWITCHED, data=_switch_data(back))
        fact(d.ended, _K_DRILL, data={
            "drill_id": d.id, "ok": d.ok, "semester": d.semester, "trigger": "manual", "by": self.by,
            "from": self.site, "to": self.peer, "started_at": d.started.isoformat(), "seconds": d.seconds,
            "switchover_seconds": round(d.switch_s, 3), "failback_seconds": round(d.back_s, 3),
            "checks": {name: ok for name, ok, _s, _d in _steps(d, self.site, self.peer)},
            "tickets": [], "call_ids": []})
        self.stats.drills += 1
        self.stats.drills_ok += d.ok

    def drill_rows(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """``failover_drills`` and ``failover_switchovers`` rows of the month (aware UTC
        instants: the caller makes them naive)."""
        drills, switches = [], []
        for d in self.drills:
            steps = _steps(d, self.site, self.peer)
            drills.append({
                "id": d.id, "plan_id": None, "semester": d.semester, "trigger": "manual", "started_by": self.by_id,
                "started_by_name": self.by, "from_site": self.site, "target_site": self.peer,
                "started_at": d.started, "ended_at": d.ended, "seconds": d.seconds,
                "switchover_seconds": round(d.switch_s, 3), "failback_seconds": round(d.back_s, 3),
                "status": "passed" if d.ok else "failed",
                "checks": [{"name": n, "ok": ok, "seconds": round(s, 3), "detail": det[:300], "ticket": None,
                            "call_id": None} for n, ok, s, det in steps],
                "error": ""})
            switches.extend(switchovers(d, self.site, self.peer, self.by))
        return drills, switches


def _steps(d: Drill, site: str, peer: str) -> list[tuple[str, bool, float, str]]:
    """The runner's steps in its order: switchover, the three test contacts, failback."""
    return [("switchover", True, d.switch_s, f"{peer} actif (époque {d.epoch})"), *d.steps,
            ("failback", True, d.back_s, f"{site} actif (époque {d.epoch + 1})")]


def switchovers(d: Drill, site: str, peer: str, by: str) -> list[dict[str, Any]]:
    """The two ``failover_switchovers`` rows of a drill (out to the other site, and back)."""
    rows = []
    for way, frm, to, requested, done, activation, epoch in (
            ("aller", site, peer, d.out_requested, d.out_done, d.activation_s, d.epoch),
            ("retour", peer, site, d.back_requested, d.back_done, d.back_activation_s, d.epoch + 1)):
        rows.append({
            "from_site": frm, "to_site": to, "kind": "drill",
            "reason": f"exercice de bascule n°{d.id} ({way})", "requested_by": by, "detected_at": requested,
            "completed_at": done, "seconds": round(max(0.0, (done - requested).total_seconds()), 3),
            "promoted": False, "promotion_seconds": None, "activation_seconds": round(activation, 3),
            "epoch": epoch, "calls_lost": 0, "drill_id": d.id})
    return rows


def _switch_data(row: dict[str, Any]) -> dict[str, Any]:
    """``site_switched_over`` data, as ``record_switchover`` writes it."""
    return {"from": row["from_site"], "to": row["to_site"], "seconds": row["seconds"], "reason": row["reason"],
            "kind": row["kind"], "epoch": row["epoch"], "promoted": row["promoted"],
            "promotion_seconds": row["promotion_seconds"], "activation_seconds": row["activation_seconds"],
            "calls_lost": row["calls_lost"], "detected_at": row["detected_at"].isoformat(),
            "requested_by": row["requested_by"]}


# ----------------------------------------------------------------------------------------
# the month's plan
# ----------------------------------------------------------------------------------------


def plan_month(*, seed: int, year: int, month: int, windows: dict[date, list[tuple[datetime, datetime]]],
               calendar: BusinessCalendar, checks: tuple[str, ...], site: str, peer: str,
               drills_per_semester: int, by: str, by_id: int | None) -> ServiceMonth:
    zone = calendar.hours.zone
    rng = Random(f"guichet-demo/{seed}/{year:04d}-{month:02d}/service")
    sm = ServiceMonth(site=site, peer=peer, checks=checks, windows=windows, rng=rng, zone=zone, by=by, by_id=by_id)
    start = datetime(year, month, 1, tzinfo=zone)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=zone)
    half = 1 if month <= 6 else 2
    sm.drills = [d for d in semester_drills(seed, year, half, calendar, drills_per_semester)
                 if start <= d.started < end]
    open_days = [d for d in sorted(windows) if windows[d]]
    if not open_days or not checks:
        return sm
    for d in open_days:  # a rare morning when the database is not ready at opening
        if rng.random() < P.LATE_OPENING_DAY_SHARE and "database" in checks:
            sm.late_openings[d] = rng.uniform(*P.LATE_OPENING_MINUTES) * 60
    taken = [(ws, ws + _ms(late)) for d, late in sm.late_openings.items() for ws, _we in windows[d][:1]]
    taken += [(d.started - timedelta(minutes=30), d.ended + timedelta(minutes=30)) for d in sm.drills]
    wanted = _incidents(rng, checks)
    if P.major_outage(seed, year, month):
        check = next((c for c in NOT_CRITICAL if c in checks), checks[-1])
        wanted.insert(0, (check, rng.uniform(*P.MAJOR_OUTAGE_MINUTES) * 60))
    for check, seconds in wanted:
        outage = _place(rng, open_days, windows, check, seconds, taken)
        if outage is not None:
            sm.outages.setdefault(outage.start.astimezone(zone).date(), []).append(outage)
            taken.append((outage.start, outage.end))
            sm.stats.down_seconds += outage.seconds
    sm.stats.down_seconds += sum(sm.late_openings.values())
    return sm


def _incidents(rng: Random, checks: tuple[str, ...]) -> list[tuple[str, float]]:
    """An ordinary month's short incidents: (check, seconds)."""
    counts = list(P.INCIDENTS_PER_MONTH)
    n = rng.choices(counts, weights=[P.INCIDENTS_PER_MONTH[c] for c in counts])[0]
    critical = [c for c in CRITICAL if c in checks]
    other = [c for c in NOT_CRITICAL if c in checks]
    out = []
    for _ in range(n):
        if critical and (rng.random() < P.GLITCH_SHARE or not other):
            out.append((rng.choice(critical), rng.uniform(*P.GLITCH_SECONDS)))
        elif other:
            out.append((rng.choice(other), rng.uniform(*P.SHORT_OUTAGE_MINUTES) * 60))
    return out


def _place(rng: Random, days: list[date], windows: dict[date, list[tuple[datetime, datetime]]], check: str,
           seconds: float, taken: list[tuple[datetime, datetime]]) -> Outage | None:
    """An outage inside one opening window, at least 15 minutes from its edges (so the
    opening and closing are not concerned) and away from the other outages and drills (so
    the down time is the sum of the outages)."""
    margin = timedelta(minutes=15)
    length = _ms(seconds)
    for _ in range(50):
        day = days[int(rng.random() * len(days))]
        ws, we = windows[day][int(rng.random() * len(windows[day]))]
        room = (we - ws - 2 * margin - length).total_seconds()
        if room <= 0:
            continue
        start = ws + margin + _ms(round(rng.uniform(0.0, room), 3))
        end = start + length
        if any(start < b + margin and a - margin < end for a, b in taken):
            continue
        return Outage(check, start, end, rng.choice(P.PROBE_FAILURES.get(check, ("no answer within 2s",))))
    return None


# ----------------------------------------------------------------------------------------
# drills: a semester's, whichever month asks
# ----------------------------------------------------------------------------------------


def semester_drills(seed: int, year: int, half: int, calendar: BusinessCalendar, n: int) -> list[Drill]:
    """The semester's drills (and re-runs of the failed ones), from the semester's own
    ``Random``: every month of the semester sees the same list and keeps its own."""
    rng = Random(f"guichet-demo/{seed}/{year:04d}-S{half}/drills")
    semester = f"{year}-S{half}"
    months = P.DRILL_MONTHS[half]
    used: set[date] = set()
    out: list[Drill] = []
    for k in range(n):
        month = months[k % len(months)]
        day = _drill_day(rng, calendar, year, month, used)
        if day is None:
            continue
        drill = _drill(rng, calendar, semester, day)
        out.append(drill)
        if drill.ok:
            continue
        again = _rerun_day(rng, calendar, day, half, used)
        if again is not None:  # once: a second failure leaves the semester short
            out.append(_drill(rng, calendar, semester, again))
    return sorted(out, key=lambda d: d.started)


def _drill_time(calendar: BusinessCalendar, day: date) -> datetime | None:
    """The drill's planned instant on ``day`` (UTC) when the service is open then and for
    the next hour, else None."""
    zone = calendar.hours.zone
    at = datetime.combine(day, time(*P.DRILL_LOCAL_TIME), zone).astimezone(UTC)
    for ws, we in calendar.window(day):
        if ws <= at and at + timedelta(hours=1) <= we:
            return at
    return None


def _drill_day(rng: Random, calendar: BusinessCalendar, year: int, month: int, used: set[date]) -> date | None:
    candidates = []
    for dom in range(8, 25):  # the 2nd and 3rd weeks
        day = date(year, month, dom)
        if day.weekday() in (1, 2, 3) and day not in used and _drill_time(calendar, day) is not None:
            candidates.append(day)
    if not candidates:
        return None
    day = candidates[int(rng.random() * len(candidates))]
    used.add(day)
    return day


def _rerun_day(rng: Random, calendar: BusinessCalendar, failed: date, half: int, used: set[date]) -> date | None:
    """A few business days after a failed drill, in the same semester (a re-run in the next
    one would not count for this one)."""
    wait = 2 + int(rng.random() * 4)
    day = failed
    for _ in range(40):
        day += timedelta(days=1)
        if (1 if day.month <= 6 else 2) != half or day.year != failed.year:
            return None
        if _drill_time(calendar, day) is not None and day not in used:
            wait -= 1
            if wait == 0:
                used.add(day)
                return day
    return None


def _drill(rng: Random, calendar: BusinessCalendar, semester: str, day: date) -> Drill:
    planned = _drill_time(calendar, day)
    assert planned is not None
    started = planned + _ms(round(rng.uniform(*P.DRILL_START_DELAY_SECONDS), 3))
    failing = None
    if rng.random() < P.DRILL_FAILURE_SHARE:
        failing = rng.choice(list(P.DRILL_STEP_FAILURES))
    steps = []
    for name, span in P.DRILL_STEP_SECONDS.items():
        if name == failing:
            deadline, detail = P.DRILL_STEP_FAILURES[name]
            steps.append((name, False, deadline + rng.uniform(0.1, 2.0), detail))
            continue
        seconds = rng.uniform(*span)
        detail = {"call": f"appel décroché après {max(1.0, seconds - 12.0):.1f} s d'attente",
                  "mail": "courriel reçu, ticket créé", "chat": "conversation ouverte"}[name]
        steps.append((name, True, seconds, detail))
    return Drill(semester=semester, started=started, switch_s=rng.uniform(*P.DRILL_SWITCH_SECONDS),
                 activation_s=rng.uniform(*P.DRILL_ACTIVATION_SECONDS), back_s=rng.uniform(*P.DRILL_SWITCH_SECONDS),
                 back_activation_s=rng.uniform(*P.DRILL_ACTIVATION_SECONDS), steps=steps,
                 request_delay=rng.uniform(0.05, 0.4), end_delay=rng.uniform(0.2, 1.0))


# The shapes above must satisfy the journal's contract.
assert all(k in {"check": "", "ok": True} for k in REQUIRED_DATA[EventKind.PROBE_RESULT])
