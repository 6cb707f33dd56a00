"""The installed base: vehicles built and delivered before the scenario starts.

``Twin(..., fleet=N)`` puts N vehicles on the road at day 0. Each was built on the same
line over the :data:`BASE_YEARS` years before the start (build days uniform), delivered
3–10 days later, and has a full genealogy: ``vehicles``, ``lots``, ``vehicle_lots``,
``vehicle_stations`` and the :data:`BASE_READINGS` process readings. Everything is drawn
as whole arrays (no per-vehicle Python). The scenario's faults act on units built in
their windows, from day 0 on, so base units carry nominal latent state: background.

:func:`admit_base` puts them on the fleet's road on day 0, aged by their days on it.

>>> from gigaloop.twin.scenario import load_scenario
>>> from gigaloop.twin.clock import Clock
>>> sc = load_scenario()
>>> base = installed_base(500, sc, Clock(sc.scenario.start_date, sc.site.timezone),
...                       np.random.default_rng(0))
>>> len(base.units), base.tables["vehicle_stations"].num_rows, int(base.delivered.max()) < 0
(500, 8000, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gigaloop.twin import customers as cust
from gigaloop.twin.battery import KWH_PER_MILE, calendar_stress, cycle_stress_per_mile
from gigaloop.twin.climate import CLIMATE_TEMP_MEAN
from gigaloop.twin.clock import DAY_S, Clock, shift_of
from gigaloop.twin.fleet_rows import Rows, day_times
from gigaloop.twin.identity import MODEL, TRIMS, machine_of
from gigaloop.twin.layout import STATIONS
from gigaloop.twin.scenario import Scenario
from gigaloop.twin.tables import arrow_table
from gigaloop.twin.units import BuiltUnits

if TYPE_CHECKING:
    from gigaloop.twin.fleet import Fleet

#: Build dates spread uniformly over this many years before the start (no published
#: figure: a young EV fleet; J.D. Power's dependability study looks at 3-year-old cars).
BASE_YEARS = 4
#: Base serials start here, far above any serial the line reaches in a scenario.
BASE_SERIAL = 5_000_000_000
#: Process readings kept for base units: the traceable ones (weld current, pack module
#: resistance, trim torque). All 17 per unit would be 17 rows per vehicle on day 0.
BASE_READINGS = (("BW-010", "weld_current"), ("BW-020", "weld_current"),
                 ("BW-030", "weld_current"), ("BP-010", "module_resistance"),
                 ("GA-010", "torque"))
DELIVERY_DAYS = (3, 10)
TAKT_SHARE = 0.85           # a cycle is 85 % of the takt plus the station's dwell (plant.py)


@dataclass
class Base:
    """The base's units, genealogy tables, delivery days (< 0) and delivery seconds."""

    units: BuiltUnits
    tables: dict[str, pa.Table]
    delivered: np.ndarray
    delivered_s: np.ndarray


def installed_base(n: int, scenario: Scenario, clock: Clock, rng: np.random.Generator) -> Base:
    """``n`` vehicles built before day 0 on ``scenario``'s line, oldest first."""
    site = scenario.site
    span = BASE_YEARS * 365
    build_day = np.sort(rng.integers(-span, -DELIVERY_DAYS[1], n))
    per_day = max(n / span, 1.0)
    takt = DAY_S / per_day
    cycles = np.array([TAKT_SHARE * takt + st.dwell_s for st in STATIONS])
    launch = build_day * DAY_S + rng.uniform(0, DAY_S, n)
    times = launch[:, None] + np.concatenate([[0.0], np.cumsum(cycles)])[None, :]
    done_day = (times[:, -1] // DAY_S).astype(np.int64)
    delivered = done_day + rng.integers(DELIVERY_DAYS[0], DELIVERY_DAYS[1] + 1, n)
    delivered = np.minimum(delivered, -1)
    serials = BASE_SERIAL + np.arange(n, dtype=np.int64)
    trim = rng.choice(len(TRIMS), size=n, p=[t[2] for t in TRIMS])
    code = (site.site_id + "XX")[:2].upper()
    letters = pa.array([t[1] for t in TRIMS], pa.string()).take(trim)
    digits = pc.utf8_lpad(pc.cast(pa.array(serials), pa.string()), 10, "0")
    vins = pc.binary_join_element_wise("7GLY", letters, code + "", digits, "")
    lots, lot_rows, revision = _lots(scenario, n, per_day, clock, times[:, 0], build_day)
    shifts = shift_of(times[:, :-1])
    done_utc = clock.to_utc(times[:, -1])
    vin_np = np.asarray(vins.to_numpy(zero_copy_only=False), dtype=object)
    trims = np.array([t[0] for t in TRIMS], dtype=object)[trim]
    tables = {
        "lots": lot_rows,
        "vehicles": arrow_table("vehicles", {
            "vin": vins,
            "build_date": np.datetime64(clock.start, "D") + done_day.astype("timedelta64[D]"),
            "site_id": np.full(n, site.site_id, dtype=object),
            "line_id": np.full(n, site.line_id, dtype=object), "shift": shifts[:, -1],
            "model": np.full(n, MODEL, dtype=object), "trim": trims,
            "hardware_revision": revision, "design_revision": np.full(n, "D1", dtype=object),
            "event_time": done_utc}),
        "vehicle_lots": arrow_table("vehicle_lots", {
            "vin": pa.concat_arrays([vins] * len(lots)),
            "part_number": np.repeat(np.array(list(lots), dtype=object), n),
            "lot_id": pa.concat_arrays(list(lots.values())),
            "event_time": np.tile(done_utc, len(lots))}),
        "vehicle_stations": arrow_table("vehicle_stations", {
            "vin": pa.concat_arrays([vins] * len(STATIONS)),
            "station_id": np.repeat(np.array([s.station_id for s in STATIONS], dtype=object), n),
            "machine_id": np.concatenate([np.array(st.machine_ids, dtype=object)[
                machine_of(serials, st.station_id, len(st.machine_ids))] for st in STATIONS]),
            "shift": shifts.T.reshape(-1),
            "event_time": clock.to_utc(times[:, :-1].T.reshape(-1))}),
        "process_readings": _readings(vins, serials, times, clock, rng),
    }
    units = BuiltUnits(vin_np, build_day, np.full(n, MODEL, dtype=object), trims, revision)
    return Base(units, tables, delivered, rng.uniform(0, DAY_S, n))


def admit_base(fleet: Fleet, base: Base, rng: np.random.Generator, rows: Rows) -> None:
    """Put ``base`` on ``fleet``'s road on day 0, aged by its days on the road: drivers,
    consent and customers as at delivery, odometer and battery stress from the daily miles,
    residual component lives, and the customers' and subscriptions' rows (dated in the
    past)."""
    n = len(base.units)
    drivers = cust.draw_drivers(rng, np.zeros(n))
    consent = cust.draw_consent(rng, n)
    idx = fleet.admit(base.units, drivers, consent, rng.random(n), cust.customer_ids(rng, n),
                      base.delivered)
    age = -base.delivered.astype(np.float64)
    v = fleet.vehicles
    miles = v.view("mean_miles")[idx] * cust.DRIVE_PROBABILITY * age
    v.view("odometer")[idx] = miles
    climate_temp = CLIMATE_TEMP_MEAN[v.view("climate")[idx]]
    v.view("calendar_stress")[idx] = calendar_stress(climate_temp) * age
    per_mile, per_dc_kwh = cycle_stress_per_mile()
    v.view("cycle_stress")[idx] = miles * (per_mile + per_dc_kwh * KWH_PER_MILE
                                           * v.view("dcfc_share")[idx])
    for c in range(len(fleet.workshop.components)):
        fleet.workshop.renew(c, idx, 0, age_days=age)
    when = day_times(fleet.start_date, 0, base.delivered * DAY_S + base.delivered_s)
    fleet.tables.customers_of(rows, idx, base.delivered, when)
    events = fleet.subscriptions.deliver(rng, idx, base.delivered)
    fleet.tables.subscriptions(rows, events, when[events.idx - idx[0]])


def _lots(scenario: Scenario, n: int, per_day: float, clock: Clock, first_s: np.ndarray,
          build_day: np.ndarray) -> tuple[dict[str, pa.Array], pa.Table, np.ndarray]:
    """Each part's lots in build order (suppliers by their shares), ids ``…-B00001``."""
    lots: dict[str, pa.Array] = {}
    rows: dict[str, Any] = {k: [] for k in ("lot_id", "part_number", "supplier_id",
                                              "manufactured_on", "quantity", "event_time")}
    revision = np.full(n, "HW-1", dtype=object)
    for part in scenario.parts:
        quantity = max(1, round(part.lot_size_days * per_day))
        count = -(-n // quantity)
        suppliers = list(part.shares)
        cum = np.cumsum([part.shares[s] for s in suppliers])
        # lot j goes to the supplier whose cumulative share first exceeds its golden-ratio
        # position: a deterministic low-discrepancy mix with the suppliers' shares
        pick = np.searchsorted(cum / cum[-1], (np.arange(count) * 0.6180339887) % 1.0,
                               side="right")
        names = np.array(suppliers, dtype=object)[pick]
        ids = np.array([f"{part.lot_prefix}-{s}-B{j + 1:05d}" for j, s in enumerate(names)],
                       dtype=object)
        which = np.arange(n) // quantity
        lots[part.part_number] = pa.array(ids, pa.string()).take(which)
        first = np.searchsorted(which, np.arange(count))
        rows["lot_id"] += ids.tolist()
        rows["part_number"] += [part.part_number] * count
        rows["supplier_id"] += names.tolist()
        rows["manufactured_on"] += [clock.start + timedelta(days=int(d) - 7)
                                    for d in build_day[first]]
        rows["quantity"] += [quantity] * count
        rows["event_time"].append(clock.to_utc(first_s[first]))
        if part.revisions:
            revision = np.array([part.revisions[s] for s in part.shares],
                                dtype=object)[pick][which]
    rows["event_time"] = np.concatenate(rows["event_time"])
    return lots, arrow_table("lots", rows), revision


def _readings(vins: pa.Array, serials: np.ndarray, times: np.ndarray, clock: Clock,
              rng: np.random.Generator) -> pa.Table:
    """:data:`BASE_READINGS` of every base unit: nominal process, gauge noise."""
    n = len(vins)
    index = {st.station_id: k for k, st in enumerate(STATIONS)}
    cols: dict[str, list] = {k: [] for k in ("station_id", "machine_id", "parameter", "value",
                                            "unit", "setpoint", "event_time")}
    for station_id, name in BASE_READINGS:
        k = index[station_id]
        st = STATIONS[k]
        p = st.parameter(name)
        true = p.nominal + p.sigma * rng.standard_normal(n)
        cols["value"].append(true + p.gauge_sigma * rng.standard_normal(n))
        cols["machine_id"].append(np.array(st.machine_ids, dtype=object)[
            machine_of(serials, station_id, len(st.machine_ids))])
        for key, value in (("station_id", station_id), ("parameter", name), ("unit", p.unit),
                           ("setpoint", p.nominal)):
            cols[key].append(np.full(n, value, dtype=object if key != "setpoint" else float))
        cols["event_time"].append(clock.to_utc(times[:, k]))
    columns = {k: np.concatenate(v) for k, v in cols.items()}
    columns["vin"] = pa.concat_arrays([vins] * len(BASE_READINGS))
    return arrow_table("process_readings", columns)
