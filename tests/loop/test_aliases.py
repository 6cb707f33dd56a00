"""Root cause on a synthetic fleet whose parts all change lots at the same unit: a bad lot
of one part is the same vehicles as a lot of every other part, and the finding lists
them all, whichever it names first."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from gigaloop.loop.finding import ALIASES, namings
from gigaloop.loop.population import Attribute, Population
from gigaloop.loop.rootcause import find_root_causes

N, LOT = 12_000, 200  # units, and units per lot of every part
BAD = 30  # the lot (of every part's lots, the 31st) whose drive units fail


def fleet(seed: int) -> Population:
    rng = np.random.default_rng(seed)
    built = np.arange(N) * 240 // N
    service = (300 - built - rng.integers(3, 10, N)).astype(float)
    lot = (np.arange(N) // LOT).astype(np.int32)
    life = rng.exponential(365 / (0.1 * np.where(lot == BAD, 6.0, 1.0)))
    start = np.datetime64("2025-01-06", "D")
    attributes = [Attribute(f"lot:{part}", "lot", lot, [f"{part}-{k:04d}" for k in
                                                        range(lot.max() + 1)], {"part": part})
                  for part in ("CELL", "DU", "HUB")]
    usage = pd.DataFrame({"miles_per_day": rng.lognormal(np.log(35), 0.5, N),
                          "in_service_days": service, "telemetry_days": service,
                          "dc_kwh_per_day": 2.0, "ambient_temp_c": 20.0, "autopilot_miles": 0.0})
    return Population(
        as_of=date(2025, 11, 1), vin=np.arange(N).astype(str), build_date=start + built,
        delivered_on=start + built + 5, in_service_days=service,
        climate=rng.choice(["cold", "hot", "temperate"], N), usage=usage,
        attributes=attributes,
        first_failure_days={"seal": np.where(life < service, life, np.nan)},
        readings={}, station_machines={})


@pytest.mark.parametrize("seed", [1, 2])
def test_a_lot_that_is_every_part_s_lot_lists_the_others_as_its_aliases(seed: int) -> None:
    found = find_root_causes(fleet(seed))
    assert len(found) == 1
    record = found[0].record()
    said = {(n["part"], n["lot"]) for n in namings(record["names"])}
    assert said == {("CELL", "CELL-0030"), ("DU", "DU-0030"), ("HUB", "HUB-0030")}
    assert len(record["names"][ALIASES]) == 2  # the two it does not name first
