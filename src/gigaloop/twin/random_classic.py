"""Random scenarios of the packaged kinds: the default plant's kind of faults, drawn anew.

The packaged scenarios state their faults with the first six kinds — a weak cell lot, a
weld robot's current drift, a process parameter's drift (the trim nutrunner's torque), a
machine bearing's wear, a camera revision weak in rain and a shift whose cars go to hot
regions — and a scenario written outside the project in today's format uses them too,
with other lots, machines, revisions, windows and sizes. :func:`random_classic_scenario`
draws such a world: its own suppliers and shares (a weak camera revision may be most of
the builds), two to four of the five real kinds with sizes from weak to strong (hazard ×
1.3–3, as warranty data shows; FIGURES.md), and half the time the shift red herring.
:func:`~gigaloop.twin.random_scenario.random_scenario` draws the general kinds.

>>> text = random_classic_scenario(7)
>>> scenario = load_scenario_text(text)
>>> scenario.scenario.name, text == random_classic_scenario(7)
('classic-7', True)
>>> {f.kind for f in scenario.faults} <= set(CLASSIC_KINDS) | {"shift_climate_mix"}
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gigaloop.twin.layout import STATIONS, machine_station
from gigaloop.twin.random_scenario import (
    HAZARD_RATIO_RANGE,
    lot_first_days,
    units_per_day,
)
from gigaloop.twin.scenario import load_scenario_text
from gigaloop.twin.toml_text import toml_text

#: The real kinds a classic world draws from.
CLASSIC_KINDS = ("weak_cell_lot", "weld_current_drift", "process_drift", "bearing_wear",
                 "camera_rain")
#: Machines whose bearings wear (those that turn): a gauge or a camera has none.
TURNING = ("die_casting_press", "press", "weld_robot", "paint_robot", "oven", "module_line",
           "nutrunner")


def random_classic_scenario(seed: int, *, days: int = 365, scale: str = "small") -> str:
    """A valid scenario (TOML text) of the packaged kinds drawn from ``seed``."""
    per_day = units_per_day(days, scale)   # a bad size is refused before anything is drawn
    rng = np.random.default_rng([seed, 20_261_207])
    suppliers = [f"SUP{s}" for s in rng.choice(list("ABCDEFGHJKLMNPQRSTUVWXYZ"), size=6,
                                               replace=False)]
    camera_share = round(float(rng.uniform(0.2, 0.8)), 2)
    cell_share = round(float(rng.uniform(0.3, 0.7)), 2)
    parts = [
        _part("BAT-CELL-C1", "battery_cell", "battery", "CELL", rng,
              {suppliers[0]: cell_share, suppliers[1]: round(1 - cell_share, 2)}),
        _part("CAST-ALLOY-C1", "casting_alloy", "body", "ALLOY", rng, {suppliers[2]: 1.0}),
        {**_part("CAM-FWD-C1", "camera", "electronics", "CAM", rng,
                 {suppliers[3]: camera_share, suppliers[4]: round(1 - camera_share, 2)}),
         "revisions": {suppliers[3]: "CAM-A", suppliers[4]: "CAM-B"}},
        _part("DU-REAR-C1", "drive_unit", "powertrain", "DU", rng, {suppliers[5]: 1.0}),
    ]
    doc: dict[str, Any] = {
        "scenario": {"name": f"classic-{seed}", "start_date":
                     f"2025-{int(rng.integers(1, 13)):02d}-{int(rng.integers(1, 29)):02d}",
                     "description": f"Drawn by gigaloop.twin.random_classic, seed {seed}."},
        "suppliers": [{"supplier_id": s, "name": f"Supplier {s[-1]}",
                       "country": str(rng.choice(["US", "MX", "KR", "JP", "DE", "TW"]))}
                      for s in suppliers],
        "parts": parts}
    draft = load_scenario_text(toml_text({**doc, "faults": []}))
    lots = lot_first_days(draft.parts, per_day, days)["BAT-CELL-C1"]
    kinds = rng.choice(CLASSIC_KINDS, size=int(rng.integers(2, 5)), replace=False)
    faults = [_fault(str(kind), k, rng, days, parts, lots)
              for k, kind in enumerate(sorted(kinds), start=1)]
    if rng.random() < 0.5:
        shift = str(rng.choice(["A", "B", "C"]))
        faults.append({"id": "H1-shift_climate_mix", "kind": "shift_climate_mix",
                       "where": {"shift": shift}, "starts": 0,
                       "effect": {"hot_probability": round(float(rng.uniform(0.4, 0.7)), 2)},
                       "finding": {"failure_mode": "battery_fade", "names": {"shift": shift},
                                   "red_herring": True}})
    text = toml_text({**doc, "faults": faults})
    load_scenario_text(text, origin=f"classic-{seed}")   # always valid: checked here
    return text


def _part(number: str, name: str, category: str, prefix: str, rng: np.random.Generator,
          shares: dict[str, float]) -> dict[str, Any]:
    return {"part_number": number, "name": name, "category": category, "lot_prefix": prefix,
            "lot_size_days": float(rng.choice([1.0, 1.5, 2.0, 3.0])), "shares": shares}


def _ratio(rng: np.random.Generator, low: float = HAZARD_RATIO_RANGE[0],
           high: float = HAZARD_RATIO_RANGE[1]) -> float:
    """A size drawn log-uniformly between ``low`` and ``high`` (warranty data's range)."""
    return round(float(np.exp(rng.uniform(np.log(low), np.log(high)))), 3)


def _fault(kind: str, k: int, rng: np.random.Generator, days: int,
           parts: list[dict[str, Any]], cell_lots: dict[str, int]) -> dict[str, Any]:
    """One real fault of ``kind``, with its finding."""
    fault: dict[str, Any] = {"id": f"C{k}-{kind}", "kind": kind}
    start = int(rng.integers(15, max(int(0.6 * days), 16)))
    if kind == "weak_cell_lot":
        early = [lot for lot, day in cell_lots.items() if 10 <= day <= 0.6 * days] \
            or list(cell_lots)  # a run too short for day 10
        lot = str(early[int(rng.integers(len(early)))])
        supplier = lot.split("-")[1]
        fault.update(where={"lot": lot}, starts=0, effect={
            "fade_multiplier": _ratio(rng, 1.1, 1.8), "pack_hazard_multiplier": _ratio(rng),
            "resistance_shift": round(float(rng.uniform(0.0, 0.03)), 3)})
        fault["finding"] = {"failure_mode": "battery_fade", "related_modes": ["battery_pack"],
                            "names": {"lot": lot, "supplier": supplier, "part": "BAT-CELL-C1"},
                            "hazard_ratio": fault["effect"]["pack_hazard_multiplier"]}
    elif kind in ("weld_current_drift", "process_drift"):
        stop = max(min(start + int(rng.integers(14, 121)), days - 1), start + 1)
        if kind == "weld_current_drift":  # too little current or too much: a weak seam
            station = str(rng.choice(["BW-010", "BW-020", "BW-030"]))
            sign = 1.0 if rng.random() < 0.5 else -1.0
            effect = {"drift_ka": round(sign * float(rng.uniform(0.6, 1.4)), 2)}
            mode, where = "body_seam", {"station": station}
        else:  # the trim nutrunner losing torque: loose trim
            station = "GA-010"
            effect = {"drift": round(-float(rng.uniform(3.0, 8.0)), 2)}
            mode, where = "paint_trim", {"station": station, "parameter": "torque"}
        machine = str(rng.choice(next(s for s in STATIONS if s.station_id == station)
                                 .machine_ids))
        fault.update(where={**where, "machine": machine}, starts=start, stops=stop,
                     effect={**effect, "ramp_days": int(rng.integers(5, 31))})
        fault["finding"] = {"failure_mode": mode, "names": {
            "station": station, "machine": machine, "window": [start, stop]}}
    elif kind == "bearing_wear":
        machines = [m for s in STATIONS if s.machine_kind in TURNING for m in s.machine_ids]
        machine = str(rng.choice(machines))
        fault.update(where={"machine": machine}, starts=start, effect={
            "pf_interval_days": int(rng.integers(40, 121)),
            "repair_hours": int(rng.integers(8, 31))})
        fault["finding"] = {"failure_mode": "machine_breakdown", "names": {
            "machine": machine, "station": machine_station(machine).station_id}}
    else:  # camera_rain: either revision, a minority or most of the builds
        camera = next(p for p in parts if "revisions" in p)
        supplier, revision = list(camera["revisions"].items())[int(rng.integers(2))]
        fault.update(where={"hardware_revision": revision}, starts=0,
                     effect={"rain_multiplier": _ratio(rng)})
        fault["finding"] = {"failure_mode": "disengagement_rain", "related_modes": ["camera"],
                            "names": {"hardware_revision": revision, "supplier": supplier},
                            "hazard_ratio": fault["effect"]["rain_multiplier"]}
    return fault


__all__ = ["CLASSIC_KINDS", "random_classic_scenario"]
