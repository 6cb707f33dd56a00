"""The vehicles in service as of a day, with everything that built them, as arrays.

Root cause analysis works on one row per delivered vehicle: its genealogy
attributes as integer level codes (lot, supplier, machine, shift, revision, build
week, binned process readings), its usage covariates (climate, miles per day, DC
fast charging), each declared rate measure (:data:`gigaloop.schema.RATE_MEASURES`) as
rate, weight and whether usable, and, per component, days in service to its first failure
or to censoring — and to the first time its owner reported trouble with it: a complaint,
or the claim when none came before (mode ``complaint:<component>``, for every component the
claims name; a failure is the loudest complaint, and a mode without the claims would
throw away the strongest signal it has). Everything comes from the
store (any Ibis engine) as of ``as_of``, through
:class:`~gigaloop.loop.vehicle_records.VehicleRecords`, which reads only new rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from gigaloop import ml
from gigaloop.errors import SchemaError
from gigaloop.fleet.usage import MeasuredRates, measured_rates
from gigaloop.loop.finding import COMPLAINT_PREFIX
from gigaloop.loop.vehicle_records import NEVER, VEHICLE_ATTRIBUTES, VehicleRecords
from gigaloop.store import Tables

#: Process readings are binned at these quantiles: deciles, with each end decile split at
#: its outer 2 %. A dose-response beyond a limit harms the extreme units most (a quadratic
#: dose puts about 85 % of a decile's excess in its outer fifth), so the extreme bin holds
#: most of the excess in a fifth of the units; a step beyond the limit still shows in the
#: rest of the end decile.
READING_QUANTILES = (0.0, 0.02, *np.round(np.linspace(0.1, 0.9, 9), 2).tolist(), 0.98, 1.0)
#: Root cause tests the bins of a reading lying within this share of units of either end (the
#: outer two deciles); a range is reported only within :data:`END_DEPTH` (the end decile).
TESTED_DEPTH = 0.15
END_DEPTH = 0.05
MIN_READINGS = 50  # a reading is binned once this many units have it
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

    @property
    def family(self) -> str:
        """The attribute its tests are corrected with: a build window's
        (``"<attribute>@<window>"``, :mod:`gigaloop.loop.windows`) is the attribute's own."""
        return self.name.split("@", 1)[0]

    def names(self, level_code: int) -> dict[str, Any]:
        """What a finding on ``level_code`` of this attribute points at."""
        level = self.levels[level_code]
        if self.kind in ("lot", "supplier"):
            return {self.kind: level, "part": self.meta["part"]}
        if self.kind == "machine":
            return {"station": self.meta["station"], "machine": level}
        if self.kind == "inspection":
            return {"station": self.meta["station"], "inspection": self.meta["inspection"],
                    "verdict": level}
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
    usage: pd.DataFrame  # telemetry_days, miles_per_day, dc_kwh_per_day, … in_service_days
    attributes: list[Attribute]
    #: failure mode (a component, or ``complaint:<component>``) → days in service to its
    #: first event (nan = none)
    first_failure_days: dict[str, np.ndarray]
    readings: dict[tuple[str, str], np.ndarray]  # (station, parameter) → value (nan = none)
    station_machines: dict[str, np.ndarray]  # station → machine id per vehicle (None = none)
    rates: dict[str, MeasuredRates] = field(default_factory=dict)  # rate mode → per vehicle

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
    """The vehicles of ``records`` delivered by ``as_of`` and watched since
    (:meth:`~gigaloop.loop.vehicle_records.VehicleRecords.watched_by`), as aligned arrays
    (by VIN)."""
    chosen = records.watched_by(as_of)
    vins = records.vin[chosen]
    index = pd.Index(vins, name="vin")
    delivered = records.delivered_on[chosen]
    in_service = (np.datetime64(as_of, "D") - delivered).astype(float)

    attributes = [_categorical(kind, records.codes[kind][chosen], records.levels[kind].labels)
                  for kind in VEHICLE_ATTRIBUTES]
    for part in sorted(records.lots):
        for kind, codes, levels in zip(("lot", "supplier"), records.lots[part],
                                       (records.lot_levels, records.supplier_levels),
                                       strict=True):
            attributes.append(_categorical(kind, codes[chosen], levels.labels,
                                           f"{kind}:{part}", part=part))
    machine_codes, station_machines = {}, {}
    machine_ids = np.array([*records.machine_levels.labels, None], dtype=object)
    for station in sorted(records.machines):
        codes = records.machines[station][chosen]
        if (codes >= 0).any():
            machine_codes[station], station_machines[station] = codes, machine_ids[codes]
            attributes.append(_categorical("machine", codes, records.machine_levels.labels,
                                           f"machine:{station}", station=station))
    for station, inspection in sorted(records.inspections):  # a verdict: passed / failed
        attributes.append(_categorical(
            "inspection", records.inspections[station, inspection][chosen],
            ["passed", "failed"], f"inspection:{station}:{inspection}", station=station,
            inspection=inspection))
    readings = {key: records.readings[key][chosen] for key in sorted(records.readings)
                if records.read[key][chosen].any()}
    attributes += reading_attributes(readings)
    build_date = records.build_date[chosen]
    attributes += _drift_attributes(readings, machine_codes, machine_ids, build_date)
    sums = pd.DataFrame(records.usage[chosen], columns=list(records.usage_sums))
    first_failure_days = {component: _days_to(records.first_failure[component][chosen],
                                              delivered)
                          for component in sorted(records.first_failure)}
    first_failure_days.update({  # the first complaint, or the claim when none came first
        COMPLAINT_PREFIX + component: np.fmin(first_failure_days[component], _days_to(
            records.first_complaint[component][chosen], delivered))
        for component in sorted(records.first_failure) if component in records.first_complaint})
    both = sorted(set(first_failure_days) & {m.mode for m in records.measures})
    if both:
        raise SchemaError(f"failure modes both a component and a rate measure: {both}",
                          table="component_failures")

    return Population(
        as_of=as_of,
        vin=vins,
        build_date=build_date,
        delivered_on=delivered,
        in_service_days=in_service,
        climate=records.climate[chosen],
        usage=_usage(sums, index, in_service),
        attributes=[a for a in attributes if len(a.levels) > 1],
        first_failure_days=first_failure_days,
        readings=readings,
        station_machines=station_machines,
        rates={m.mode: measured_rates(sums, m) for m in records.measures},
    )


def _categorical(kind: str, codes: np.ndarray, labels: list[Any], name: str | None = None,
                 **meta: Any) -> Attribute:
    """The attribute of level ``codes`` (−1: unknown) of ``labels``, recoded to the levels
    present, in sorted order."""
    present = sorted(np.flatnonzero(np.bincount(codes[codes >= 0], minlength=len(labels))),
                     key=labels.__getitem__)
    recode = np.full(len(labels) + 1, -1, dtype=np.int32)  # the last: unknown stays −1
    recode[present] = np.arange(len(present))
    return Attribute(name or kind, kind, recode[codes], [labels[c] for c in present], meta)


def reading_attributes(readings: dict[tuple[str, str], np.ndarray]) -> list[Attribute]:
    """Each process reading binned at :data:`READING_QUANTILES` (where it has enough
    distinct values), with each bin's ``depth``: the share of known units beyond it on its
    nearer side (0 for an end bin; tied values can merge bins, so depth, not position,
    says which bins are tails).

    >>> values = np.random.default_rng(0).normal(size=1_000)
    >>> attribute, = reading_attributes({("ST", "p"): values})
    >>> len(attribute.levels), attribute.meta["depth"][[0, 1, 2, -2, -1]].round(2).tolist()
    (12, [0.0, 0.02, 0.1, 0.02, 0.0])
    """
    attributes = []
    for (station, parameter), values in readings.items():
        known = values[~np.isnan(values)]
        if len(known) < MIN_READINGS or np.ptp(known) == 0:
            continue
        edges = np.unique(np.quantile(known, READING_QUANTILES))
        codes = np.searchsorted(edges[1:-1], values, side="right").astype(np.int32)
        codes[np.isnan(values)] = -1
        levels = list(range(len(edges) - 1))
        counts = np.bincount(codes[codes >= 0], minlength=len(levels))
        below = np.cumsum(counts) - counts
        depth = np.minimum(below, len(known) - below - counts) / len(known)
        attributes.append(Attribute(f"reading:{station}:{parameter}", "reading", codes, levels,
                                    {"station": station, "parameter": parameter,
                                     "edges": edges, "depth": depth}))
    return attributes


def _drift_attributes(readings: dict[tuple[str, str], np.ndarray],
                      machine_codes: dict[str, np.ndarray], machine_ids: np.ndarray,
                      build_date: np.ndarray) -> list[Attribute]:
    """Units a machine built while one of its process readings had shifted.

    For every machine and parameter, the build-day window in which the daily mean moved
    most (Gaussian epidemic change point) becomes a two-level attribute when the shift is
    at least :data:`DRIFT_MIN_SIGMA` standard errors — a process change a control chart
    would have flagged. Whether the vehicles built inside it fail is for the scan to say.
    ``machine_codes``: station → code of its machine per vehicle (−1: none), naming
    ``machine_ids``; the daily sums of all a station's machines come from one bincount.
    """
    if not len(build_date):
        return []
    day0 = build_date.min()
    day = (build_date - day0).astype(np.int64)
    days = int(day.max()) + 1
    if days < 2 * DRIFT_MIN_DAYS:
        return []
    out = []
    for (station, parameter), values in readings.items():
        codes = machine_codes.get(station)
        if codes is None:
            continue
        read = (codes >= 0) & np.isfinite(values)
        cell = codes[read] * days + day[read]
        size = (int(codes.max()) + 1) * days
        counts = np.bincount(cell, minlength=size).reshape(-1, days)
        totals = np.bincount(cell, values[read], size).reshape(-1, days)
        squares = np.bincount(cell, values[read] ** 2, size).reshape(-1, days)
        for machine in pd.unique(codes[codes >= 0]):  # in order of first appearance
            count, total, square = counts[machine], totals[machine], squares[machine]
            present = np.flatnonzero(count >= 3)
            if len(present) < 2 * DRIFT_MIN_DAYS:
                continue
            mean = total[present] / count[present]
            spread = np.sqrt(max(square[present].sum() / count[present].sum()
                                 - (total[present].sum() / count[present].sum()) ** 2, 1e-12))
            window = ml.mean_shift_window(mean, count[present], min_len=DRIFT_MIN_DAYS,
                                          max_len=min(90, len(present) // 2), n_sim=1)
            lo, hi = widen_window(mean, count[present], window.start, window.stop, spread)
            start, stop = int(present[lo]), int(present[hi - 1]) + 1
            gap = abs(window.inside - window.outside)
            shift = gap / (spread / np.sqrt(count[start:stop].sum()))
            if shift < DRIFT_MIN_SIGMA or gap < 0.5 * spread:
                continue
            mine = read & (codes == machine)
            inside = mine & (day >= start) & (day < stop)
            first = pd.Timestamp(day0).date()
            dates = [(first + pd.Timedelta(days=start)).isoformat(),
                     (first + pd.Timedelta(days=stop - 1)).isoformat()]
            name = machine_ids[machine]
            out.append(Attribute(f"drift:{name}:{parameter}", "drift",
                                 np.where(inside, 1, np.where(mine, 0, -1)).astype(np.int32),
                                 ["outside", "inside"], {"station": station, "machine": name,
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
    """Per-vehicle usage from ``sums`` (:func:`~gigaloop.fleet.usage.usage_sum_names`,
    zero without telemetry)."""
    days = sums["days"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        per_day = {k: sums[k].to_numpy() / days for k in ("miles", "dc_kwh", "temp")}
    return pd.DataFrame({
        "telemetry_days": days,
        "miles_per_day": per_day["miles"],
        "dc_kwh_per_day": per_day["dc_kwh"],
        "clear_disengagements": sums["clear_dis"].to_numpy(),
        "autopilot_miles": sums["ap_miles"].to_numpy(),
        "ambient_temp_c": per_day["temp"],
        "in_service_days": in_service,
    }, index=index)


def _days_to(moment: np.ndarray, delivered: np.ndarray) -> np.ndarray:
    """Days from delivery to a first failure at ``moment`` (µs; NaN where none)."""
    failed = moment != NEVER
    day = np.where(failed, moment, 0).astype("datetime64[us]").astype("datetime64[D]")
    return np.where(failed, (day - delivered).astype(float), np.nan)
