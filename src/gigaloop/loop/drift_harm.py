"""What a process drift cost, from the truth and the store: the units it made
defect-prone and the inspections they failed (for ``gigaloop score``).

>>> drift_defects("no-such-run")
[]
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from gigaloop.loop.score import is_drift, read_truth
from gigaloop.store import Store

#: The inspection downstream of a drifting parameter, where the plant has one.
DRIFT_INSPECTION = {"weld_current": "weld_seam", "film_thickness": "paint_thickness"}


def drift_defects(run_dir: Path | str, *, after_days: int = 7) -> list[dict[str, Any]]:
    """Defects each process-drift fault caused, one row per fault that shifts a machine's
    parameter (:func:`is_drift`).

    The window is the fault's true one: from its start to the day it ended (planned stop or
    recalibration, whichever came first; the last simulated day if neither). Per fault:

    * ``affected_units`` (truth's ``pushed_units``): units the drift pushed past the
      process's defect dead band (their defect hazard raised) that would not have been past
      it without the drift and the setpoint moves answering it — the units the drift, net
      of control, made defect-prone. A unit past the band by its own spread is not the
      drift's: where a law's band lies within the process's spread (a random world's dose
      from 0.5 σ), such units were a third of a station's output with no drift at all, and
      counted, they made a drift that control took out within days look half as harmful
      as one nothing stopped. A truth written before ``pushed_units`` existed gives the
      units carrying the fault's latent state instead (``affected_vins``);
    * where the parameter has an inspection downstream (:data:`DRIFT_INSPECTION`),
      ``inspection_failures`` (store): failed inspections of units the drifting machine
      built from the drift's start to ``after_days`` after it ended (``inspection_window``:
      a correction that outlives the drift, a setpoint still offset when a recalibration
      ends it, makes defects too), and ``sibling_failures`` those of the station's other
      machines (the base rate, for comparison).
    """
    run_dir = Path(run_dir)
    truth = read_truth(run_dir)
    if truth is None:
        return []
    start = date.fromisoformat(truth["scenario"]["start_date"])
    rows = []
    for fault in truth["faults"]:
        if not is_drift(fault):
            continue
        parameter = fault["where"].get("parameter", "weld_current")
        happened = fault["happened"]
        ends = (happened.get("ended_day"), fault.get("stops"), truth["days_simulated"])
        last = min(int(end) for end in ends if end is not None) - 1
        first = int(fault["starts"])
        row: dict[str, Any] = {"id": fault["id"], "machine": fault["where"]["machine"],
                               "parameter": parameter, "window": [first, last],
                               "affected_units": int(happened.get("pushed_units",
                                                                  happened["affected_vins"]))}
        if parameter in DRIFT_INSPECTION and last >= first and (run_dir / "store").is_dir():
            until = min(last + after_days, truth["days_simulated"] - 1)
            row["inspection_window"] = [first, until]
            row.update(_inspection_failures(
                Store(run_dir / "store"), fault["where"]["station"], fault["where"]["machine"],
                DRIFT_INSPECTION[parameter], date.fromordinal(start.toordinal() + first),
                date.fromordinal(start.toordinal() + until)))
        rows.append(row)
    return rows


def _inspection_failures(store: Store, station: str, machine: str, inspection: str,
                         first: date, last: date) -> dict[str, int]:
    """Units built in [first, last] through ``station``, and their failed ``inspection``s,
    on ``machine`` and on the station's other machines."""
    vehicles, stations = store.table("vehicles"), store.table("vehicle_stations")
    results = store.table("inspection_results")
    built = vehicles.filter((vehicles.build_date >= first) & (vehicles.build_date <= last))
    passed = stations.filter(stations.station_id == station).select("vin", "machine_id")
    failed = results.filter((results.inspection == inspection) & ~results.passed).select(
        "vin", failed=1)
    units = built.select("vin").join(passed, "vin").left_join(failed, "vin")
    counts = store.execute(units.group_by("machine_id").aggregate(
        units=units.vin.count(), failures=units.failed.sum()))
    on = counts.machine_id == machine
    return {"units_built": int(counts.units[on].sum()),
            "inspection_failures": int(counts.failures[on].fillna(0).sum()),
            "sibling_units": int(counts.units[~on].sum()),
            "sibling_failures": int(counts.failures[~on].fillna(0).sum())}
