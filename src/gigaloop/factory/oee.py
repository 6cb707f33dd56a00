"""Overall equipment effectiveness (OEE) of each site's line, from the store alone.

OEE = availability × performance × quality (Nakajima, TPM):

* **availability** = run time / planned production time. Calendar time is the hours the
  site reported energy (one ``energy_readings`` row an hour); planned production time
  leaves out the planned stops; run time leaves out every stop. Stops are
  ``downtime_events`` as intervals ``[event_time, event_time + hours)``, merged, so
  overlapping stops (a line stopped for two reasons, a window logged per station) count
  once, and unplanned time inside a planned stop is not counted twice;
* **performance** = ideal cycle time × units built / run time, with the line's rated
  ``lines.ideal_cycle_s`` (``None`` when a line does not state it);
* **quality** = units that passed every inspection the first time / units built (a unit
  rejected and reworked is not first-time good).

Minor stops are recorded as stops, so they fall in availability here (TPM counts them as
a speed loss). Per week, units are counted in the week they were finished.

>>> round(0.9 * 0.95 * 0.999, 3)   # Nakajima's "world class": 90 % × 95 % × 99.9 %
0.854
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from gigaloop.store import Tables

NS_PER_H = 3_600_000_000_000
OEE_COLUMNS = ("availability", "performance", "quality", "oee")


def oee_table(store: Tables, *, per: Literal["run", "week"] = "run") -> pd.DataFrame:
    """One row per site (and per week, the Monday it starts, with ``per="week"``): hours,
    units and :data:`OEE_COLUMNS` (shares, 0–1; ``NaN`` where a part is unknown)."""
    energy = store.table("energy_readings")
    hours = _periods(store.execute(energy.select("site_id", "event_time")), per)
    hours = hours.groupby(["site_id", "period"]).size().rename("calendar_h").reset_index()
    stops = _stop_hours(store, hours, per)
    units = _units(store, per)
    out = hours.merge(stops, on=["site_id", "period"], how="left").merge(
        units, on=["site_id", "period"], how="left")
    for column in ("planned_h", "stopped_h", "units", "good_units"):
        out[column] = out[column].astype(float).fillna(0.0)
    production = out.calendar_h - out.planned_h
    out["run_h"] = out.calendar_h - out.stopped_h
    out["availability"] = out.run_h / production.where(production > 0)
    out["performance"] = out.ideal_h / out.run_h.where(out.run_h > 0)
    out["quality"] = out.good_units / out.units.where(out.units > 0)
    out["oee"] = out.availability * out.performance * out.quality
    return out.drop(columns="ideal_h")


def oee_kpis(store: Tables) -> dict[str, float | None]:
    """The run's OEE and its three parts over every site (``None`` when unknown)."""
    if int(store.table("energy_readings").count().execute()) == 0:
        return dict.fromkeys(OEE_COLUMNS)
    sites = oee_table(store)
    totals = sites[["calendar_h", "planned_h", "run_h", "units", "good_units"]].sum()
    ideal = (sites.performance * sites.run_h).sum(min_count=1)
    parts = {"availability": totals.run_h / (totals.calendar_h - totals.planned_h),
             "performance": ideal / totals.run_h if totals.run_h else None,
             "quality": totals.good_units / totals.units if totals.units else None}
    known = [v for v in parts.values() if v is not None and v == v]
    parts["oee"] = float(np.prod(known)) if len(known) == 3 else None
    return {k: None if v is None or v != v else round(float(v), 4) for k, v in parts.items()}


def _periods(frame: pd.DataFrame, per: str, column: str = "event_time") -> pd.DataFrame:
    """``frame`` with its ``period``: ``"run"``, or the Monday starting the row's week."""
    if per == "run":
        return frame.assign(period="run")
    day = frame[column].dt.normalize()
    return frame.assign(period=day - pd.to_timedelta(day.dt.weekday, unit="D"))


def _stop_hours(store: Tables, hours: pd.DataFrame, per: str) -> pd.DataFrame:
    """Per site and period: hours inside a planned stop, and inside any stop."""
    down = store.table("downtime_events")
    stations = store.table("stations")
    lines = store.table("lines")
    rows = store.execute(down.join(stations, "station_id").join(lines, "line_id").select(
        "site_id", "planned", "event_time", "hours"))
    out = []
    for (site, period), _ in hours.groupby(["site_id", "period"]):
        lo, hi = _bounds(period)
        mine = rows[rows.site_id == site]
        start = mine.event_time.to_numpy("datetime64[ns]").astype(np.int64) / NS_PER_H
        end = start + mine.hours.to_numpy(np.float64)
        planned = mine.planned.to_numpy(bool)
        out.append({"site_id": site, "period": period,
                    "planned_h": _covered(start[planned], end[planned], lo, hi),
                    "stopped_h": _covered(start, end, lo, hi)})
    return pd.DataFrame(out, columns=["site_id", "period", "planned_h", "stopped_h"])


def _bounds(period: Any) -> tuple[float, float]:
    """A period's span in hours since the epoch (the whole run: unbounded)."""
    if isinstance(period, str):
        return -np.inf, np.inf
    lo = pd.Timestamp(period).value / NS_PER_H
    return lo, lo + 7 * 24


def _covered(start: np.ndarray, end: np.ndarray, lo: float, hi: float) -> float:
    """Hours of ``[lo, hi)`` inside the union of the intervals ``[start, end)``.

    >>> _covered(np.array([0.0, 1.0, 5.0]), np.array([2.0, 3.0, 6.0]), 0.0, 5.5)
    3.5
    """
    if not len(start):
        return 0.0
    order = np.argsort(start, kind="stable")
    start, end = start[order], end[order]
    reach = np.maximum.accumulate(end)
    first = np.r_[True, start[1:] > reach[:-1]]
    merged_end = np.maximum.reduceat(end, np.flatnonzero(first))
    merged_start = start[first]
    return float(np.clip(np.minimum(merged_end, hi) - np.maximum(merged_start, lo), 0, None)
                 .sum())


def _units(store: Tables, per: str) -> pd.DataFrame:
    """Per site and period: units built, first-time good units, ideal hours to build them."""
    vehicles = store.table("vehicles")
    lines = store.table("lines")
    inspections = store.table("inspection_results")
    rejected = inspections.filter(~inspections.passed).select("vin").distinct()
    rows = store.execute(vehicles.join(lines.select("line_id", "ideal_cycle_s"), "line_id")
                         .select("vin", "site_id", "event_time", "ideal_cycle_s")
                         .mutate(rejected=vehicles.vin.isin(rejected.vin)))
    rows = _periods(rows, per)
    return rows.groupby(["site_id", "period"]).agg(
        units=("vin", "size"), good_units=("rejected", lambda r: int((~r).sum())),
        ideal_h=("ideal_cycle_s", lambda s: s.sum(min_count=len(s)) / 3600.0)).reset_index()
