"""Which upstream machine an inspection alarm points at: the one whose units fail most.

On a p-chart alarm the day's inspected units are split into those over the chart's
threshold and the rest; for each machine of the stations up the line from the inspection
(the store's ``process_readings`` say which machine worked on which unit), a one-sided
Fisher exact test compares its units' share over the threshold with that of the other
machines at the same station. The machine with the smallest p-value, if under ``alpha``
divided by the machines tested (Bonferroni), is the suspect; a station with one machine
gives no contrast and is not tested.

>>> import pandas as pd
>>> work = pd.DataFrame({"vin": [f"V{i}" for i in range(40)], "station_id": "BW-030",
...                      "machine_id": ["R1"] * 20 + ["R2"] * 20})
>>> over = {f"V{i}" for i in range(20, 32)} | {"V0"}
>>> suspect = suspect_machine(work, over)
>>> suspect.machine_id, round(suspect.share, 2), round(suspect.others, 2)
('R2', 0.6, 0.05)
>>> suspect_machine(work, {"V0", "V25"}) is None
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
from scipy.stats import fisher_exact


@dataclass(frozen=True)
class Suspect:
    """A machine whose units are over the threshold more often than its station's others."""

    machine_id: str
    station_id: str
    share: float   # of its units over the threshold
    others: float  # of the other machines' units at its station
    units: int
    p_value: float


def suspect_machine(work: pd.DataFrame, over: set[str], alpha: float = 0.01,
                    min_units: int = 5) -> Suspect | None:
    """The suspect among ``work``'s machines (columns vin, station_id, machine_id: who
    worked on each unit), given the VINs ``over`` the threshold; None if none stands out."""
    work = work.dropna(subset=["machine_id"]).drop_duplicates(["vin", "station_id"])
    flagged = work.vin.isin(over)
    tests: list[Suspect] = []
    for station, rows in work.groupby("station_id", sort=True):
        hits = flagged[rows.index]
        for machine in sorted(rows.machine_id.unique()):
            mine = (rows.machine_id == machine).to_numpy()
            n_mine, n_rest = int(mine.sum()), int((~mine).sum())
            if n_mine < min_units or n_rest < min_units:
                continue
            a, c = int(hits[mine].sum()), int(hits[~mine].sum())
            p = float(fisher_exact([[a, n_mine - a], [c, n_rest - c]], "greater")[1])
            tests.append(Suspect(str(machine), str(station), a / n_mine, c / n_rest, n_mine, p))
    if not tests:
        return None
    best = min(tests, key=lambda s: s.p_value)
    return best if best.p_value < alpha / len(tests) else None


def upstream_work(view: Any, station: str, vins: list[str]) -> pd.DataFrame:
    """Who worked on ``vins`` at ``station`` and the stations before it on its line."""
    stations = view.table("stations").to_pandas()
    here = stations[stations.station_id == station]
    if here.empty:
        return pd.DataFrame(columns=["vin", "station_id", "machine_id"])
    line, sequence = here.line_id.iloc[0], int(here.sequence.iloc[0])
    upstream = stations[(stations.line_id == line) & (stations.sequence <= sequence)]
    readings = view.table("process_readings")
    chosen = readings.filter(readings.vin.isin(vins)
                             & readings.station_id.isin(list(upstream.station_id)))
    return chosen.select("vin", "station_id", "machine_id").distinct().to_pandas()
