"""Helpers shared by the plant tests: build a plant, run it, read its rows by day."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from gigaloop.twin.plant import Plant
from gigaloop.twin.scenario import Scenario, load_scenario
from gigaloop.twin.units import BuiltUnits

NOMINAL_KA = 10.5


def make_plant(scenario: Scenario | None = None, seed: int = 0) -> Plant:
    return Plant(scenario or load_scenario(), units_per_day=80,
                 seed_seq=np.random.SeedSequence(seed).spawn(2)[0])


def run(plant: Plant, days: int, start: int = 0
        ) -> tuple[dict[str, pd.DataFrame], list[BuiltUnits]]:
    pieces: dict[str, list[pa.Table]] = {}
    built = []
    for day in range(start, start + days):
        tables, units = plant.step(day)
        built.append(units)
        for name, table in tables.items():
            pieces.setdefault(name, []).append(table)
    frames = {name: pa.concat_tables(parts).to_pandas() for name, parts in pieces.items()}
    return frames, built


def day_of(plant: Plant, frame: pd.DataFrame) -> pd.Series:
    """Local simulated day of each row's event_time."""
    offset = pd.to_timedelta(plant.clock.offset_s(0), unit="s")
    start = pd.Timestamp(plant.clock.start)
    return ((frame["event_time"] + offset - start) // pd.Timedelta(days=1)).astype(int)


def latent_frame(built: list[BuiltUnits]) -> pd.DataFrame:
    rows = {"vin": np.concatenate([b.vin for b in built]),
            "build_day": np.concatenate([b.build_day for b in built]),
            "hardware_revision": np.concatenate([b.hardware_revision for b in built])}
    for key in built[0].latent:
        rows[key] = np.concatenate([b.latent[key] for b in built])
    for key in built[0].fault_id:
        rows[f"fault_{key}"] = np.concatenate([b.fault_id[key] for b in built])
    return pd.DataFrame(rows)
