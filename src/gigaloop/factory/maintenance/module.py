"""The maintenance decision module: health → remaining life → an order in a planned window.

Every day, for every machine: the health index against its own baseline; a machine whose
index (or ISO 10816 velocity, zone C from 2.8 mm/s) stays in alarm for ``confirm_days``
gets a degradation trend fitted to its daily vibration RMS since its last repair; once
``min_days_after_onset`` days of the trend are seen (or zone C is reached), its
remaining life to zone D (4.5 mm/s, where damage is expected) with an interval. The cost
rule then says whether to maintain in the next window. A machine already ordered is not
ordered again until ``maintenance_events`` shows the work done.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from gigaloop.actuate import DayContext, Decision, MaintenanceOrder
from gigaloop.errors import ConfigError, ModelError
from gigaloop.factory.maintenance.health import daily_condition, fit_baseline, health_index
from gigaloop.factory.maintenance.schedule import Costs, days_to_next_window, should_maintain
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
    horizons_days: tuple[float, ...] = (7.0, 14.0)
    window_weekday: int = 6
    window_hour: float = 2.0
    running_min_mm_s: float = 0.05
    reason_prefix: str = "predictive maintenance"
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


@dataclass(frozen=True)
class MachineHealth:
    """One machine on one day: index, alarm, latest RMS and, when alarmed, its prognosis.

    ``p_fail`` maps a horizon in days to P(zone D within it); ``horizon_days`` is the time
    to the window after next and ``p_following`` the probability of failing before it.
    """

    machine_id: str
    hi: float
    rms: float
    alarm: bool
    rul: RulEstimate | None = None
    p_fail: dict[float, float] = field(default_factory=dict)
    horizon_days: float = float("nan")
    p_following: float = 0.0


def assess_machines(daily: pd.DataFrame, *, now: datetime, days_to_window: int,
                    resets: dict[str, datetime] | None = None,
                    config: MaintenanceConfig | None = None) -> list[MachineHealth]:
    """Health and prognosis of every machine with a baseline, from daily features.

    ``daily`` is :func:`~gigaloop.factory.maintenance.health.daily_condition` as a frame;
    ``resets`` the last repair of each machine (history before it is not fitted);
    ``days_to_window`` the days from today to the next planned window.
    """
    config = config or MaintenanceConfig()
    resets = resets or {}
    if daily.empty:
        return []
    daily = daily.assign(day=pd.to_datetime(daily["day"]))
    index = health_index(daily, fit_baseline(daily, baseline_days=config.baseline_days))
    next_window = days_to_window - 1 + config.window_hour / 24
    following = next_window + 7
    out = []
    for machine, rows in index.groupby("machine_id", sort=True):
        recent = rows.tail(config.confirm_days)
        alarm = len(recent) == config.confirm_days and bool(
            (recent.hi >= config.alarm_level).all()
            or (recent.vibration_rms >= config.alert_mm_s).all())
        health = MachineHealth(str(machine), float(rows.hi.iloc[-1]),
                               float(rows.vibration_rms.iloc[-1]), alarm)
        if alarm:
            health = _prognosis(health, rows, now, resets.get(str(machine)), following, config)
        out.append(health)
    return out


def _prognosis(health: MachineHealth, rows: pd.DataFrame, now: datetime,
               reset: datetime | None, following: float,
               config: MaintenanceConfig) -> MachineHealth:
    if reset is not None:
        rows = rows[rows.day + DAY > reset]
    if len(rows) < config.min_fit_days:
        return health
    t = ((rows.day + DAY / 2 - now) / DAY).to_numpy(dtype=float)
    try:
        trend = fit_degradation(t, rows.vibration_rms.to_numpy(dtype=float), model=config.model)
    except ModelError:
        return health
    if trend.onset > -config.min_days_after_onset and health.rms < config.alert_mm_s:
        return health  # too little of the trend seen yet to extrapolate it
    rul = trend.rul(0.0, config.failure_mm_s, level=config.interval_level,
                    method=config.interval_method, draws=config.draws, seed=config.seed)
    p_fail = {h: rul.prob_within(h) for h in config.horizons_days}
    return MachineHealth(health.machine_id, health.hi, health.rms, True, rul, p_fail,
                         following, rul.prob_within(following))


@dataclass
class MaintenanceModule:
    """Daily predictive maintenance as a :class:`~gigaloop.actuate.DecisionModule`.

    Open orders are kept on ``ctx.board["maintenance_orders"]`` (machine → day ordered).
    """

    config: MaintenanceConfig = field(default_factory=MaintenanceConfig)
    name: str = "maintenance"
    depends_on: tuple[str, ...] = ()
    every_days: int = 1

    def decide(self, ctx: DayContext) -> list[Decision]:
        config = self.config
        readings = ctx.view.table("machine_readings")
        daily = ctx.view.execute(
            daily_condition(readings, running_min_mm_s=config.running_min_mm_s))
        if daily.empty:
            return []
        resets = self._resets(ctx)
        open_orders: dict[str, dict[str, Any]] = ctx.board.setdefault("maintenance_orders", {})
        for machine in [m for m, order in open_orders.items()
                        if resets.get(m, datetime.min) >= order["ordered_at"]]:
            del open_orders[machine]
        today = (ctx.now - DAY / 2).date()
        health = assess_machines(
            daily, now=ctx.now, resets=resets, config=config,
            days_to_window=days_to_next_window(today, weekday=config.window_weekday))
        due = sorted((h for h in health if h.rul is not None and h.machine_id not in open_orders
                      and should_maintain(h.p_following, config.costs)),
                     key=lambda h: -h.p_following)
        stations = self._stations(ctx) if due else {}
        return [self._order(ctx, h, rank, stations.get(h.machine_id), open_orders)
                for rank, h in enumerate(due, start=1)]

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

    def _resets(self, ctx: DayContext) -> dict[str, datetime]:
        """Last repair of each machine: a breakdown repair or an order of ours carried out."""
        events = ctx.view.table("maintenance_events")
        done = events.filter((events.kind == "corrective")
                             | events.reason.startswith(self.config.reason_prefix))
        frame = ctx.view.execute(done.group_by("machine_id").aggregate(last=done.event_time.max()))
        return {str(m): pd.Timestamp(t).to_pydatetime() for m, t in zip(frame.machine_id,
                                                                      frame["last"], strict=True)}

    @staticmethod
    def _stations(ctx: DayContext) -> dict[str, str]:
        machines = ctx.view.execute(ctx.view.table("machines")[["machine_id", "station_id"]])
        return dict(zip(machines.machine_id, machines.station_id, strict=True))


def _finite(value: float) -> float | None:
    return round(value, 2) if np.isfinite(value) else None


__all__ = ["MachineHealth", "MaintenanceConfig", "MaintenanceModule", "assess_machines"]
