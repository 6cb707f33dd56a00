"""Root cause on synthetic fleets: a station's drift window whose excess is one supplier's
parts names the supplier in the window; a drift that harms every unit stays the drift; a
window inside the supplier's months falls once the supplier is found; a supplier another
finding named is the one hypothesis tried (the owners' complaints of the claims' window); a
lot that is every part's lot names them all, and a revision that is two parts' suppliers
names both."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from gigaloop.loop.adjust import usage_strata
from gigaloop.loop.finding import ALIASES, Finding, RootCauseConfig, namings
from gigaloop.loop.periods import supply_in_window
from gigaloop.loop.population import Attribute, Population
from gigaloop.loop.rootcause import find_root_causes
from gigaloop.loop.standing import backward

N, DAYS = 12_000, 240
START = np.datetime64("2025-01-06", "D")
WINDOW = (100, 160)  # build days of the drift, and of the bad parts


def fleet(seed: int, *, supplier_ratio: float = 1.0, drift_ratio: float = 1.0,
          machines: int = 1) -> Population:
    """One station whose reading drifted over :data:`WINDOW` on its first machine (of
    ``machines``, units shared evenly) and a part from two suppliers (70 % and 30 %); in
    the window, the first supplier's units fail ``supplier_ratio`` times as often, and
    every unit the drifting machine built ``drift_ratio`` times."""
    rng = np.random.default_rng(seed)
    built = np.sort(rng.integers(0, DAYS, N))
    service = (300 - built - rng.integers(3, 10, N)).astype(float)
    supplier = (rng.random(N) < 0.3).astype(np.int32)  # 0: SUPA (70 %), 1: SUPB
    machine = rng.integers(0, machines, N)
    inside = (built >= WINDOW[0]) & (built < WINDOW[1])
    hazard = np.where(inside & (supplier == 0), supplier_ratio, 1.0)
    hazard *= np.where(inside & (machine == 0), drift_ratio, 1.0)
    life = rng.exponential(365 / (0.2 * hazard))
    dates = [str(START + WINDOW[0]), str(START + WINDOW[1] - 1)]
    drift = Attribute("drift:ST-010-P1:press_force", "drift",
                      np.where(machine == 0, inside, -1).astype(np.int32),
                      ["outside", "inside"], {"station": "ST-010", "machine": "ST-010-P1",
                                              "parameter": "press_force", "window": dates})
    suppliers = Attribute("supplier:P-1", "supplier", supplier, ["SUPA", "SUPB"],
                          {"part": "P-1"})
    return _population(rng, built, service, life, [drift, suppliers])


def _population(rng: np.random.Generator, built: np.ndarray, service: np.ndarray,
                life: np.ndarray, attributes: list[Attribute]) -> Population:
    """:data:`N` vehicles built on days ``built`` from :data:`START`, in service for
    ``service`` days, whose seals fail at ``life`` days (if within service)."""
    usage = pd.DataFrame({"miles_per_day": rng.lognormal(np.log(35), 0.5, N),
                          "in_service_days": service, "telemetry_days": service,
                          "dc_kwh_per_day": 2.0, "ambient_temp_c": 20.0, "autopilot_miles": 0.0})
    return Population(
        as_of=date(2025, 11, 1), vin=np.arange(N).astype(str), build_date=START + built,
        delivered_on=START + built + 5, in_service_days=service,
        climate=rng.choice(["cold", "hot", "temperate"], N), usage=usage,
        attributes=attributes,
        first_failure_days={"seal": np.where(life < service, life, np.nan)},
        readings={}, station_machines={})


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_drift_window_whose_excess_is_one_supplier_s_names_the_supplier(seed: int) -> None:
    found = find_root_causes(fleet(seed, supplier_ratio=2.5))
    assert [f.names for f in found] == [{"supplier": "SUPA", "part": "P-1", "window": [
        str(START + WINDOW[0]), str(START + WINDOW[1] - 1)]}]
    assert found[0].kind == "supplier"


def test_the_supplier_s_units_are_those_built_in_the_window_through_either_machine() -> None:
    pop = fleet(4, supplier_ratio=3.0, machines=2)
    drifted = pop.attributes[0].codes == 1  # the first machine's units in the window
    found = supply_in_window(pop, "seal", drifted, pop.attributes, usage_strata(pop),
                             RootCauseConfig())
    assert found is not None and found[0].names(found[1])["supplier"] == "SUPA"
    built = pop.build_date[drifted]
    then = (pop.build_date >= built.min()) & (pop.build_date <= built.max())
    assert np.array_equal(found[2], then & (pop.attributes[1].codes == 0))
    assert (found[2] & ~drifted).sum() > 0.4 * found[2].sum()  # the other machine's half


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_drift_that_harms_every_unit_stays_the_drift(seed: int) -> None:
    found = find_root_causes(fleet(seed, drift_ratio=2.5))
    assert [(f.kind, f.names["station"]) for f in found] == [("drift", "ST-010")]


def _finding(name: str, members: np.ndarray) -> Finding:
    return Finding("seal", name, "drift", {"name": name}, 2.0, (1.5, 2.5), "hazard_ratio",
                   1e-6, 1e-4, 50.0, 25.0, members)


@pytest.mark.parametrize("seed", [1, 2])
def test_a_window_inside_the_supplier_s_months_falls_once_the_supplier_is_found(seed: int
                                                                               ) -> None:
    pop = fleet(seed, supplier_ratio=2.5)
    built = (pop.build_date - START).astype(int)
    supa = pop.attributes[1].codes == 0
    fortnight = _finding("fortnight", (built >= 130) & (built < 144))
    supplier = _finding("supplier", supa & (built >= WINDOW[0]) & (built < WINDOW[1]))
    strata = usage_strata(pop)
    for order in ([fortnight, supplier], [supplier, fortnight]):
        assert backward(pop, "seal", order, strata, RootCauseConfig()) == [supplier]
    # a cause of other months stands beside it
    early = fleet(seed, supplier_ratio=2.5)
    life = early.first_failure_days["seal"]
    first = (built >= 20) & (built < 50)
    rng = np.random.default_rng(seed)
    again = rng.exponential(365 / 0.5, len(life))  # ×2.5 the base hazard of 0.2 a year
    early.first_failure_days["seal"] = np.where(first & (again < early.in_service_days),
                                                np.fmin(life, again), life)
    drift = _finding("drift", first)
    assert backward(early, "seal", [drift, supplier], strata, RootCauseConfig()) == [
        drift, supplier]


def with_other_parts(pop: Population, seed: int) -> Population:
    """``pop`` with four more parts, each from three suppliers at random: twelve more
    supply hypotheses inside any window, none of them a cause."""
    rng = np.random.default_rng(seed + 100)
    pop.attributes += [Attribute(f"supplier:Q-{k}", "supplier",
                                 rng.integers(0, 3, N).astype(np.int32),
                                 ["SUPX", "SUPY", "SUPZ"], {"part": f"Q-{k}"})
                       for k in range(4)]
    return pop


def test_a_supplier_another_finding_named_is_the_one_hypothesis_tried_in_the_window() -> None:
    """Beside the part's two suppliers (one hypothesis), four other parts' three suppliers
    each are tried in the window: thirteen hypotheses. A mild excess of SUPA's units clears alpha
    more often as the one hypothesis the claims already named; a name no unit in the window
    carries leaves the search over all of them."""
    config, plain, named, elsewhere = RootCauseConfig(), 0, 0, 0
    for seed in range(40):
        pop = with_other_parts(fleet(seed, supplier_ratio=1.5), seed)
        drifted, strata = pop.attributes[0].codes == 1, usage_strata(pop)

        def supa(found: tuple[Attribute, int, np.ndarray] | None) -> bool:
            return found is not None and found[0].names(found[1]) == {"supplier": "SUPA",
                                                                      "part": "P-1"}
        plain += supa(supply_in_window(pop, "seal", drifted, pop.attributes, strata, config))
        named += supa(supply_in_window(pop, "seal", drifted, pop.attributes, strata, config,
                                       [{"supplier": "SUPA", "part": "P-1", "window": []}]))
        elsewhere += supa(supply_in_window(pop, "seal", drifted, pop.attributes, strata,
                                           config, [{"supplier": "SUPA", "part": "P-9"}]))
    assert named >= plain + 8 and elsewhere == plain  # 31 and 19 of 40 when written


@pytest.mark.parametrize("seed", [4, 7])
def test_owners_complaints_of_a_supplier_s_window_name_the_supplier_the_claims_named(
        seed: int) -> None:
    """Owners also complain for no failure (a third of the cars a year here), so the
    complaints' supply test in the drift window is weaker than the claims'; the claims'
    supplier is then its one hypothesis (seed 4 named the drift for the complaints before;
    of seeds 0–11, 3 did before and 2 still do)."""
    pop = with_other_parts(fleet(seed, supplier_ratio=1.8), seed)
    noise = np.random.default_rng(seed + 200).exponential(365 / 0.3, N)
    pop.first_failure_days["complaint:seal"] = np.fmin(
        pop.first_failure_days["seal"], np.where(noise < pop.in_service_days, noise, np.nan))
    found = {f.failure_mode: f.names for f in find_root_causes(pop)}
    assert found["seal"]["supplier"] == "SUPA"
    assert found["complaint:seal"] == found["seal"]


def test_a_lot_that_is_every_part_s_lot_lists_the_others_as_its_aliases() -> None:
    """Every part changes lots at the same unit (the twin hands out one lot of each part at
    a time, and these lots are the same size): a bad lot of one part is the same vehicles
    as a lot of every other, and the finding lists them all, whichever it names first."""
    for seed in (1, 2):
        rng = np.random.default_rng(seed)
        built = np.arange(N) * DAYS // N
        service = (300 - built - rng.integers(3, 10, N)).astype(float)
        lot = (np.arange(N) // 200).astype(np.int32)  # 200 units a lot, every part
        life = rng.exponential(365 / (0.1 * np.where(lot == 30, 6.0, 1.0)))
        lots = [Attribute(f"lot:{part}", "lot", lot, [f"{part}-{k:04d}" for k in
                                                      range(lot.max() + 1)], {"part": part})
                for part in ("CELL", "DU", "HUB")]
        found = find_root_causes(_population(rng, built, service, life, lots))
        assert len(found) == 1
        names = found[0].record()["names"]
        said = {(n["part"], n["lot"]) for n in namings(names)}
        assert said == {("CELL", "CELL-0030"), ("DU", "DU-0030"), ("HUB", "HUB-0030")}
        assert len(names[ALIASES]) == 2  # the two it does not name first


def test_a_revision_that_is_two_parts_suppliers_names_both() -> None:
    """Two parts whose suppliers take turns in step (lots of one size, shares alike): one
    camera supplier's units are exactly one cell supplier's, and the weak camera revision
    is both. No data tells which part it is, so the finding names the revision with each
    supplier: one naming, the other listed as an alias (world 56 of the packaged kinds
    named the cells' supplier alone, a false finding)."""
    for seed in (1, 2):
        rng = np.random.default_rng(seed)
        built = np.arange(N) * DAYS // N
        service = (300 - built - rng.integers(3, 10, N)).astype(float)
        turn = ((np.arange(N) // 200) % 2).astype(np.int32)  # 200 units a lot, in turns
        life = rng.exponential(365 / (0.1 * np.where(turn == 1, 3.0, 1.0)))
        attributes = [
            Attribute("hardware_revision", "hardware_revision", turn, ["CAM-B", "CAM-A"]),
            Attribute("supplier:CAM", "supplier", turn, ["SUPW", "SUPX"], {"part": "CAM"}),
            Attribute("supplier:CELL", "supplier", turn, ["SUPD", "SUPY"], {"part": "CELL"})]
        found = find_root_causes(_population(rng, built, service, life, attributes))
        assert len(found) == 1
        names = found[0].record()["names"]
        assert names["hardware_revision"] == "CAM-A"
        said = {(n.get("part"), n.get("supplier")) for n in namings(names)}
        assert said == {("CAM", "SUPX"), ("CELL", "SUPY")}
