"""The daily energy module: what is new in ``energy_readings``, the hall refitted, a plan.

The module keeps each site's last ``history_days`` of readings in memory and reads from
the store only the rows ingested since its last day (one small query); a fresh module —
the first day, or after a restart — reads the whole window. The hall is refitted every
day: the vectorised fit (:func:`.hall.fit_hall`) costs about a millisecond, so there is
no rule for when a refit may be skipped, and no stale model to reason about.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from gigaloop.actuate import EnergySchedule
from gigaloop.errors import ModelError
from gigaloop.factory.energy.config import HOURS, EnergyConfig
from gigaloop.factory.energy.forecast import Forecast, forecast_from_readings
from gigaloop.factory.energy.hall import fit_hall
from gigaloop.factory.energy.plan import baseline_day, fallback_reason, held_day, plan_day
from gigaloop.loop.contract import DayContext, Decision
from gigaloop.schema import EVENT_TIME

COLUMNS = ("site_id", EVENT_TIME, "hvac_kwh", "process_kwh", "lighting_kwh", "outside_temp_c",
           "indoor_temp_c", "tariff_usd_per_kwh", "carbon_g_per_kwh")
Readings = dict[str, np.ndarray]  # a site's readings: column → values (``COLUMNS`` but site)


@dataclass
class EnergyModule:
    """Plans each site's next day.

    State kept between days: ``sent`` — (site, day) → the airflow, cooling and heating
    setpoints asked for that day (the days still in the window); ``ledger`` — the expected
    CO2e and cost saved so far; ``window`` — each site's readings of the last
    ``history_days`` days (:data:`Readings`), in time order; ``read_to`` — the ingestion
    cutoff ``window`` is up to date with (``None``: nothing read yet).
    """

    config: EnergyConfig = field(default_factory=EnergyConfig)
    name: str = "energy"
    depends_on: tuple[str, ...] = ()
    every_days: int = 1
    sent: dict[tuple[str, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = field(
        default_factory=dict, repr=False)
    ledger: dict[str, float] = field(default_factory=lambda: {
        "expected_kg_saved": 0.0, "expected_usd_saved": 0.0, "days": 0}, repr=False)
    window: dict[str, Readings] = field(default_factory=dict, repr=False)
    read_to: datetime | None = field(default=None, repr=False)

    def decide(self, ctx: DayContext) -> list[Decision]:
        decisions = []
        sent = self.sent
        held = np.full(HOURS, self.config.nominal_setpoint_c)
        design = (np.ones(HOURS), held, held)
        for site_id, readings in self.readings(ctx).items():
            days = len(readings[EVENT_TIME]) // HOURS
            if days < 3:
                continue
            readings = {column: values[-days * HOURS:] for column, values in readings.items()}
            # the airflow this module asked for (design on days it did not plan); whole days,
            # the last one is today
            asked = [sent.get((site_id, ctx.day - j), design) for j in range(days - 1, -1, -1)]
            for column, values in zip(("airflow", "cooling_setpoint_c", "heating_setpoint_c"),
                                      zip(*asked, strict=True), strict=True):
                readings[column] = np.concatenate(values)
            hall = fit_hall(readings, self.config.fan_exponent)
            decisions.append(self._decide_site(ctx, site_id,
                                               forecast_from_readings(readings, hall)))
        oldest = ctx.day - self.config.history_days - 1  # what no window can reach any more
        for key in [key for key in sent if key[1] < oldest]:
            del sent[key]
        return decisions

    def readings(self, ctx: DayContext) -> dict[str, Readings]:
        """Each site's readings since ``ctx.now`` less ``history_days``, in time order.

        Only rows ingested after the last call are read and added to ``window``; the whole
        window is read when nothing was read yet or ``ctx.now`` is not after the last call
        (a replay). A row read again for an hour already held replaces it.
        """
        since = ctx.now - timedelta(days=self.config.history_days)
        after = self.read_to
        if after is None or ctx.now <= after:
            self.window, after = {}, None  # everything ingested; the window cuts it below
        new = ctx.view.ingested_since("energy_readings", after, list(COLUMNS))
        self.read_to = ctx.now
        window = dict(self.window)
        for site_id, rows in _by_site(new).items():
            window[site_id] = _merged(window.get(site_id), rows)
        cutoff = np.datetime64(since, "ns")
        starts = {site_id: int(np.searchsorted(rows[EVENT_TIME], cutoff))
                  for site_id, rows in window.items()}
        self.window = {site_id: {column: values[starts[site_id]:] for column, values in
                                 window[site_id].items()}
                       for site_id in sorted(window)
                       if starts[site_id] < len(window[site_id][EVENT_TIME])}
        return self.window

    def _decide_site(self, ctx: DayContext, site_id: str, forecast: Forecast) -> Decision:
        base = baseline_day(forecast, self.config)
        try:
            plan = plan_day(forecast, self.config)
            unsolved = None
        except ModelError as error:  # hold the baseline rather than stop the loop
            plan, unsolved = base, str(error)
        # where the plan cannot hold the band, ask for its edge: a milder day than forecast
        bottom, top = forecast.hall.band(self.config)  # then stays comfortable
        setpoint = np.clip(plan.setpoint_c, bottom, top)
        shift = np.round(plan.shift_kwh, 3)
        shift[int(np.argmax(shift))] -= shift.sum()  # rounding must not break the balance
        precool = [h for h in range(HOURS - 1)
                   if plan.setpoint_c[h] < plan.setpoint_c[h + 1] - 0.5]
        airflow = np.clip(np.round(plan.airflow, 3), self.config.min_airflow, 1.0)
        fallback = unsolved or fallback_reason(forecast, self.config)
        if fallback is None and plan.comfort_slack_kh > 0.05:
            fallback = f"comfort not assured ({plan.comfort_slack_kh:.2f} K·h short)"
        nominal = self.config.nominal_setpoint_c
        if fallback is not None:  # the baseline's airflow, never warmer on a day that needs
            airflow = np.ones(HOURS)  # cooling (pre-cooling may stay), never colder on one
            if forecast.hall.fit_error > self.config.max_fit_error:  # that needs heating
                setpoint = np.full(HOURS, nominal)  # model unreliable: the baseline itself
            elif forecast.hall.regime(forecast.outside_c, nominal).sum() >= 0:
                setpoint = np.minimum(setpoint, nominal)
            else:
                setpoint = np.maximum(setpoint, nominal)
            held = held_day(forecast, setpoint, self.config)  # the load moved around it
            shift = np.round(held.shift_kwh, 3)
            shift[int(np.argmax(shift))] -= shift.sum()
            plan = replace(held, comfort_slack_kh=plan.comfort_slack_kh)
            cooling = heating = np.round(setpoint, 2)  # one setpoint, both ways, as without
        else:  # the planned hall where the plan conditions it; elsewhere it floats in the band
            regime = forecast.hall.regime(forecast.outside_c, nominal)
            cooling = np.round(np.where(regime > 0, setpoint, top), 2)
            heating = np.round(np.where(regime < 0, setpoint, bottom), 2)
        ledger = self.ledger
        ledger["expected_kg_saved"] += base.co2e_kg - plan.co2e_kg
        ledger["expected_usd_saved"] += base.cost_usd - plan.cost_usd
        ledger["days"] += 1
        self.sent[(site_id, ctx.day + 1)] = (airflow, cooling, heating)
        action = EnergySchedule(
            day=ctx.day + 1, site_id=site_id,
            cooling_setpoint_c=tuple(float(t) for t in cooling),
            heating_setpoint_c=tuple(float(t) for t in heating),
            shift_kwh=tuple(float(s) for s in shift),
            airflow=tuple(float(a) for a in airflow),
            reason=(f"expected −{1 - plan.cost_usd / base.cost_usd:.0%} cost, "
                    f"−{1 - plan.co2e_kg / base.co2e_kg:.0%} CO2e" if fallback is None
                    else f"held at the baseline: {fallback}"))
        inputs: dict[str, Any] = {
            "expected_cost_usd": round(plan.cost_usd, 2),
            "baseline_cost_usd": round(base.cost_usd, 2),
            "expected_co2e_kg": round(plan.co2e_kg, 1),
            "baseline_co2e_kg": round(base.co2e_kg, 1),
            "expected_peak_kw": round(plan.peak_kw, 1),
            "baseline_peak_kw": round(base.peak_kw, 1),
            "comfort_slack_kh": round(plan.comfort_slack_kh, 3),
            "precool_hours": precool,
            "shifted_kwh": round(float(np.maximum(shift, 0).sum()), 1),
            "mean_airflow": round(float(airflow.mean()), 3),
            "forecast_outside_sd_c": round(forecast.outside_sd_c, 2),
            "hall_fit_error": round(forecast.hall.fit_error, 3),
            "fallback": fallback,
        }
        summary = (f"{site_id} day {ctx.day + 1}: expected ${plan.cost_usd:,.0f} "
                   f"(baseline ${base.cost_usd:,.0f}), {plan.co2e_kg:,.0f} kg CO2e "
                   f"(baseline {base.co2e_kg:,.0f})")
        return Decision(ctx.day, self.name, summary, action=action, inputs=inputs)


def _by_site(table: pa.Table) -> dict[str, Readings]:
    """Each site's rows of ``table`` (in the order read) as NumPy columns, times in ns."""
    site = table["site_id"].to_numpy(zero_copy_only=False)
    columns = {name: table[name].to_numpy() for name in COLUMNS if name != "site_id"}
    columns[EVENT_TIME] = columns[EVENT_TIME].astype("datetime64[ns]")
    return {str(site_id): {name: values[site == site_id] for name, values in columns.items()}
            for site_id in np.unique(site)}


def _merged(held: Readings | None, rows: Readings) -> Readings:
    """``held`` (in time order) with ``rows`` added, a row read again for an hour held
    replacing it; in time order. Rows that only extend ``held`` are appended as they are."""
    times = rows[EVENT_TIME]
    if (held is not None and len(held[EVENT_TIME]) and len(times)
            and times[0] > held[EVENT_TIME][-1] and (np.diff(times) > np.timedelta64(0)).all()):
        return {name: np.concatenate([held[name], rows[name]]) for name in held}
    if held is not None:
        rows = {name: np.concatenate([held[name], rows[name]]) for name in held}
    # the last row of each hour, in time order
    _, last = np.unique(rows[EVENT_TIME][::-1], return_index=True)
    kept = len(rows[EVENT_TIME]) - 1 - last
    return {name: values[kept] for name, values in rows.items()}
