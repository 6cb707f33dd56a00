"""The vehicles in service as of a day, with everything that built them, as arrays.

Root cause analysis works on one row per delivered vehicle: its genealogy
attributes as integer level codes (lot, supplier, machine, shift, revision, build
week, binned process readings), its usage covariates (climate, miles per day, DC
fast charging), and, per component, days in service to its first failure or to
censoring. Everything comes from the store (any Ibis engine) as of ``as_of``, through
:class:`~gigaloop.loop.vehicle_records.VehicleRecords`, which reads only new rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from gigaloop import ml
from gigaloop.fleet.usage import fade_slopes
from gigaloop.loop.kpis import Tables
from gigaloop.loop.vehicle_records import VEHICLE_ATTRIBUTES, VehicleRecords

READING_BINS = 10  # process readings are binned into deciles
DRIFT_MIN_DAYS = 3  # a drift window spans at least this many build days
DRIFT_MIN_SIGMA = 8.0  # and moves the machine's mean by this many standard errors


@dataclass
class Attribute:
    """One genealogy attribute: a level code per vehicle (−1 = unknown) and its labels."""

    name: str  # e.g. "lot:BAT-CELL-4680", "reading:BW-030:weld_current"
    kind: str  # lot | supplier | machine | reading | shift | hardware_revision | …
    codes: np.ndarray
    levels: list[Any]
    meta: dict[str, Any] = field(default_factory=dict)

    def names(self, level_code: int) -> dict[str, Any]:
        """What a finding on ``level_code`` of this attribute points at."""
        level = self.levels[level_code]
        if self.kind in ("lot", "supplier"):
            return {self.kind: level, "part": self.meta["part"]}
        if self.kind == "machine":
            return {"station": self.meta["station"], "machine": level}
        if self.kind == "drift":
            return {"station": self.meta["station"], "machine": self.meta["machine"],
                    "parameter": self.meta["parameter"], "window": self.meta["window"]}
        if self.kind == "reading":
            edges = self.meta["edges"]
            return {"station": self.meta["station"], "parameter": self.meta["parameter"],
                    "range": [round(float(edges[level_code]), 4),
                              round(float(edges[level_code + 1]), 4)]}
        return {self.kind: level}


@dataclass
class Population:
    """Delivered vehicles as of ``as_of``; arrays aligned with ``vin``."""

    as_of: date
    vin: np.ndarray
    build_date: np.ndarray  # datetime64[D]
    delivered_on: np.ndarray  # datetime64[D]
    in_service_days: np.ndarray  # float, as of ``as_of``
    climate: np.ndarray  # str
    usage: pd.DataFrame  # miles_per_day, dc_share, rain_miles, rain_disengagements, soh fit
    attributes: list[Attribute]
    first_failure_days: dict[str, np.ndarray]  # component → days in service (nan = none)
    readings: dict[tuple[str, str], np.ndarray]  # (station, parameter) → value (nan = none)
    station_machines: dict[str, np.ndarray]  # station → machine id per vehicle (None = none)

    def __len__(self) -> int:
        return len(self.vin)

    def survival(self, component: str) -> tuple[np.ndarray, np.ndarray]:
        """(duration days, event) for ``component``: first failure, else censored at as_of."""
        failed = self.first_failure_days.get(component, np.full(len(self), np.nan))
        event = ~np.isnan(failed)
        duration = np.where(event, failed, self.in_service_days)
        return np.maximum(duration, 0.0), event


def build_population(view: Tables, as_of: date,
                     records: VehicleRecords | None = None) -> Population:
    """The population as of ``as_of`` from ``view`` (a store or a store as of a day).

    Given the ``records`` of earlier calls, only rows ingested since are read.
    """
    records = records if records is not None else VehicleRecords()
    records.update(view)
    return assemble_population(records, as_of)


def assemble_population(records: VehicleRecords, as_of: date) -> Population:
    """The vehicles of ``records`` delivered by ``as_of``, as aligned arrays."""
    vehicles = records.vehicles
    delivered_on = vehicles["delivered_on"].to_numpy(dtype="datetime64[D]")
    chosen = np.flatnonzero(delivered_on <= np.datetime64(as_of, "D"))  # NaT: not delivered
    chosen = chosen[np.argsort(vehicles.index.to_numpy()[chosen], kind="stable")]  # by VIN
    frame = vehicles.iloc[chosen]
    vins = frame.index.to_numpy(dtype=object)
    index = pd.Index(vins, name="vin")
    place = np.full(len(vehicles), -1, dtype=np.int64)  # vid → position in the population
    place[chosen] = np.arange(len(chosen))
    delivered = delivered_on[chosen]
    in_service = (np.datetime64(as_of, "D") - delivered).astype(float)

    attributes = [_categorical(kind, frame[kind]) for kind in VEHICLE_ATTRIBUTES]
    attributes += _lot_attributes(_placed(place, records.lots), len(index))
    machine_attrs, station_machines = _machine_attributes(_placed(place, records.machines),
                                                          len(index))
    attributes += machine_attrs
    reading_attrs, readings = _reading_attributes(
        _placed(place, records.readings.astype({"value": float})), len(index))
    attributes += reading_attrs
    build_date = frame["build_date"].to_numpy(dtype="datetime64[D]")
    attributes += _drift_attributes(readings, station_machines, build_date)

    return Population(
        as_of=as_of,
        vin=vins,
        build_date=build_date,
        delivered_on=delivered,
        in_service_days=in_service,
        climate=frame["climate_region"].to_numpy(dtype=object),
        usage=_usage(records.usage, index, in_service),
        attributes=[a for a in attributes if len(a.levels) > 1],
        first_failure_days=_first_failures(records.first_failures, index, delivered),
        readings=readings,
        station_machines=station_machines,
    )


def _categorical(kind: str, values: pd.Series, name: str | None = None,
                 **meta: Any) -> Attribute:
    codes, levels = pd.factorize(values, sort=True)
    return Attribute(name or kind, kind, codes.astype(np.int32), list(levels), meta)


def _placed(place: np.ndarray, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame``'s rows of vehicles in the population, with their position there (``pos``);
    ``place`` maps a record's ``vid`` to it (−1: not in the population)."""
    pos = place[frame["vid"].to_numpy(dtype=np.int64)]
    return frame.assign(pos=pos)[pos >= 0]


def _spread(n: int, rows: pd.DataFrame, column: str, fill: Any = None) -> np.ndarray:
    """One value per vehicle: ``rows[column]`` put at ``rows.pos`` (``fill`` elsewhere)."""
    values = rows[column].to_numpy()
    out = np.full(n, fill, dtype=values.dtype if fill is not None else object)
    out[rows["pos"].to_numpy()] = values
    return out


def _lot_attributes(placed: pd.DataFrame, n: int) -> list[Attribute]:
    out = []
    for part, rows in placed.groupby("part_number"):
        for kind, column in (("lot", "lot_id"), ("supplier", "supplier_id")):
            out.append(_categorical(kind, pd.Series(_spread(n, rows, column)),
                                    f"{kind}:{part}", part=part))
    return out


def _machine_attributes(
    placed: pd.DataFrame, n: int
) -> tuple[list[Attribute], dict[str, np.ndarray]]:
    """Machine per station as an attribute (where a station has several), and per vehicle."""
    attributes, machines = [], {}
    for station, rows in placed.groupby("station_id"):
        per_vehicle = _spread(n, rows, "machine_id")
        machines[str(station)] = per_vehicle
        if rows["machine_id"].nunique() > 1:
            attributes.append(_categorical("machine", pd.Series(per_vehicle),
                                           f"machine:{station}", station=station))
    return attributes, machines


def _reading_attributes(
    placed: pd.DataFrame, n: int
) -> tuple[list[Attribute], dict[tuple[str, str], np.ndarray]]:
    attributes, readings = [], {}
    for (station, parameter), rows in placed.groupby(["station_id", "parameter"]):
        values = _spread(n, rows, "value", np.nan)
        readings[(station, parameter)] = values
        known = values[~np.isnan(values)]
        if len(known) < READING_BINS * 5 or np.ptp(known) == 0:
            continue
        edges = np.unique(np.quantile(known, np.linspace(0, 1, READING_BINS + 1)))
        codes = np.searchsorted(edges[1:-1], values, side="right").astype(np.int32)
        codes[np.isnan(values)] = -1
        levels = list(range(len(edges) - 1))
        attributes.append(Attribute(f"reading:{station}:{parameter}", "reading", codes, levels,
                                    {"station": station, "parameter": parameter,
                                     "edges": edges}))
    return attributes, readings


def _drift_attributes(readings: dict[tuple[str, str], np.ndarray],
                      station_machines: dict[str, np.ndarray],
                      build_date: np.ndarray) -> list[Attribute]:
    """Units a machine built while one of its process readings had shifted.

    For every machine and parameter, the build-day window in which the daily mean moved
    most (Gaussian epidemic change point) becomes a two-level attribute when the shift is
    at least :data:`DRIFT_MIN_SIGMA` standard errors — a process change a control chart
    would have flagged. Whether the vehicles built inside it fail is for the scan to say.
    """
    if not len(build_date):
        return []
    day0 = build_date.min()
    day = (build_date - day0).astype(np.int64)
    days = int(day.max()) + 1
    out = []
    for (station, parameter), values in readings.items():
        machines = station_machines.get(station)
        if machines is None or days < 2 * DRIFT_MIN_DAYS:
            continue
        for machine in pd.unique(machines[pd.notna(machines)]):
            mine = (machines == machine) & np.isfinite(values)
            count = np.bincount(day[mine], minlength=days)
            present = np.flatnonzero(count >= 3)
            if len(present) < 2 * DRIFT_MIN_DAYS:
                continue
            total = np.bincount(day[mine], values[mine], minlength=days)
            square = np.bincount(day[mine], values[mine] ** 2, minlength=days)
            mean = total[present] / count[present]
            spread = np.sqrt(max(square[present].sum() / count[present].sum()
                                 - (total[present].sum() / count[present].sum()) ** 2, 1e-12))
            window = ml.mean_shift_window(mean, count[present], min_len=DRIFT_MIN_DAYS,
                                          max_len=min(90, len(present) // 2), n_sim=1)
            lo, hi = widen_window(mean, count[present], window.start, window.stop, spread)
            start, stop = int(present[lo]), int(present[hi - 1]) + 1
            inside = mine & (day >= start) & (day < stop)
            shift = abs(window.inside - window.outside) / (spread / np.sqrt(inside.sum()))
            if shift < DRIFT_MIN_SIGMA or abs(window.inside - window.outside) < 0.5 * spread:
                continue
            first = pd.Timestamp(day0).date()
            dates = [(first + pd.Timedelta(days=start)).isoformat(),
                     (first + pd.Timedelta(days=stop - 1)).isoformat()]
            codes = np.where(inside, 1, np.where(mine, 0, -1)).astype(np.int32)
            out.append(Attribute(f"drift:{machine}:{parameter}", "drift", codes,
                                 ["outside", "inside"], {"station": station,
                                                         "machine": machine,
                                                         "parameter": parameter,
                                                         "window": dates}))
    return out


def widen_window(mean: np.ndarray, count: np.ndarray, start: int, stop: int,
                 spread: float, *, z: float = 3.0) -> tuple[int, int]:
    """Grow [start, stop) over neighbouring days still shifted the same way by ≥ ``z`` SE.

    The best-scoring window of a ramp leaves out its gentle beginning; a drift starts where
    the daily mean first leaves its usual level, so the edges move out while it has.

    >>> mean = np.r_[np.zeros(10), 0.2, 0.4, 0.6, 1.0, 1.0, 1.0, np.zeros(10)]
    >>> widen_window(mean, np.full(26, 100), 13, 16, spread=1.0)
    (11, 16)
    """
    outside = np.r_[mean[:start], mean[stop:]]
    level = float(np.median(outside)) if outside.size else 0.0
    direction = np.sign(mean[start:stop].mean() - level)
    shifted = direction * (mean - level) >= z * spread / np.sqrt(np.maximum(count, 1))
    while start > 0 and shifted[start - 1]:
        start -= 1
    while stop < len(mean) and shifted[stop]:
        stop += 1
    return start, stop


def _usage(sums: pd.DataFrame, index: pd.Index, in_service: np.ndarray) -> pd.DataFrame:
    """Per-vehicle usage and the battery-fade fit (:func:`gigaloop.fleet.fade_slopes`)."""
    agg = sums.reindex(index)
    n = agg["days"].fillna(0).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        per_day = {k: (agg[k] / agg["days"]).to_numpy() for k in ("miles", "dc_kwh", "temp")}
    return pd.DataFrame({
        "telemetry_days": n,
        "miles_per_day": per_day["miles"],
        "dc_kwh_per_day": per_day["dc_kwh"],
        "rain_miles": agg["rain_miles"].fillna(0).to_numpy(),
        "rain_disengagements": agg["rain_dis"].fillna(0).to_numpy(),
        "clear_disengagements": agg["clear_dis"].fillna(0).to_numpy(),
        "autopilot_miles": agg["ap_miles"].fillna(0).to_numpy(),
        "ambient_temp_c": per_day["temp"],
        "soh_slope_per_sqrt_day": fade_slopes(agg),
        "in_service_days": in_service,
    }, index=index)


def _first_failures(first: pd.Series, index: pd.Index,
                    delivered: np.ndarray) -> dict[str, np.ndarray]:
    out = {}
    position = pd.Series(np.arange(len(index)), index=index)
    if first.empty:
        return out
    rows = first.rename("first").reset_index()
    for component, group in rows.groupby("component"):
        days = np.full(len(index), np.nan)
        where = position.reindex(group["vin"].to_numpy()).to_numpy()
        ok = ~np.isnan(where)
        idx = where[ok].astype(int)
        when = group["first"].to_numpy(dtype="datetime64[D]")[ok]
        days[idx] = (when - delivered[idx]).astype(float)
        out[str(component)] = days
    return out
