"""What predictive service keeps of the store: every diagnostic code, warranty claim and
predictive visit it has read, in a few columns, read incrementally (rows ingested since the
last read, however large the store has grown).

``ingested_at`` is kept with each row, so the data as the store held it at an earlier instant
(:meth:`ServiceHistory.as_of`) can be refitted exactly — a module restarted mid-week refits
its rules as of the last scheduled refit, not as of the restart.

>>> import pandas as pd, pyarrow as pa
>>> t = pd.Timestamp("2025-03-01 06:00")
>>> class View:   # a store view: rows ingested by ``t`` (a Store's as_of does the same)
...     def ingested_since(self, name, after, columns):
...         rows = FRAMES[name]
...         rows = rows if after is None else rows[rows.ingested_at > after]
...         return pa.Table.from_pandas(rows[columns], preserve_index=False)
>>> FRAMES = {
...     "diagnostic_codes": pd.DataFrame({"vin": ["A", "B"], "code": ["CP_latch"] * 2,
...         "event_time": [t - pd.Timedelta(hours=h) for h in (30, 3)],
...         "ingested_at": [t - pd.Timedelta(days=1), t]}),
...     "component_failures": pd.DataFrame({"vin": ["A"], "component": ["charge_port"],
...         "event_time": [t - pd.Timedelta(hours=2)], "cost_usd": [400.0],
...         "roadside": [True], "ingested_at": [t]}),
...     "service_visits": pd.DataFrame({"vin": ["B"], "reason": ["repair"],
...         "event_time": [t], "ingested_at": [t]})}
>>> history = ServiceHistory()
>>> history.read(View(), t)
>>> len(history.codes), len(history.failures), len(history.serviced)
(2, 1, 0)
>>> codes, failures, serviced = history.as_of(t - pd.Timedelta(days=1))
>>> codes.vin.tolist(), len(failures)
(['A'], 0)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

CODE_COLUMNS = ("vin", "code", "event_time", "ingested_at")
FAILURE_COLUMNS = ("vin", "component", "event_time", "cost_usd", "roadside", "ingested_at")
VISIT_COLUMNS = ("vin", "event_time", "ingested_at")
TABLES = (("codes", "diagnostic_codes", CODE_COLUMNS),
          ("failures", "component_failures", FAILURE_COLUMNS),
          ("serviced", "service_visits", VISIT_COLUMNS))


def _empty(columns: tuple[str, ...]) -> pd.DataFrame:
    types = {"event_time": "datetime64[us]", "ingested_at": "datetime64[us]",
             "cost_usd": "float64", "roadside": "bool"}
    return pd.DataFrame({c: pd.Series(dtype=types.get(c, "object")) for c in columns})


@dataclass
class ServiceHistory:
    """Codes (vin, code), claims (vin, component, cost_usd, roadside) and predictive visits
    (vin) with their ``event_time`` and ``ingested_at``; ``read_until`` — per kind
    (``codes``, ``failures``, ``serviced``), the view cutoff read up to (absent: nothing
    read yet); ``new_codes`` — the codes the last read of them added (Arrow).

    Rows read are kept as Arrow until a frame is asked for (:attr:`codes`, :attr:`failures`,
    :attr:`serviced`): one conversion for all the reads since, not one a read.
    """

    read_until: dict[str, pd.Timestamp] = field(default_factory=dict)
    new_codes: pa.Table | None = field(default=None, repr=False)
    _unconverted: dict[str, list[pa.Table]] = field(
        default_factory=lambda: {name: [] for name, _, _ in TABLES}, repr=False)
    _frames: dict[str, pd.DataFrame] = field(default_factory=lambda: {
        name: _empty(columns) for name, _, columns in TABLES}, repr=False)

    @property
    def codes(self) -> pd.DataFrame:
        return self._frame("codes")

    @property
    def failures(self) -> pd.DataFrame:
        return self._frame("failures")

    @property
    def serviced(self) -> pd.DataFrame:
        return self._frame("serviced")

    def read(self, view: Any, now: datetime,
             kinds: tuple[str, ...] = ("codes", "failures", "serviced")) -> None:
        """Append the rows of ``kinds`` that ``view`` (the store as of ``now``) holds and
        that were ingested after their ``read_until``
        (:meth:`gigaloop.store.StoreView.ingested_since`)."""
        for name, table, columns in TABLES:
            if name not in kinds:
                continue
            wanted = [*columns, "reason"] if name == "serviced" else list(columns)
            part = view.ingested_since(table, self.read_until.get(name), wanted)
            if name == "serviced":
                part = part.filter(pc.equal(part["reason"], "predictive")).select(columns)
            if name == "codes":
                self.new_codes = part
            if part.num_rows:
                self._unconverted[name].append(part)
            self.read_until[name] = pd.Timestamp(now)

    def as_of(self, cutoff: datetime) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """Codes, claims and predictive visits ingested by ``cutoff``; claims and visits
        sorted by time, so that a claim's mean cost does not depend on the order rows were
        read in (a fit does not depend on the order of the codes)."""
        cut = pd.Timestamp(cutoff)
        codes = self.codes[self.codes.ingested_at <= cut].reset_index(drop=True)
        return (codes, *(_sorted(frame[frame.ingested_at <= cut])
                         for frame in (self.failures, self.serviced)))

    def _frame(self, name: str) -> pd.DataFrame:
        parts = self._unconverted[name]
        if parts:
            new = pa.concat_tables(parts, promote_options="permissive").to_pandas()
            held = self._frames[name]
            self._frames[name] = new if held.empty else pd.concat([held, new],
                                                                  ignore_index=True)
            parts.clear()
        return self._frames[name]


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` by ``event_time``, then its other columns but ``ingested_at`` (a stable
    sort: ``DataFrame.sort_values`` on those columns, as one NumPy lexsort)."""
    keys = ["event_time", *[c for c in frame.columns if c not in ("event_time", "ingested_at")]]
    ranks = [np.unique(frame[c].to_numpy(), return_inverse=True)[1] for c in reversed(keys)]
    order = np.lexsort(ranks) if len(frame) else np.arange(0)
    return frame.iloc[order].reset_index(drop=True)
