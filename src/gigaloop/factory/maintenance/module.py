"""The maintenance decision module: health → remaining life → an order in a planned window.

Every day, for every machine: the health index against its own baseline; a machine whose
index (or ISO 10816 velocity, zone C from 2.8 mm/s) stays in alarm for ``confirm_days``,
with its velocity RMS itself out of its baseline (z ≥ the alarm level), gets a degradation
trend fitted to its daily vibration RMS since its last maintenance; once
``min_days_after_onset`` days of the trend are seen (or zone C is reached) and the fitted
trend reaches zone D (4.5 mm/s, where damage is expected) within ``screen_factor`` times
the horizon, its remaining life with an interval. The cost rule then says whether to
maintain in the next window. A machine already ordered is not
ordered again until ``maintenance_events`` shows the work done.

Minor stops are the other half (:mod:`.stops`): a Poisson model of a machine's stops on
its condition, learnt from ``machine_readings`` and ``downtime_events`` and checked on
held-out days, says how many stop hours a service (clean, lubricate, adjust) in the next
window would avoid before the window after it; the machine is serviced when they are
worth more than the job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from gigaloop.actuate import MaintenanceOrder
from gigaloop.errors import ConfigError, ModelError
from gigaloop.factory.maintenance.health import (
    Baseline,
    fit_baseline,
    recent_index,
)
from gigaloop.factory.maintenance.history import ConditionLog, MaintenanceLog, Rows, StopLog
from gigaloop.factory.maintenance.schedule import (
    Costs,
    days_to_next_window,
    should_maintain,
    should_service,
)
from gigaloop.factory.maintenance.stops import StopModel, fit_stop_model, stop_panel
from gigaloop.loop.contract import DayContext, Decision
from gigaloop.ml.rul import GROWTH, RulEstimate, fit_degradation

DAY = timedelta(days=1)


@dataclass(frozen=True)
class MaintenanceConfig:
    """Thresholds, model and costs of predictive maintenance."""

    baseline_days: int = 21
    alarm_level: float = 3.0
    confirm_days: int = 3
    alert_mm_s: float = 2.8
    failure_mm_s: float = 4.5
    model: str = "power"
    interval_level: float = 0.9
    interval_method: str = "bootstrap"
    draws: int = 200
    min_fit_days: int = 14
    min_days_after_onset: float = 10.0
    screen_factor: float = 6.0
    refit_search_days: float = 7.0
    finding_rise_mm_s: float = 0.2
    horizons_days: tuple[float, ...] = (7.0, 14.0)
    window_weekday: int = 6
    window_hour: float = 2.0
    running_min_mm_s: float = 0.05
    reason_prefix: str = "predictive maintenance"
    service_prefix: str = "condition-based service"
    stop_model: bool = True
    holdout_share: float = 0.3
    min_stops: int = 10
    min_heldout_d2: float = 0.02
    stop_alpha: float = 1e-4
    costs: Costs = field(default_factory=Costs)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.model not in GROWTH:
            raise ConfigError(f"model must be one of {sorted(GROWTH)}, got {self.model!r}")
        if not 0 < self.alert_mm_s < self.failure_mm_s:
            raise ConfigError("need 0 < alert_mm_s < failure_mm_s",
                              alert_mm_s=self.alert_mm_s, failure_mm_s=self.failure_mm_s)
        if self.baseline_days < 3 or self.confirm_days < 1 or self.min_fit_days < 8:
            raise ConfigError("need baseline_days >= 3, confirm_days >= 1, min_fit_days >= 8")
        if not 0 < self.holdout_share < 1:
            raise ConfigError(f"holdout_share must be in (0, 1), got {self.holdout_share}")


@dataclass(frozen=True)
class MachineHealth:
    """One machine on one day: index, alarm, latest RMS and, when alarmed, its prognosis.

    ``p_fail`` maps a horizon in days to P(zone D within it); ``horizon_days`` is the time
    to the window after next and ``p_following`` the probability of failing before it;
    ``rms_alarm`` says the alarm holds for the velocity RMS itself (its z or zone C).
    """

    machine_id: str
    hi: float
    rms: float
    alarm: bool
    rul: RulEstimate | None = None
    p_fail: dict[float, float] = field(default_factory=dict)
    horizon_days: float = float("nan")
    p_following: float = 0.0
    rms_alarm: bool = False


def assess_machines(daily: pd.DataFrame, *, now: datetime, days_to_window: int,
                    resets: dict[str, datetime] | None = None,
                    config: MaintenanceConfig | None = None,
                    baseline: Baseline | None = None) -> list[MachineHealth]:
    """Health and prognosis of every machine with a baseline, from daily features.

    ``daily`` is :func:`~gigaloop.factory.maintenance.health.daily_condition` as a frame;
    ``resets`` the last repair of each machine (history before it is not fitted);
    ``days_to_window`` the days from today to the next planned window; ``baseline`` that
    of ``daily`` when already fitted.
    """
    config = config or MaintenanceConfig()
    daily = daily.assign(day=pd.to_datetime(daily["day"]))
    health = machine_alarms(daily, config=config, baseline=baseline)
    following = days_to_window - 1 + config.window_hour / 24 + 7
    rows = {m: (r.day.to_numpy(), r.vibration_rms.to_numpy(dtype=float))
            for m, r in daily.groupby("machine_id")}
    return [_prognosis(h, *rows[h.machine_id], now, (resets or {}).get(h.machine_id),
                       following, config) if h.rms_alarm else h for h in health]


def machine_alarms(daily: pd.DataFrame, *, config: MaintenanceConfig,
                   baseline: Baseline | None = None) -> list[MachineHealth]:
    """Index, latest RMS and alarms of every machine with a baseline (no prognosis).

    Only the last ``confirm_days`` days of each machine are scored (with every machine of
    those days, for the hall compensation of temperature).
    """
    if daily.empty:
        return []
    if baseline is None:
        baseline = fit_baseline(daily, baseline_days=config.baseline_days)
    index = recent_index(daily, baseline, config.confirm_days)
    return _alarms(index.machine_id.to_numpy(), index.hi.to_numpy(),
                   index.vibration_rms.to_numpy(), index.z_vibration_rms.to_numpy(), config)


def _alarms(machine: np.ndarray, hi: np.ndarray, rms: np.ndarray, z_rms: np.ndarray,
            config: MaintenanceConfig) -> list[MachineHealth]:
    """:func:`machine_alarms` of the recent index (rows sorted by machine and day)."""
    if not machine.size:
        return []
    k = config.confirm_days
    ends = np.flatnonzero(np.r_[machine[1:] != machine[:-1], True]) + 1
    out = []
    for start, end in zip(np.r_[0, ends[:-1]], ends, strict=True):
        recent = slice(max(start, end - k), end)
        zone_c = bool((rms[recent] >= config.alert_mm_s).all())
        alarm = end - start >= k and (bool((hi[recent] >= config.alarm_level).all()) or zone_c)
        rms_alarm = alarm and (bool((z_rms[recent] >= config.alarm_level).all()) or zone_c)
        out.append(MachineHealth(str(machine[start]), float(hi[end - 1]), float(rms[end - 1]),
                                 alarm, rms_alarm=rms_alarm))
    return out


@dataclass(frozen=True)
class TrendFit:
    """A machine's last degradation fit: since which maintenance, when, its parameters
    (times in days from ``now``), and when its fit last started from every onset."""

    reset: datetime | None
    now: datetime
    params: np.ndarray
    searched: datetime


def _prognosis(health: MachineHealth, day: np.ndarray, rms: np.ndarray, now: datetime,
               reset: datetime | None, following: float, config: MaintenanceConfig,
               fits: dict[str, TrendFit] | None = None) -> MachineHealth:
    """The trend of the RMS since ``reset``, once it has left its baseline (``rms_alarm``);
    ``day`` (datetime64) and ``rms`` are the machine's daily rows, in order.

    With ``fits`` (updated here), a machine fitted since the same maintenance starts from
    its last fit; every ``refit_search_days`` the fit searches from every onset again.
    """
    day = day.astype("datetime64[ns]")
    if reset is not None:
        since = day + np.timedelta64(DAY) > np.datetime64(reset, "ns")
        day, rms = day[since], rms[since]
    if day.size < config.min_fit_days:
        return health
    t = (day - np.datetime64(now, "ns") + np.timedelta64(DAY / 2)) / np.timedelta64(DAY)
    last = (fits or {}).get(health.machine_id)
    start, searched = None, now
    if last is not None and last.reset == reset and (
            now - last.searched < config.refit_search_days * DAY):
        start = last.params - np.array([0.0, 0.0, 0.0, (now - last.now) / DAY])
        searched = last.searched
    try:
        trend = fit_degradation(t, rms, model=config.model, start=start)
    except ModelError:
        return health
    if fits is not None:
        fits[health.machine_id] = TrendFit(reset, now, trend.params, searched)
    if trend.onset > -config.min_days_after_onset and health.rms < config.alert_mm_s:
        return health  # too little of the trend seen yet to extrapolate it
    if trend.crossing_time(config.failure_mm_s) > config.screen_factor * following:
        return health  # the fitted trend is far from zone D: no bootstrap, no prognosis
    rul = trend.rul(0.0, config.failure_mm_s, level=config.interval_level,
                    method=config.interval_method, draws=config.draws, seed=config.seed)
    p_fail = {h: rul.prob_within(h) for h in config.horizons_days}
    return MachineHealth(health.machine_id, health.hi, health.rms, True, rul, p_fail,
                         following, rul.prob_within(following), rms_alarm=True)


@dataclass
class MaintenanceModule:
    """Daily predictive maintenance as a :class:`~gigaloop.actuate.DecisionModule`.

    State kept between days: ``open_orders`` (machine → the order, until the store shows
    it done); ``stop_model`` (the last stop model's held-out figures); what was read from
    the store so far, by increment (:mod:`.history`): ``condition`` (daily condition per
    machine), ``maintenance`` (last maintenance per machine, read on the days it is
    needed: an open order or a trend to fit), ``stops`` (minor stops per machine and day,
    read weekly); and ``baseline``, each machine's healthy baseline, refitted only when a
    machine-day in it changes or a machine has yet to complete it (``baseline_end``: the
    last day of each machine's baseline); ``trends``, each machine's last degradation fit,
    the start of the next one.
    """

    config: MaintenanceConfig = field(default_factory=MaintenanceConfig)
    name: str = "maintenance"
    depends_on: tuple[str, ...] = ()
    every_days: int = 1
    open_orders: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    stop_model: dict[str, Any] | None = field(default=None, repr=False)
    condition: ConditionLog = field(default_factory=ConditionLog, repr=False)
    maintenance: MaintenanceLog = field(default_factory=MaintenanceLog, repr=False)
    stops: StopLog = field(default_factory=StopLog, repr=False)
    baseline: Baseline | None = field(default=None, repr=False)
    trends: dict[str, TrendFit] = field(default_factory=dict, repr=False)
    baseline_end: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.condition.running_min_mm_s = self.config.running_min_mm_s
        self.maintenance.prefixes = (self.config.reason_prefix, self.config.service_prefix)

    def decide(self, ctx: DayContext) -> list[Decision]:
        config = self.config
        log = self.condition
        fresh = log.update(ctx.view, ctx.now)
        if log.empty:
            return []
        self._refit_baseline(fresh)
        assert self.baseline is not None
        health = _alarms(*log.recent_index(self.baseline, config.confirm_days), config)
        open_orders = self.open_orders
        if open_orders or any(h.rms_alarm for h in health):
            self.maintenance.update(ctx.view, ctx.now)
        done = self.maintenance.last_ours
        for machine in [m for m, order in open_orders.items()
                        if done.get(m, datetime.min) >= order["ordered_at"]]:
            del open_orders[machine]
        today = (ctx.now - DAY / 2).date()
        to_window = days_to_next_window(today, weekday=config.window_weekday)
        following = to_window - 1 + config.window_hour / 24 + 7
        # an ordered machine is not ordered again nor serviced: its prognosis would go unused,
        # and the work that closes its order starts its next trend afresh (a new reset)
        resets = self.maintenance.last_reset
        health = [_prognosis(h, *log.vibration(h.machine_id), ctx.now, resets.get(h.machine_id),
                             following, config, self.trends)
                  if h.rms_alarm and h.machine_id not in open_orders else h for h in health]
        due = sorted((h for h in health if h.rul is not None and h.machine_id not in open_orders
                      and should_maintain(h.p_following, config.costs)),
                     key=lambda h: -h.p_following)
        stations = self._stations(ctx) if due else {}
        decisions = [self._order(ctx, h, rank, stations.get(h.machine_id), open_orders)
                     for rank, h in enumerate(due, start=1)]
        if config.stop_model and to_window == 1:  # the window is next: decide with the latest
            prognosed = {h.machine_id: h for h in health if h.rul is not None}
            decisions += self._services(ctx, open_orders, prognosed, len(decisions))
        return decisions

    def _refit_baseline(self, fresh: Rows) -> None:
        """Fit the baselines again if ``fresh`` touches one or completes a machine's."""
        days, rows = self.config.baseline_days, self.condition.machine_rows
        if self.baseline is not None:
            end = [self.baseline_end.get(m) for m in fresh.machine]
            if not any(e is not None and d <= e  # a baseline day changed, or one is complete
                       for d, e in zip(fresh.day, end, strict=True)) and not any(
                    e is None and rows[m].stop - rows[m].start >= days
                    for m, e in zip(fresh.machine, end, strict=True)):
                return
        first = self.condition.daily.groupby("machine_id").head(days)
        self.baseline = fit_baseline(first, baseline_days=days)
        self.baseline_end = {m: int(self.condition.day_numbers[rows[m].start + days - 1])
                             for m in self.baseline.median.index}

    def _services(self, ctx: DayContext, open_orders: dict[str, dict[str, Any]],
                  prognosed: dict[str, MachineHealth], ranked: int) -> list[Decision]:
        """Condition-based service where the stops it avoids pay for the job."""
        config = self.config
        assert self.baseline is not None
        index = self.condition.deviation_index(self.baseline)
        stops = self.stops.update(ctx.view, ctx.now)
        if index.empty or stops.empty:
            return []
        try:
            model = fit_stop_model(stop_panel(index, stops),
                                   mean_stop_hours=stops.stop_hours.sum() / stops.stops.sum(),
                                   holdout_share=config.holdout_share, alpha=config.stop_alpha,
                                   min_stops=config.min_stops)
        except ModelError:
            return []
        self.stop_model = {"day": ctx.day, "heldout_d2": round(model.heldout_d2, 4),
                           "heldout_days": model.heldout_days,
                           "train_stops": model.train_stops}
        if model.heldout_d2 < config.min_heldout_d2:
            return []
        latest = index[index.day == index.day.max()].machine_id
        recent = index[index.machine_id.isin(latest)].groupby("machine_id").tail(
            config.confirm_days)
        condition = recent.groupby("machine_id")[[c for c in index if c.startswith("d_")]].mean()
        avoided = pd.Series(model.stop_hours_avoided(condition, days=7.0), index=condition.index)
        due = [(str(m), float(h)) for m, h in avoided.sort_values(ascending=False).items()
               if m not in open_orders and should_service(h, config.costs)]
        rise = condition["d_vibration_rms"]
        found = {m for m, _ in due if m in prognosed or rise[m] >= config.finding_rise_mm_s}
        stations = self._stations(ctx) if found else {}
        decisions = []
        for machine, hours in due:
            finding = None
            if machine in found:  # heading for zone D, or plainly up: a fault found and fixed
                ranked += 1
                health = prognosed.get(machine, MachineHealth(machine, 0.0, 0.0, True))
                rul = health.rul
                finding = {"id": f"PM-{machine}-d{ctx.day}", "failure_mode": "machine_breakdown",
                           "names": {"machine": machine, **({"station": stations[machine]}
                                                           if machine in stations else {})},
                           "effect": round(health.p_following, 4),
                           "ci": [_finite(rul.low), _finite(rul.high)] if rul else None,
                           "rank": ranked, "day_found": ctx.day}
            decisions.append(self._service(ctx, machine, hours, model, open_orders, finding))
        return decisions

    def _service(self, ctx: DayContext, machine: str, hours: float, model: StopModel,
                 open_orders: dict[str, dict[str, Any]],
                 finding: dict[str, Any] | None) -> Decision:
        open_orders[machine] = {"day": ctx.day, "ordered_at": ctx.now}
        reason = (f"{self.config.service_prefix}: {hours:.2f} h of minor stops a week avoided "
                  f"(held-out D² {model.heldout_d2:.2f})")
        return Decision(ctx.day, self.name, f"service {machine}: {reason}",
                        action=MaintenanceOrder(day=ctx.day + 1, machine_id=machine,
                                                reason=reason), finding=finding,
                        inputs={"stop_hours_avoided_7d": round(hours, 4),
                                "heldout_d2": round(model.heldout_d2, 4),
                                "heldout_days": model.heldout_days,
                                "mean_stop_hours": round(model.mean_stop_hours, 4)})

    def _order(self, ctx: DayContext, health: MachineHealth, rank: int, station: str | None,
               open_orders: dict[str, dict[str, Any]]) -> Decision:
        rul = health.rul
        assert rul is not None
        open_orders[health.machine_id] = {"day": ctx.day, "ordered_at": ctx.now}
        reason = (f"{self.config.reason_prefix}: P(zone D within {health.horizon_days:.1f} d)"
                  f" = {health.p_following:.2f}, RUL {rul.median:.0f} d "
                  f"[{rul.low:.0f}, {rul.high:.0f}]")
        names = {"machine": health.machine_id}
        if station is not None:
            names["station"] = station
        finding = {"id": f"PM-{health.machine_id}-d{ctx.day}",
                   "failure_mode": "machine_breakdown", "names": names,
                   "effect": round(health.p_following, 4),
                   "ci": [_finite(rul.low), _finite(rul.high)], "rank": rank,
                   "day_found": ctx.day}
        inputs = {"hi": round(health.hi, 3), "vibration_rms": round(health.rms, 3),
                  "rul_median_days": _finite(rul.median),
                  "horizon_days": round(health.horizon_days, 3),
                  **{f"p_fail_{h:g}d": round(p, 4) for h, p in health.p_fail.items()}}
        return Decision(ctx.day, self.name, f"maintain {health.machine_id}: {reason}",
                        action=MaintenanceOrder(day=ctx.day + 1, machine_id=health.machine_id,
                                                reason=reason),
                        finding=finding, inputs=inputs)

    @staticmethod
    def _stations(ctx: DayContext) -> dict[str, str]:
        machines = ctx.view.execute(ctx.view.table("machines")[["machine_id", "station_id"]])
        return dict(zip(machines.machine_id, machines.station_id, strict=True))


def _finite(value: float) -> float | None:
    return round(value, 2) if np.isfinite(value) else None


__all__ = ["MachineHealth", "MaintenanceConfig", "MaintenanceModule", "assess_machines",
           "machine_alarms"]
