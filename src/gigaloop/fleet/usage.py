"""Per-vehicle usage and rate measures from daily telemetry, as sums that add up.

Besides usage (days, miles, fast charging, …), the sums carry every rate measure the
schema declares (:data:`gigaloop.schema.RATE_MEASURES`): Σvalue and Σexposure for
events per exposure, and for a trend — battery state of health falls with the square
root of time in service (calendar ageing of lithium-ion cells) — n, Σx, Σx², Σy and Σxy
of the value against x = √(days since delivery + 1), which give its least-squares slope.
Each measure's sums are over its own days: given the day each vehicle's part was first
replaced (:func:`usage_terms`' ``replaced``), the days from then on count not for the
measures of that part (a new pack fades from new; its days would hide the old one's
fade). Telemetry read a week at a time adds to what was kept, and the result equals a fit
on all rows (up to the order of floating-point sums).

>>> import numpy as np, pandas as pd
>>> from gigaloop.schema import RATE_MEASURES
>>> fade = RATE_MEASURES[0]
>>> x = np.sqrt(np.arange(1, 101))
>>> soh = 100 - 0.3 * x
>>> n, sx, sxx, y, xy = measure_sum_names(fade)
>>> sums = pd.DataFrame({n: [100], sx: [x.sum()], sxx: [(x * x).sum()], y: [soh.sum()],
...                      xy: [(x * soh).sum()]})
>>> trend_slopes(sums, fade).round(6).tolist()
[-0.3]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from gigaloop.schema import RATE_MEASURES, RateMeasure
from gigaloop.store import Tables

#: Usage sums every vehicle has, whatever is measured: days, miles, DC fast-charge kWh,
#: clear-weather disengagements, Autopilot miles and Σ ambient °C.
BASE_SUMS = ("days", "miles", "dc_kwh", "clear_dis", "ap_miles", "temp")
#: Telemetry columns of :data:`BASE_SUMS`, by sum.
_BASE_COLUMNS = {"miles": "miles", "dc_kwh": "dc_fast_charge_kwh",
                 "clear_dis": "disengagements_clear", "ap_miles": "autopilot_miles",
                 "temp": "ambient_temp_c"}
#: Fewer telemetry days than this leave a trend undefined (NaN).
MIN_FADE_DAYS = 14


class MeasuredRates(NamedTuple):
    """One rate measure per vehicle: the rate (larger is worse), its weight, whether the
    vehicle has the exposure to be tested, and the share of the vehicle's telemetry days
    the measure is over (1 but where a visit replaced its part: a trend's window, which
    its age adjustment needs)."""

    measure: RateMeasure
    rate: np.ndarray
    weight: np.ndarray
    usable: np.ndarray
    watched: np.ndarray | None = None  # None: every day


def measure_sum_names(measure: RateMeasure) -> tuple[str, ...]:
    """The sums of ``measure``: (n, Σx, Σx², Σy, Σxy) of a trend, (Σvalue, Σper) of events."""
    if measure.is_trend:
        return tuple(f"{measure.mode}_{name}" for name in ("n", "sx", "sxx", "sy", "sxy"))
    return f"{measure.mode}_value", f"{measure.mode}_per"


def measure_component(measure: RateMeasure) -> str:
    """The part whose replacement ends a vehicle's days of ``measure``."""
    return measure.component or measure.mode


def usage_sum_names(measures: tuple[RateMeasure, ...] = RATE_MEASURES) -> tuple[str, ...]:
    """Every sum :func:`usage_sums` returns (besides ``vin``): :data:`BASE_SUMS`, then each
    measure's (:func:`measure_sum_names`)."""
    return (*BASE_SUMS, *(name for m in measures for name in measure_sum_names(m)))


def telemetry_columns(measures: tuple[RateMeasure, ...] = RATE_MEASURES) -> tuple[str, ...]:
    """Telemetry columns the sums of ``measures`` are made of."""
    wanted = ["vin", "day", *_BASE_COLUMNS.values(),
              *(c for m in measures for c in (m.value, m.per) if c is not None)]
    return tuple(dict.fromkeys(wanted))


def usage_sums(telemetry: ir.Table, customers: ir.Table, by: tuple[str, ...] = (),
               measures: tuple[RateMeasure, ...] = RATE_MEASURES) -> ir.Table:
    """Sums per vehicle (and per ``by`` columns of ``telemetry``) of the given telemetry
    rows: columns ``vin``, ``by`` and :func:`usage_sum_names` of ``measures``.

    ``customers`` gives each vehicle's delivery day (x counts days since it).
    """
    delivered = customers.select("vin", "delivered_on")
    t = telemetry.join(delivered, "vin")
    x = (t.day.delta(t.delivered_on, unit="day").cast("float64") + 1.0).sqrt()
    t = t.mutate(x=x)
    sums = {"days": t.count()}
    sums |= {name: t[column].sum().cast("float64") for name, column in _BASE_COLUMNS.items()}
    for measure in measures:
        value = t[measure.value].cast("float64")
        if measure.is_trend:
            n, sx, sxx, sy, sxy = measure_sum_names(measure)
            sums |= {n: t.count(), sx: t.x.sum(), sxx: (t.x * t.x).sum(), sy: value.sum(),
                     sxy: (t.x * value).sum()}
        else:
            events, per = measure_sum_names(measure)
            sums |= {events: value.sum(), per: t[measure.per].cast("float64").sum()}
    return t.group_by(["vin", *by]).aggregate(**sums)


def usage_terms(rows: Any, delivered: np.ndarray,
                measures: tuple[RateMeasure, ...] = RATE_MEASURES,
                replaced: Mapping[str, np.ndarray] | None = None,
                ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Each telemetry row's term of every :func:`usage_sum_names` (NaN: a missing value,
    adds nothing) and whether the row counts: ``rows`` has :func:`telemetry_columns` (Arrow
    or pandas), ``delivered`` each row's delivery day (NaT: not delivered, the row counts
    not). ``replaced``: part → each row's vehicle's first replacement day of it (NaT:
    none); a row from that day on adds 0 to the measures of that part
    (:func:`measure_component`).
    """
    def column(name: str) -> np.ndarray:
        return np.asarray(rows[name], dtype=float)

    day = np.asarray(rows["day"]).astype("datetime64[D]")
    x = np.sqrt((day - delivered) / np.timedelta64(1, "D") + 1.0)
    terms = {"days": np.ones_like(x)}
    terms |= {name: column(source) for name, source in _BASE_COLUMNS.items()}
    for measure in measures:
        value = column(measure.value)
        made: tuple[np.ndarray, ...] = (
            (np.ones_like(x), x, x * x, value, x * value) if measure.per is None
            else (value, column(measure.per)))
        since = (replaced or {}).get(measure_component(measure))
        if since is not None:  # NaT compares False: the row is kept
            made = tuple(np.where(day >= since, 0.0, term) for term in made)
        terms |= dict(zip(measure_sum_names(measure), made, strict=True))
    return terms, np.isfinite(x)


def usage_sums_of_rows(rows: pd.DataFrame, delivered_on: pd.Series,
                       measures: tuple[RateMeasure, ...] = RATE_MEASURES) -> pd.DataFrame:
    """:func:`usage_sums` of telemetry rows already in memory (:func:`telemetry_columns`),
    indexed by ``vin``; ``delivered_on`` maps a VIN to its delivery day. The same sums
    (tested equal to the engine's) as :class:`gigaloop.loop.vehicle_records.VehicleRecords`
    keeps for a vehicle no visit has replaced a measured part of.
    """
    vins = rows["vin"].to_numpy()
    terms, counted = usage_terms(rows, delivered_on.reindex(vins).to_numpy(
        dtype="datetime64[D]"), measures)
    frame = pd.DataFrame(terms, index=pd.Index(vins, name="vin"))[counted]
    return frame.groupby(level="vin", sort=False).sum()[list(usage_sum_names(measures))]


def trend_slopes(sums: pd.DataFrame, measure: RateMeasure, *,
                 min_days: int = MIN_FADE_DAYS) -> np.ndarray:
    """Slope per √day of a trend ``measure``'s value for each row of ``sums`` (NaN under
    ``min_days`` days)."""
    n, sx, sxx, sy, sxy = (sums[name].fillna(0).to_numpy(dtype=float)
                           for name in measure_sum_names(measure))
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = (n * sxy - sx * sy) / (n * sxx - sx * sx)
    return np.where(n >= min_days, slope, np.nan)


def measured_rates(sums: pd.DataFrame, measure: RateMeasure) -> MeasuredRates:
    """``measure`` per row of ``sums`` (:func:`usage_sum_names`, zero without telemetry).

    A trend: the fall of the value per √day (NaN under :data:`MIN_FADE_DAYS`), weighted
    by √days, usable from ``min_exposure`` days, with the share of the vehicle's days it
    is over. Events: Σvalue ÷ Σper, weighted by Σper, usable from ``min_exposure`` of it.
    """
    if measure.is_trend:
        days = sums[measure_sum_names(measure)[0]].fillna(0).to_numpy(dtype=float)
        rate = -trend_slopes(sums, measure)  # a fall is worse
        every = sums["days"].fillna(0).to_numpy(dtype=float)
        watched = np.divide(days, every, out=np.ones_like(days), where=every > 0)
        return MeasuredRates(measure, rate, np.sqrt(np.maximum(days, 1.0)),
                             np.isfinite(rate) & (days >= measure.min_exposure), watched)
    events, exposure = (sums[name].to_numpy(dtype=float) for name in measure_sum_names(measure))
    return MeasuredRates(measure, events / np.maximum(exposure, 1e-9), exposure,
                         exposure >= measure.min_exposure)


def miles_by_climate(store: Tables) -> ir.Table:
    """Miles driven per climate region, with the share driven on Autopilot.

    Columns: climate_region, vehicles, vehicle_days, miles, autopilot_miles, autopilot_share.
    """
    days = store.table("telemetry_daily")
    totals = days.group_by("climate_region").aggregate(
        vehicles=days.vin.nunique(),
        vehicle_days=days.count(),
        miles=days.miles.sum(),
        autopilot_miles=days.autopilot_miles.sum(),
    )
    share = ibis.ifelse(totals.miles > 0, totals.autopilot_miles / totals.miles, ibis.null())
    return totals.mutate(autopilot_share=share.cast("float64")).order_by("climate_region")
