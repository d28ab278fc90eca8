"""The indicators assembled: for each period, each indicator's numerator, denominator,
value, target, status (met, missed, no data with its reason, in progress), the same month a
year before, and the quality-incentive run; the operational figures; the ticket package.

``IndicatorService`` runs the queries of ``compute`` on one read connection (a repeatable-
read snapshot on PostgreSQL) and evaluates them with the catalogue's targets. Results are
plain dataclasses, turned to JSON by ``Dashboard.to_json`` for the API.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time as _time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from indicators import compute as q
from indicators import periods as P
from indicators.catalogue import BY_ID, INDICATORS, UNSATISFIED_MAX, Indicator, incentive_text
from indicators.definitions import Clocks
from indicators.settings import IndicatorSettings
from ticket_core.business_time import BusinessCalendar

log = logging.getLogger("guichet.indicators")

STATUS_FR = {
    "met": "atteint",
    "missed": "non atteint",
    "no_data": "pas de données",
    "in_progress": "en cours",
    "measured": "mesuré",
}

#: Dashboards kept in the cache at most (different end months, lengths).
CACHE_ENTRIES = 8

#: The T2 indicators the daily point prod shows.
DAILY_INDICATORS = ("T2-IQ01", "T2-IQ02", "T2-IQ03", "T2-IQ04", "T2-IQ05", "T2-IQ06", "T2-IQ07", "T2-IQ08",
                    "T2-IQ09", "T2-IQ10")


@dataclass
class Point:
    indicator: str
    period: str
    numerator: float | None = None
    denominator: float | None = None
    status: str = "no_data"
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    run: int = 0  # consecutive periods below target up to this one (penalised indicators)
    exact: Fraction | None = None

    @property
    def value(self) -> float | None:
        return None if self.exact is None else float(self.exact)

    @property
    def has_value(self) -> bool:
        return self.exact is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "period": self.period, "numerator": self.numerator, "denominator": self.denominator,
            "value": None if self.value is None else round(self.value, 6), "status": self.status,
            "status_label": STATUS_FR[self.status], "reason": self.reason, "details": self.details,
            "incentive_run": self.run, "incentive": incentive_text(self.run),
        }


@dataclass
class Raw:
    """Every query's output for one ``Periods``."""

    periods: P.Periods
    now: datetime
    contacts: dict[int, q.PhoneCounts]
    lost: list[q.LostCall]
    recovery: dict[int, q.RecoveryCounts]
    created: dict[int, q.TicketCounts]
    resolved: dict[int, q.ResolutionCounts]
    escalations: dict[int, q.EscalationCounts]
    availability: dict[int, q.Availability]
    openings: dict[int, q.Openings]
    drills: dict[int, q.Drills]
    surveys: dict[int, q.Surveys]
    volumes: list[q.VolumeRow]
    occupancy: dict[int, q.Occupancy]
    labels: dict[str, dict[str, str]]
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class Operational:
    period: str
    tickets: int = 0  # counted (duplicates per setting)
    duplicates: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)
    by_audience: dict[str, int] = field(default_factory=dict)
    by_application: dict[str, int] = field(default_factory=dict)
    by_request_type: dict[str, int] = field(default_factory=dict)
    calls_received: int = 0
    calls_outside_hours: int = 0
    calls_presented: int = 0
    calls_answered: int = 0
    calls_abandoned: int = 0
    calls_short_abandons: int = 0
    calls_lost_by_service: int = 0
    calls_callback_requested: int = 0
    calls_ivr_hangups: int = 0
    mean_wait_seconds: float | None = None
    mean_talk_seconds: float | None = None
    chats: int = 0
    mean_chat_seconds: float | None = None
    mails: int = 0
    escalated: int = 0
    resolved: int = 0
    resolved_by_n1: int = 0
    resolved_by_n2: int = 0
    resolved_by_n3: int = 0
    occupancy: float | None = None
    occupancy_source: str | None = None  # "states" | "talk"
    logged_in_hours: float = 0.0
    busy_hours: float = 0.0
    operators: int = 0


@dataclass
class Package:
    period: str
    year_start: str
    months_elapsed: int
    tickets_month: int
    consumed: int
    package: int
    allowance_to_date: int  # twelfths invoiced so far
    overrun: int  # beyond the whole yearly package
    extensions_needed: int
    projected_year: int
    projected_extensions: int

    @property
    def consumption(self) -> float:
        return self.consumed / self.package


@dataclass
class Dashboard:
    generated_at: datetime
    end: str
    keys: list[str]  # every period computed, oldest first (shown months and the year before)
    shown: list[str]
    points: dict[str, dict[str, Point]]
    operational: dict[str, Operational]
    package: dict[str, Package]
    settings: IndicatorSettings
    clocks: Clocks
    raw: Raw | None = None

    def point(self, indicator_id: str, key: str) -> Point | None:
        return self.points.get(indicator_id, {}).get(key)

    def year_before(self, indicator_id: str, key: str) -> Point | None:
        return self.point(indicator_id, P.year_before(key))

    def latest(self, indicator_id: str) -> Point | None:
        return self.point(indicator_id, self.end)

    def incentive(self) -> list[dict[str, Any]]:
        """Penalised indicators below target in the last month, with their run."""
        out = []
        for ind in INDICATORS:
            p = self.latest(ind.id)
            if ind.penalised and p is not None and p.run > 0:
                out.append({"indicator": ind.id, "name": ind.name, "run": p.run, "action": incentive_text(p.run)})
        return out

    def to_json(self) -> dict[str, Any]:
        indicators = []
        for ind in INDICATORS:
            rows = []
            for key in self.shown:
                p = self.point(ind.id, key)
                prev = self.year_before(ind.id, key)
                item = p.to_json() if p else {"period": key}
                item["same_month_last_year"] = prev.to_json() if prev else None
                rows.append(item)
            indicators.append({
                "id": ind.id, "name": ind.name, "family": ind.family, "penalised": ind.penalised,
                "target": ind.target_label,
                "target_value": ind.target.as_float if ind.target else None,
                "target_op": ind.target.op if ind.target else None,
                "period_kind": ind.period, "not_recorded": ind.not_recorded, "months": rows,
            })
        return {
            "generated_at": self.generated_at, "end": self.end, "months": self.shown,
            "indicators": indicators, "incentive": self.incentive(),
            "operational": [asdict(self.operational[k]) for k in self.shown],
            "package": [asdict(self.package[k]) | {"consumption": round(self.package[k].consumption, 6)}
                        for k in self.shown if k in self.package],
            "definitions": self.settings.model_dump(),
            "clocks": asdict(self.clocks),
        }


# -----------------------------------------------------------------------------------------


def _ratio(num: int | float, den: int | float) -> Fraction | None:
    if not den:
        return None
    return Fraction(num) / Fraction(den)


class Evaluator:
    """Raw counts → points, for every indicator of the catalogue."""

    def __init__(self, settings: IndicatorSettings) -> None:
        self.s = settings

    def evaluate(self, raw: Raw) -> dict[str, dict[str, Point]]:
        out: dict[str, dict[str, Point]] = {}
        for ind in INDICATORS:
            series: dict[str, Point] = {}
            run = 0
            for i, key in enumerate(raw.periods.keys):
                point = self._point(ind, i, key, raw)
                if ind.penalised:
                    run = run + 1 if point.status == "missed" else 0
                    point.run = run
                series[key] = point
            out[ind.id] = series
        return out

    def _point(self, ind: Indicator, i: int, key: str, raw: Raw) -> Point:
        p = Point(ind.id, key)
        if ind.not_recorded:
            p.reason = ind.not_recorded
            return p
        method = getattr(self, "_" + ind.id.replace("-", "_").lower())
        method(p, i, raw)
        if p.exact is not None and p.status == "no_data":
            if ind.target is None:
                p.status = "measured"
            else:
                p.status = "met" if ind.target.met(p.exact) else "missed"
        return p

    @staticmethod
    def _set(p: Point, num: int | float, den: int | float, empty_reason: str) -> None:
        p.numerator, p.denominator = num, den
        p.exact = _ratio(num, den)
        if p.exact is None:
            p.reason = empty_reason

    # --- T1 -------------------------------------------------------------------------------

    def _t1_iq01(self, p: Point, i: int, raw: Raw) -> None:
        av = raw.availability.get(i)
        if av is None:
            p.reason = ("Aucune sonde de disponibilité enregistrée sur la période (module de secours et de "
                        "supervision non installé ou arrêté).")
            return
        self._set(p, round(av.up_seconds), round(av.opening_seconds), "Aucune heure d'ouverture sur la période.")
        p.details = {"probes": av.probes, "failed_probes": av.failures,
                     "down_minutes": round(av.down_seconds / 60, 1)}

    def _t1_iq02(self, p: Point, i: int, raw: Raw) -> None:
        op = raw.openings.get(i)
        if op is None:
            p.reason = ("Aucune ouverture ni fermeture automatique du service enregistrée sur la période "
                        "(module de secours non installé).")
            return
        self._set(p, op.on_time, op.expected, "Aucune ouverture prévue sur la période.")
        p.details = {"late": op.late[:20]}

    # --- T2 calls ---------------------------------------------------------------------------

    def _calls(self, i: int, raw: Raw) -> q.PhoneCounts:
        return raw.contacts.get(i) or q.PhoneCounts()

    def _t2_iq01(self, p: Point, i: int, raw: Raw) -> None:
        c = self._calls(i, raw)
        self._set(p, c.answered_in_time, c.presented_counted, "Aucun appel présenté sur la période.")
        p.details = {"presented": c.presented, "short_abandons": c.short_abandons, "answered": c.answered}

    def _t2_iq02(self, p: Point, i: int, raw: Raw) -> None:
        c = self._calls(i, raw)
        num = c.abandoned + (c.callback_requested if self.s.callback_requested_is_abandoned else 0)
        self._set(p, num, c.presented_counted, "Aucun appel présenté sur la période.")
        p.details = {"abandoned": c.abandoned, "callback_requested": c.callback_requested,
                     "short_abandons": c.short_abandons}

    def _t2_iq03(self, p: Point, i: int, raw: Raw) -> None:
        c = self._calls(i, raw)
        self._set(p, c.answered, c.received_counted, "Aucun appel reçu pendant les heures d'ouverture.")
        p.details = {"received": c.received, "short_abandons": c.short_abandons,
                     "outside_hours": c.outside_hours}

    def _t2_iq04(self, p: Point, i: int, raw: Raw) -> None:
        rc = raw.recovery.get(i) or q.RecoveryCounts()
        self._set(p, rc.recovered, rc.lost, "Aucun appel perdu sur la période.")
        p.details = {"anonymous": rc.anonymous, "pending": rc.pending}

    # --- T2 tickets -------------------------------------------------------------------------

    def _tickets(self, i: int, raw: Raw) -> q.TicketCounts:
        return raw.created.get(i) or q.TicketCounts()

    def _t2_iq05(self, p: Point, i: int, raw: Raw) -> None:
        t = self._tickets(i, raw)
        self._set(p, t.mails_in_time, t.mails - t.mails_pending, "Aucun mail reçu sur la période.")
        p.details = {"mails": t.mails, "pending": t.mails_pending}

    def _t2_iq06(self, p: Point, i: int, raw: Raw) -> None:
        e = raw.escalations.get(i) or q.EscalationCounts()
        self._set(p, e.not_bounced, e.escalated, "Aucune escalade au N2 sur la période.")
        p.details = {"bounced": e.escalated - e.not_bounced}

    def _t2_iq07(self, p: Point, i: int, raw: Raw) -> None:
        t = self._tickets(i, raw)
        self._set(p, t.first_contact, t.created_counted, "Aucun ticket créé sur la période.")
        p.details = {"tickets": t.tickets, "excluded": t.tickets - t.created_counted}

    def _t2_iq08(self, p: Point, i: int, raw: Raw) -> None:
        t = self._tickets(i, raw)
        self._set(p, t.critical_in_time, t.critical - t.critical_pending,
                  "Aucune sollicitation critique (priorité 1 ou 2) sur la période.")
        p.details = {"pending": t.critical_pending}

    def _t2_iq09(self, p: Point, i: int, raw: Raw) -> None:
        t = self._tickets(i, raw)
        self._set(p, t.normal_in_time, t.normal - t.normal_pending,
                  "Aucune sollicitation normale (priorité 3 à 5) sur la période.")
        p.details = {"pending": t.normal_pending}

    def _t2_iq10(self, p: Point, i: int, raw: Raw) -> None:
        r = raw.resolved.get(i) or q.ResolutionCounts()
        self._set(p, r.by_n1, r.resolved, "Aucun ticket résolu sur la période.")
        p.details = {"by_n2": r.by_n2, "by_n3": r.by_n3}

    # --- T3, T8 -------------------------------------------------------------------------------

    def _t3_iq03(self, p: Point, i: int, raw: Raw) -> None:
        d = raw.drills.get(i)
        if d is None:
            p.reason = ("Aucun exercice de bascule ni aucune bascule vers le site de secours enregistré "
                        "(module de secours non installé).")
            return
        self._set(p, d.done, d.expected, "Aucun exercice de bascule attendu sur le semestre.")
        p.details = {"semester_complete": d.semester_complete, "drills": d.details}
        if p.exact is not None and p.exact < 1 and not d.semester_complete:
            p.status = "in_progress"
            p.reason = "Semestre en cours : l'objectif s'apprécie à la fin du semestre."

    def _t8_iq01(self, p: Point, i: int, raw: Raw) -> None:
        sv = raw.surveys.get(i)
        if sv is None or sv.answers == 0:
            p.reason = "Aucune réponse à l'enquête de satisfaction enregistrée sur la période."
            return
        self._set(p, sv.very_satisfied, sv.answers, "")
        p.details = {"very_satisfied": sv.very_satisfied, "satisfied": sv.satisfied,
                     "unsatisfied": sv.unsatisfied, "invalid": sv.invalid,
                     "satisfied_share": round(sv.satisfied / sv.answers, 6),
                     "unsatisfied_share": round(sv.unsatisfied / sv.answers, 6)}
        target = BY_ID["T8-IQ01"].target
        ok = target.met(p.exact) and Fraction(sv.unsatisfied, sv.answers) <= UNSATISFIED_MAX
        p.status = "met" if ok else "missed"


# -----------------------------------------------------------------------------------------


class IndicatorService:
    def __init__(self, engine: AsyncEngine, settings: IndicatorSettings, clocks: Clocks, *,
                 calendar: Callable[[], Any], clock: Callable[[], datetime], zone: ZoneInfo) -> None:
        self.engine = engine
        self.settings = settings
        self.clocks = clocks
        self._calendar = calendar  # async () -> BusinessCalendar
        self.clock = clock
        self.zone = zone
        self._cache: dict[Any, tuple[float, Any]] = {}
        self._lock = asyncio.Lock()

    @classmethod
    def from_container(cls, container: Any, settings: IndicatorSettings | None = None) -> IndicatorService:
        """The service for the composition root's container (settings from the environment)."""
        from indicators.settings import load_indicator_settings

        found = container.extras.get("indicators")
        if found is not None and settings is None:
            return found

        async def calendar() -> BusinessCalendar:
            async with container.session_factory() as session:
                return await container.calendar(session)

        svc = cls(container.engine, settings or load_indicator_settings(), Clocks.from_settings(container.settings),
                  calendar=calendar, clock=container.clock, zone=container.settings.opening_hours.zone)
        if settings is None:
            container.extras["indicators"] = svc
        return svc

    # --- periods --------------------------------------------------------------------------

    def default_end(self) -> tuple[int, int]:
        """The last complete month."""
        return P.previous_month(self.clock(), self.zone)

    def month_periods(self, end: tuple[int, int], months: int) -> P.Periods:
        # the shown months and the year before each: months + 12
        return P.months(end, months + 12, self.zone)

    # --- computing -----------------------------------------------------------------------------

    async def raw(self, periods: P.Periods, *, now: datetime | None = None, with_operational: bool = True) -> Raw:
        now = now or self.clock()
        calendar = await self._calendar()
        s = self.settings
        timings: dict[str, float] = {}

        async def timed(name: str, coro: Any) -> Any:
            t0 = _time.perf_counter()
            result = await coro
            timings[name] = _time.perf_counter() - t0
            return result

        async with self.engine.connect() as conn:
            if conn.dialect.name == "postgresql":  # one snapshot for every query
                await conn.execution_options(isolation_level="REPEATABLE READ")
                # JIT compiling these one-off aggregates costs seconds and saves nothing; with
                # room for a hash table the planner aggregates months × kinds without sorting
                # millions of facts first (its estimate of the groups is far too high).
                await conn.exec_driver_sql("SET LOCAL jit = off")
                await conn.exec_driver_sql("SET LOCAL work_mem = '128MB'")
            traffic = await timed("drill_traffic", q.drill_traffic(conn))
            contacts = await timed("contacts", q.contacts(conn, periods, s, traffic))
            lost = await timed("lost_calls", q.lost_calls(conn, periods, s, calendar, traffic))
            created = await timed("tickets_created", q.tickets_created(conn, periods, s, now, traffic))
            resolved = await timed("tickets_resolved", q.tickets_resolved(conn, periods, traffic))
            escalations = await timed("escalations", q.escalations(conn, periods, traffic))
            availability = await timed("availability", q.availability(conn, periods, s, calendar, now))
            openings = await timed("openings", q.openings(conn, periods, s, calendar, now))
            drills = await timed("drills", q.drills(conn, periods, s, self.zone, now))
            surveys = await timed("surveys", q.surveys(conn, periods))
            if with_operational:
                volumes = await timed("volumes", q.volumes(conn, periods, traffic))
                occupancy = await timed("occupancy", q.occupancy(conn, periods, s))
                labels = await q.catalogue_labels(conn)
            else:
                volumes, occupancy, labels = [], {}, {}
        return Raw(periods, now, contacts, lost, q.recovery_counts(lost, now), created, resolved, escalations,
                   availability, openings, drills, surveys, volumes, occupancy, labels, timings)

    async def dashboard(self, end: tuple[int, int] | None = None, months: int | None = None, *,
                        keep_raw: bool = False, use_cache: bool = True) -> Dashboard:
        end = end or self.default_end()
        months = months or self.settings.months
        key = ("dashboard", end, months, keep_raw)

        def cached() -> Dashboard | None:
            if use_cache and self.settings.cache_seconds > 0:
                hit = self._cache.get(key)
                if hit and hit[0] > _time.monotonic():
                    return hit[1]
            return None

        if (found := cached()) is not None:
            return found
        async with self._lock:  # one computation at a time; who waited finds it cached
            if (found := cached()) is not None:
                return found
            periods = self.month_periods(end, months)
            t0 = _time.perf_counter()
            raw = await self.raw(periods)
            points = Evaluator(self.settings).evaluate(raw)
            operational = self.operational(raw)
            package = self.package(raw, operational)
            log.info("indicators %s (%d months + the year before) computed in %.2f s",
                     P.month_key(*end), months, _time.perf_counter() - t0)
            dash = Dashboard(raw.now, P.month_key(*end), list(periods.keys), list(periods.keys[-months:]), points,
                             operational, package, self.settings, self.clocks, raw if keep_raw else None)
            if self.settings.cache_seconds > 0:
                now_m = _time.monotonic()
                self._cache = {k: v for k, v in self._cache.items() if v[0] > now_m}
                while len(self._cache) >= CACHE_ENTRIES:
                    self._cache.pop(next(iter(self._cache)))  # the oldest
                self._cache[key] = (now_m + self.settings.cache_seconds, dash)
            return dash

    async def period_points(self, start: datetime, end: datetime, key: str,
                            ids: tuple[str, ...] = DAILY_INDICATORS) -> tuple[dict[str, Point], Raw]:
        periods = P.single(start, end, key)
        raw = await self.raw(periods, with_operational=False)
        points = Evaluator(self.settings).evaluate(raw)
        return {i: points[i][key] for i in ids}, raw

    # --- operational figures ---------------------------------------------------------------

    def operational(self, raw: Raw) -> dict[str, Operational]:
        s = self.settings
        out = {k: Operational(k) for k in raw.periods.keys}
        counters: dict[int, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
        for v in raw.volumes:
            op = out[raw.periods.keys[v.period]]
            if v.duplicate:
                op.duplicates += v.tickets
                if not s.count_merged_duplicates:
                    continue
            op.tickets += v.tickets
            c = counters[v.period]
            c["channel"][v.channel] += v.tickets
            c["audience"][v.audience or "non renseigné"] += v.tickets
            c["application"][v.application or "non qualifié"] += v.tickets
            c["request_type"][v.request_type or "non qualifié"] += v.tickets
        for i, key in enumerate(raw.periods.keys):
            op = out[key]
            c = counters.get(i, {})
            op.by_channel = dict(sorted((c.get("channel") or {}).items()))
            op.by_audience = dict((c.get("audience") or Counter()).most_common())
            op.by_application = dict((c.get("application") or Counter()).most_common())
            op.by_request_type = dict((c.get("request_type") or Counter()).most_common())
            pc = raw.contacts.get(i) or q.PhoneCounts()
            op.calls_received, op.calls_outside_hours = pc.received, pc.outside_hours
            op.calls_presented, op.calls_answered = pc.presented, pc.answered
            op.calls_abandoned, op.calls_short_abandons = pc.abandoned, pc.short_abandons
            op.calls_lost_by_service, op.calls_callback_requested = pc.lost_by_service, pc.callback_requested
            op.calls_ivr_hangups = pc.ivr_hangups
            op.mean_wait_seconds = round(pc.wait_answered_seconds / pc.answered, 1) if pc.answered else None
            op.mean_talk_seconds = round(pc.talk_seconds / pc.talked, 1) if pc.talked else None
            op.chats = pc.chats
            op.mean_chat_seconds = round(pc.chat_seconds / pc.chats_ended, 1) if pc.chats_ended else None
            op.mails = (raw.created.get(i) or q.TicketCounts()).mails
            op.escalated = (raw.escalations.get(i) or q.EscalationCounts()).escalated
            r = raw.resolved.get(i) or q.ResolutionCounts()
            op.resolved, op.resolved_by_n1, op.resolved_by_n2, op.resolved_by_n3 = r.resolved, r.by_n1, r.by_n2, r.by_n3
            oc = raw.occupancy.get(i)
            if oc is not None and oc.logged_in_seconds > 0:
                op.operators = oc.operators
                op.logged_in_hours = round(oc.logged_in_seconds / 3600, 1)
                busy, source = oc.busy_seconds, "states"
                if busy == 0 and pc.talk_seconds > 0:
                    busy, source = pc.talk_seconds, "talk"
                op.busy_hours = round(busy / 3600, 1)
                op.occupancy = round(min(1.0, busy / oc.logged_in_seconds), 6)
                op.occupancy_source = source
        return out

    def package(self, raw: Raw, ops: dict[str, Operational] | None = None) -> dict[str, Package]:
        """Ticket consumption against the yearly package, for each month whose contract year
        lies entirely in the computed periods."""
        s = self.settings
        ops = ops or self.operational(raw)
        keys = list(raw.periods.keys)
        out: dict[str, Package] = {}
        for idx, key in enumerate(keys):
            if len(key) != 7:
                continue
            y, m = P.parse_month(key)
            back = (m - s.package_year_start_month) % 12
            start = P.month_key(*P.shift_month(y, m, -back))
            if start not in keys:
                continue
            first = keys.index(start)
            months = idx - first + 1
            consumed = sum(ops[k].tickets for k in keys[first:idx + 1])
            over = max(0, consumed - s.package_tickets)
            projected = round(consumed * 12 / months)
            out[key] = Package(
                period=key, year_start=start, months_elapsed=months, tickets_month=ops[key].tickets,
                consumed=consumed, package=s.package_tickets,
                allowance_to_date=round(s.package_tickets * months / 12), overrun=over,
                extensions_needed=math.ceil(over / s.extension_tickets),
                projected_year=projected,
                projected_extensions=math.ceil(max(0, projected - s.package_tickets) / s.extension_tickets),
            )
        return out

    # --- point prod ----------------------------------------------------------------------------

    async def escalations_in_progress(self) -> list[q.OpenEscalation]:
        async with self.engine.connect() as conn:
            return await q.escalations_in_progress(conn)

    async def business_hours_since(self, since: datetime) -> float:
        calendar = await self._calendar()
        return calendar.business_seconds_between(since, self.clock()) / 3600

    async def calendar(self) -> BusinessCalendar:
        return await self._calendar()


def daily_window(calendar: BusinessCalendar, today: date) -> tuple[date, date]:
    """The days the point prod of ``today`` covers: from the previous business day to
    yesterday (Monday: Friday, Saturday and Sunday), so that weekend mails are counted."""
    day = today - timedelta(days=1)
    for _ in range(30):
        if calendar.is_business_day(day):
            break
        day -= timedelta(days=1)
    else:
        day = today - timedelta(days=1)
    return day, today - timedelta(days=1)
