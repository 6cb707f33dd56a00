"""A day's process readings as arrays, grouped by (machine, parameter) stream.

The module reads a day's new ``process_readings`` once, as Arrow, and works on NumPy arrays
from then on: each stream's rows are one index array (:attr:`DayReadings.streams`), and the
few fields an alarm names (the unit's VIN, the reading's time) are taken from the Arrow table
only for the readings that signal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

COLUMNS = ["vin", "station_id", "machine_id", "parameter", "value", "setpoint", "event_time"]


@dataclass(frozen=True)
class StreamRows:
    """One stream's readings in a day: its key, its station and the indices of its rows (in
    event-time order)."""

    machine: str
    parameter: str
    station: str
    index: NDArray[np.intp]


@dataclass(frozen=True)
class DayReadings:
    """A day's readings in event-time order (then VIN): ``value`` and ``setpoint`` (NaN: none
    recorded) as arrays, and :attr:`streams`, in the order each first appears.

    >>> from datetime import datetime
    >>> day = DayReadings.from_table(pa.table({
    ...     "vin": ["V2", "V1", "V1"], "station_id": ["S1", "S1", "S2"],
    ...     "machine_id": [None, None, "M2"], "parameter": ["torque"] * 3,
    ...     "value": [2.0, 1.0, 3.0], "setpoint": [None, 1.0, 3.0],
    ...     "event_time": [datetime(2025, 1, 1, 7), datetime(2025, 1, 1, 6),
    ...                    datetime(2025, 1, 1, 6)]}))
    >>> [(s.machine, s.parameter, s.index.tolist()) for s in day.streams]
    [('S1', 'torque', [0, 2]), ('M2', 'torque', [1])]
    >>> day.value.tolist(), day.vin(2), str(day.event_time(2))
    ([1.0, 3.0, 2.0], 'V2', '2025-01-01 07:00:00')
    """

    table: pa.Table = field(repr=False)
    value: NDArray[np.float64]
    setpoint: NDArray[np.float64]
    streams: list[StreamRows]

    def __len__(self) -> int:
        return len(self.value)

    @classmethod
    def from_table(cls, table: pa.Table) -> DayReadings:
        """Readings (:data:`COLUMNS`; a missing ``machine_id`` is the station's), sorted here."""
        machine = pc.coalesce(table["machine_id"], table["station_id"])
        table = table.set_column(table.schema.get_field_index("machine_id"), "machine_id",
                                 machine)
        table = table.take(pc.sort_indices(
            table, sort_keys=[("event_time", "ascending"), ("vin", "ascending")]))
        value = table["value"].to_numpy().astype(np.float64)
        setpoint = pc.fill_null(table["setpoint"].cast(pa.float64()), np.nan).to_numpy()
        return cls(table, value, np.asarray(setpoint, dtype=np.float64), _streams(table))

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> DayReadings:
        """As :meth:`from_table`, from a DataFrame with :data:`COLUMNS`."""
        return cls.from_table(pa.Table.from_pandas(frame[COLUMNS], preserve_index=False))

    def vin(self, row: int) -> str:
        return str(self.table["vin"][row].as_py())

    def event_time(self, row: int) -> pd.Timestamp:
        return pd.Timestamp(self.table["event_time"][row].as_py())


def _streams(table: pa.Table) -> list[StreamRows]:
    """The (machine, parameter) streams of sorted readings, in order of first appearance."""
    if not table.num_rows:
        return []
    machines = pc.dictionary_encode(table["machine_id"]).combine_chunks()
    parameters = pc.dictionary_encode(table["parameter"]).combine_chunks()
    stations = table["station_id"].combine_chunks()
    width = len(parameters.dictionary)
    code = (machines.indices.to_numpy().astype(np.int64) * width
            + parameters.indices.to_numpy().astype(np.int64))
    keys, first, group = np.unique(code, return_index=True, return_inverse=True)
    order = np.argsort(group, kind="stable")  # rows of each stream, in event-time order
    bounds = np.cumsum(np.bincount(group, minlength=len(keys)))[:-1]
    rows = np.split(order, bounds)
    machine_names = machines.dictionary.to_pylist()
    parameter_names = parameters.dictionary.to_pylist()
    return [StreamRows(machine_names[keys[g] // width], parameter_names[keys[g] % width],
                   str(stations[int(first[g])].as_py()), rows[g].astype(np.intp))
            for g in np.argsort(first, kind="stable")]
