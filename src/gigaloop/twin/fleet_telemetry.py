"""The fleet day's ``telemetry_daily`` rows: one per consenting vehicle, a million a day at
the largest scale, so built without per-row Python objects and without rebuilding text.

Consent is given at delivery and a vehicle's VIN and climate region never change, so
:class:`TelemetryRows` keeps those two Arrow columns for the consenting vehicles and only
appends the newly delivered ones; the ``software_version`` column is rebuilt on the days a
consenting vehicle's version changed (a rollout, a camera swap), and reused otherwise. The
numeric columns are copied (the float32 ones widened to the schema's float64) into buffers
of Arrow's memory pool by the threads that drive the fleet, each block just after it drove.

>>> from datetime import date
>>> from gigaloop.twin.fleet import Fleet
>>> from gigaloop.twin.units import demo_units
>>> fleet = Fleet(start_date=date(2025, 1, 6), rng=np.random.default_rng(0), units_per_day=50)
>>> fleet.add_built(demo_units(50, build_day=-10))
>>> day = fleet.step(0)["telemetry_daily"]
>>> day.num_rows == int(fleet.info.view("consent_telemetry").sum())
True
>>> text = [fleet.step(d)["telemetry_daily"].column("vin").chunk(0).buffers()[2] for d in (1, 2)]
>>> text[0].address == text[1].address   # the same VINs' text, kept, not rebuilt
True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from gigaloop.schema.fleet import CLIMATES
from gigaloop.twin.fleet_rows import Rows, day_times
from gigaloop.twin.precursor_signals import SIGNAL_COMPONENTS
from gigaloop.twin.telemetry import COUNT_OUTPUTS, FLOAT_OUTPUTS

if TYPE_CHECKING:
    from gigaloop.twin.fleet import Fleet

CLIMATE_NAMES = pa.array(CLIMATES, pa.string())
DAY_S = 86_400.0
#: The numeric columns, copied from the day's outputs as each block is driven.
NUMERIC = {**{k: pa.float64() for k in FLOAT_OUTPUTS}, **{k: pa.int64() for k in COUNT_OUTPUTS},
           "odometer_miles": pa.float64(), **{k: pa.float64() for k in SIGNAL_COMPONENTS}}


class TelemetryRows:
    """Builds each day's ``telemetry_daily`` rows of one fleet; keeps the columns that do
    not change from day to day."""

    def __init__(self) -> None:
        self._n = 0                                   # vehicles whose consent was read
        self.index = np.empty(0, np.int64)            # field indices of the consenting
        self._vin = pa.array([], pa.string())
        self._climate = pa.array([], pa.string())
        self._version: tuple[tuple[str, ...], np.ndarray, pa.Array] | None = None
        self._buffers: dict[str, pa.Buffer] = {}

    def consenting(self, fleet: Fleet) -> np.ndarray:
        """Field indices of the vehicles that send telemetry, in field order."""
        n = fleet.vehicles.n
        if n < self._n:
            raise ValueError(f"the fleet shrank from {self._n} to {n} vehicles")
        if n > self._n:
            new = np.flatnonzero(fleet.info.view("consent_telemetry")[self._n:]) + self._n
            self.index = np.concatenate([self.index, new])
            self._vin = pa.concat_arrays([self._vin, fleet.vins.take(new)])
            self._climate = pa.concat_arrays([self._climate, CLIMATE_NAMES.take(
                fleet.vehicles.view("climate")[new].astype(np.int64))])
            self._n = n
        return self.index

    def versions(self, fleet: Fleet) -> pa.Array:
        """The consenting vehicles' software versions (rebuilt only when one changed)."""
        names = tuple(fleet.software.names)
        codes = fleet.info.view("version")[self.index]
        kept = self._version
        if kept is None or kept[0] != names or not np.array_equal(kept[1], codes):
            kept = self._version = (names, codes, pa.array(names, pa.string()).take(codes))
        return kept[2]

    def start(self, fleet: Fleet) -> Callable[[int, int], None]:
        """Open today's numeric columns; the function returned copies the rows of vehicles
        ``lo:hi`` into them, to be called by the thread that just drove that block (its
        outputs are still in that core's cache). :meth:`add` then builds the rows."""
        idx = self.consenting(fleet)
        m = len(idx)
        # Arrow's memory pool keeps its pages from one day to the next; a fresh NumPy
        # array of a million rows would pay a page fault every few KB
        self._buffers = {name: pa.allocate_buffer(8 * m) for name in NUMERIC}
        into = {name: np.frombuffer(buf, np.dtype(NUMERIC[name].to_pandas_dtype()))
                for name, buf in self._buffers.items()}
        fleet.out.ensure(fleet.vehicles.n)
        source = {**fleet.out.floats, **fleet.out.counts, **fleet.signal_values}
        odometer = fleet.vehicles.view("odometer")

        def fill(lo: int, hi: int) -> None:
            first, last = np.searchsorted(idx, (lo, hi)).tolist()
            local = idx[first:last]
            for name, column in into.items():
                values = odometer if name == "odometer_miles" else source[name]
                column[first:last] = values[local]

        return fill

    def add(self, rows: Rows, fleet: Fleet, day: int) -> None:
        """Add ``day``'s rows to ``rows``: every block of the day filled (:meth:`start`)."""
        m = len(self.index)
        columns: dict[str, object] = {
            name: pa.Array.from_buffers(typ, m, [None, self._buffers.pop(name)])
            for name, typ in NUMERIC.items()}
        columns.update(
            vin=self._vin, climate_region=self._climate, software_version=self.versions(fleet),
            day=np.datetime64(fleet.start_date, "D") + np.timedelta64(day, "D"),
            event_time=day_times(fleet.start_date, day, DAY_S - 1))
        rows.add("telemetry_daily", **columns)
