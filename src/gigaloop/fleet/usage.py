"""Per-vehicle usage and battery fade from daily telemetry, as sums that add up.

Battery state of health falls with the square root of time in service (calendar ageing
of lithium-ion cells), so a vehicle's fade is the least-squares slope of SoH against
x = √(days since delivery + 1). The slope needs only five sums per vehicle — n, Σx, Σy,
Σx², Σxy — so telemetry read a week at a time adds to what was kept, and the result
equals a fit on all rows (up to the order of floating-point sums).

>>> import numpy as np, pandas as pd
>>> x = np.sqrt(np.arange(1, 101))
>>> soh = 100 - 0.3 * x
>>> sums = pd.DataFrame({"days": [100], "sx": [x.sum()], "sy": [soh.sum()],
...                      "sxx": [(x * x).sum()], "sxy": [(x * soh).sum()]})
>>> fade_slopes(sums).round(6).tolist()
[-0.3]
"""

from __future__ import annotations

from typing import Any, Protocol

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

#: The per-vehicle sums :func:`usage_sums` returns (besides ``vin``); all add up.
USAGE_SUMS = ("days", "miles", "dc_kwh", "rain_miles", "rain_dis", "clear_dis", "ap_miles",
              "temp", "sx", "sy", "sxx", "sxy")
#: Fewer telemetry days than this leave the fade undefined (NaN).
MIN_FADE_DAYS = 14


class Tables(Protocol):
    """Where queries get their tables: a store or a view of one."""

    def table(self, name: str) -> ir.Table: ...


def usage_sums(telemetry: ir.Table, customers: ir.Table,
               by: tuple[str, ...] = ()) -> ir.Table:
    """Sums per vehicle (and per ``by`` columns of ``telemetry``) of the given telemetry
    rows: columns ``vin``, ``by`` and :data:`USAGE_SUMS`.

    ``customers`` gives each vehicle's delivery day (x counts days since it).
    """
    delivered = customers.select("vin", "delivered_on")
    t = telemetry.join(delivered, "vin")
    x = (t.day.delta(t.delivered_on, unit="day").cast("float64") + 1.0).sqrt()
    t = t.mutate(x=x)
    return t.group_by(["vin", *by]).aggregate(
        days=t.count(), miles=t.miles.sum(), dc_kwh=t.dc_fast_charge_kwh.sum(),
        rain_miles=t.rain_miles.sum(), rain_dis=t.disengagements_rain.sum().cast("float64"),
        clear_dis=t.disengagements_clear.sum().cast("float64"), ap_miles=t.autopilot_miles.sum(),
        temp=t.ambient_temp_c.sum(), sx=t.x.sum(), sy=t.battery_soh.sum(),
        sxx=(t.x * t.x).sum(), sxy=(t.x * t.battery_soh).sum(),
    )


#: Telemetry columns the sums are made of.
TELEMETRY_COLUMNS = ("vin", "day", "miles", "dc_fast_charge_kwh", "rain_miles",
                     "disengagements_rain", "disengagements_clear", "autopilot_miles",
                     "ambient_temp_c", "battery_soh")


def usage_terms(rows: Any, delivered: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Each telemetry row's term of every :data:`USAGE_SUMS` (NaN: a missing value, adds
    nothing) and whether the row counts: ``rows`` has :data:`TELEMETRY_COLUMNS` (Arrow or
    pandas), ``delivered`` each row's delivery day (NaT: not delivered, the row counts not).
    """
    def column(name: str) -> np.ndarray:
        return np.asarray(rows[name], dtype=float)

    days = (np.asarray(rows["day"]).astype("datetime64[D]") - delivered) / np.timedelta64(1, "D")
    x = np.sqrt(days + 1.0)
    soh = column("battery_soh")
    terms = {"days": np.ones_like(x), "miles": column("miles"),
             "dc_kwh": column("dc_fast_charge_kwh"), "rain_miles": column("rain_miles"),
             "rain_dis": column("disengagements_rain"),
             "clear_dis": column("disengagements_clear"), "ap_miles": column("autopilot_miles"),
             "temp": column("ambient_temp_c"), "sx": x, "sy": soh, "sxx": x * x, "sxy": x * soh}
    return terms, np.isfinite(x)


def usage_sums_of_rows(rows: pd.DataFrame, delivered_on: pd.Series) -> pd.DataFrame:
    """:func:`usage_sums` of telemetry rows already in memory (:data:`TELEMETRY_COLUMNS`),
    indexed by ``vin``; ``delivered_on`` maps a VIN to its delivery day. The same sums
    (tested equal to the engine's) as :class:`gigaloop.loop.vehicle_records.VehicleRecords`
    keeps.
    """
    vins = rows["vin"].to_numpy()
    terms, counted = usage_terms(rows, delivered_on.reindex(vins).to_numpy(
        dtype="datetime64[D]"))
    frame = pd.DataFrame(terms, index=pd.Index(vins, name="vin"))[counted]
    return frame.groupby(level="vin", sort=False).sum()[list(USAGE_SUMS)]


def fade_slopes(sums: pd.DataFrame, *, min_days: int = MIN_FADE_DAYS) -> np.ndarray:
    """SoH slope per √day for each row of ``sums`` (NaN under ``min_days`` days)."""
    n = sums["days"].fillna(0).to_numpy(dtype=float)
    sx, sy = sums["sx"].to_numpy(dtype=float), sums["sy"].to_numpy(dtype=float)
    sxx, sxy = sums["sxx"].to_numpy(dtype=float), sums["sxy"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = (n * sxy - sx * sy) / (n * sxx - sx * sx)
    return np.where(n >= min_days, slope, np.nan)


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
