"""Random scenarios: a valid world drawn from the general fault vocabulary, given a seed.

:func:`random_scenario` draws suppliers, parts and their lots, one to three catalogue
failure modes, one to three real faults (a weak part lot or a supplier's window, a process
parameter's dose at a station, a design revision or trim) and zero to two red herrings
(a level whose units go to high-mileage or hot / cold customers). Effect sizes are drawn
log-uniformly over the hazard ratios warranty data shows (×1.3–3, FIGURES.md); each real
fault's finding states the failures it should add within the run and the marked units'
own background, how far the first stands out of the second (``expected_z``) and whether
that passes :data:`DETECTABLE_Z`.

>>> text = random_scenario(7)
>>> scenario = load_scenario_text(text)
>>> scenario.scenario.name, text == random_scenario(7)
('random-7', True)
>>> all(f.finding.detectable is not None for f in scenario.faults if not f.finding.red_herring)
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gigaloop.errors import ConfigError
from gigaloop.twin import customers as cust
from gigaloop.twin.climate import CLIMATE_INDEX
from gigaloop.twin.effects import CLOCK_YEAR
from gigaloop.twin.fault_rules import CONFOUND_KINDS, HAZARD_KINDS
from gigaloop.twin.hazards import REFERENCE_DAILY_MILES, Component
from gigaloop.twin.identity import TRIMS
from gigaloop.twin.layout import STATIONS
from gigaloop.twin.lots import Supply
from gigaloop.twin.modes import catalogue
from gigaloop.twin.scenario import Part, load_scenario_text
from gigaloop.twin.toml_text import toml_text
from gigaloop.twin.units import SCALES

#: A real fault counts as detectable when the failures it should add within the run, X,
#: stand this many standard deviations out in the best test data allow: its marked units
#: (hazard ratio m, a share s of the units they are compared with) against the rest, by
#: the log-rank's observed minus expected, z = X·√(1 − s) / √(B + s·X) with B the marked
#: units' background failures (B = X / (m − 1) when the fault keeps the mode's shape and
#: has no conditions, so for a small s, z = √(X (m − 1))). A weekly scan of ~25,000 tests
#: at a false discovery rate of 1 % needs about z ≈ 5.
DETECTABLE_Z = 5.0
HAZARD_RATIO_RANGE = (1.3, 3.0)
#: Parts a random plant may buy: (part number, name, category, lot prefix).
PART_POOL = (("BAT-CELL-R1", "battery_cell", "battery", "CELL"),
             ("CAST-ALLOY-R1", "casting_alloy", "body", "ALLOY"),
             ("CAM-FWD-R1", "camera", "electronics", "CAM"),
             ("DU-REAR-R1", "drive_unit", "powertrain", "DU"),
             ("SEAL-DOOR-R1", "door_seal", "body", "SEAL"),
             ("HOSE-COOL-R1", "coolant_hose", "thermal", "HOSE"),
             ("PRIMER-R1", "primer", "paint", "PRIM"),
             ("BRG-HUB-R1", "hub_bearing", "chassis", "HUB"))
#: Process parameters that already drive a built-in defect law are left to their own kinds.
SKIP_PARAMETERS = {("BW-010", "weld_current"), ("BW-020", "weld_current"),
                   ("BW-030", "weld_current"), ("GA-010", "torque"),
                   ("EOL-010", "isolation_resistance")}
DELIVERY_MEAN_DAYS = 6.5


def expected_z(excess: float, background: float, share: float = 0.0) -> float:
    """How many standard deviations ``excess`` failures of marked units (``share`` of those
    they are compared with) stand out against the rest: their observed minus expected
    failures over its spread, the marked units' own ``background`` failures (those they
    would have without the fault) part of it. A large share is its own comparison's
    background: a trim of 40 % of the builds needs more excess than a lot of 2 %.

    >>> round(expected_z(25.0, 25.0), 1), round(expected_z(25.0, 25.0 / 0.3), 1)
    (5.0, 2.7)
    >>> round(expected_z(40.0, 40.0 / 1.26, share=0.4), 1)
    4.5
    """
    if excess <= 0:
        return 0.0
    return float(excess * np.sqrt(1.0 - share) / np.sqrt(max(background, 0.0) + share * excess))


def _identifiable(fault: dict[str, Any], parts: list[dict[str, Any]]) -> bool:
    """Whether data can tell the fault's cause from any other cause of its period: not a
    supplier's window on a part that supplier alone ships, which marks every unit built in
    the window — a drifting machine, another part's bad run or a new operator then would
    mark the same units.

    >>> parts = [{"part_number": "P", "shares": {"SUPA": 1.0}}]
    >>> _identifiable({"where": {"part": "P", "supplier": "SUPA"}}, parts)
    False
    >>> _identifiable({"where": {"part": "P", "lots": ["P-1"]}}, parts)
    True
    """
    where = fault.get("where", {})
    if "supplier" not in where:
        return True
    part = next(p for p in parts if p["part_number"] == where["part"])
    return len(part["shares"]) > 1


def units_per_day(days: int, scale: str) -> int:
    """The units a day of ``scale`` builds, for a drawn run of ``days`` (at least one).

    >>> units_per_day(365, "nowhere")
    Traceback (most recent call last):
    gigaloop.errors.ConfigError: unknown scale 'nowhere'; use one of: small, medium, large
    """
    if scale not in SCALES:
        raise ConfigError(f"unknown scale {scale!r}; use one of: {', '.join(SCALES)}")
    if days < 1:
        raise ConfigError(f"a run of {days} days: draw a world for at least one day")
    return SCALES[scale]


def random_scenario(seed: int, *, days: int = 365, scale: str = "small") -> str:
    """A valid scenario (TOML text) drawn from ``seed`` for a run of ``days`` at ``scale``."""
    rng = np.random.default_rng([seed, 20_251_105])
    world = _World(rng, seed, days, units_per_day(days, scale))
    real = [world.hazard_fault(k, str(rng.choice(HAZARD_KINDS)))
            for k in range(1, int(rng.integers(1, 4)) + 1)]
    herrings = [world.confound(k, str(rng.choice(CONFOUND_KINDS)))
                for k in range(1, int(rng.integers(0, 3)) + 1)]
    doc = {"scenario": {"name": f"random-{seed}", "start_date": world.start,
                        "description": f"Drawn by gigaloop.twin.random_scenario, seed {seed}."},
           "suppliers": world.suppliers, "parts": world.parts,
           "failure_modes": [{"name": m} for m in world.declared],
           "faults": real + herrings}
    text = toml_text(doc)
    load_scenario_text(text, origin=f"random-{seed}")   # always valid: checked here
    return text


class _World:
    """What the draws so far fixed: suppliers, parts, declared modes, lot build days."""

    def __init__(self, rng: np.random.Generator, seed: int, days: int, per_day: int) -> None:
        self.rng, self.days, self.per_day = rng, days, per_day
        self.start = f"2025-{int(rng.integers(1, 13)):02d}-{int(rng.integers(1, 29)):02d}"
        ids = rng.choice(list("ABCDEFGHJKLMNPQRSTUVWXYZ"), size=6, replace=False)
        self.suppliers = [{"supplier_id": f"SUP{s}", "name": f"Supplier {s}",
                           "country": str(rng.choice(["US", "MX", "KR", "JP", "DE", "TW"]))}
                          for s in ids]
        picked = rng.choice(len(PART_POOL), size=int(rng.integers(3, 6)), replace=False)
        self.parts = []
        for k, p in enumerate(sorted(picked)):
            number, name, category, prefix = PART_POOL[p]
            chosen = rng.choice(ids, size=int(rng.integers(1, 3)), replace=False)
            shares = dict(zip([f"SUP{s}" for s in chosen],
                              np.round(rng.dirichlet(np.full(len(chosen), 4.0)), 2).tolist(),
                              strict=True))
            part: dict[str, Any] = {"part_number": number, "name": name, "category": category,
                                    "lot_prefix": prefix,
                                    "lot_size_days": float(rng.choice([1.0, 1.5, 2.0, 3.0])),
                                    "shares": {s: max(v, 0.1) for s, v in shares.items()}}
            if k == 0 and len(shares) > 1:
                part["revisions"] = {s: f"{prefix}-{chr(65 + j)}" for j, s in enumerate(shares)}
            self.parts.append(part)
        modes = sorted(catalogue())
        self.declared = [str(m) for m in rng.choice(modes, size=int(rng.integers(1, 4)),
                                                    replace=False)]
        self.scenario = load_scenario_text(toml_text({
            "scenario": {"name": "draft", "start_date": self.start},
            "suppliers": self.suppliers, "parts": self.parts,
            "failure_modes": [{"name": m} for m in self.declared]}))
        self.components = {c.name: c for c in self.scenario.components}
        self.lot_days = lot_first_days(self.scenario.parts, per_day, days)
        drivers = cust.draw_drivers(np.random.default_rng(seed), np.zeros(20_000))
        self.drivers = {"climate": drivers["climate"],
                        "daily": drivers["mean_miles"] * cust.DRIVE_PROBABILITY}

    # ---- real faults -------------------------------------------------------------------
    def hazard_fault(self, k: int, kind: str) -> dict[str, Any]:
        rng = self.rng
        targets = [*self.declared, *(c for c in self.components if c not in self.declared)]
        mode = str(targets[0] if rng.random() < 0.5 else rng.choice(targets))
        ratio = float(np.exp(rng.uniform(*np.log(HAZARD_RATIO_RANGE))))
        fault: dict[str, Any] = {"id": f"R{k}-{kind}", "kind": kind, "mode": mode}
        effect: dict[str, float] = {"hazard_ratio": round(ratio, 3)}
        if rng.random() < 0.3:
            effect["shape"] = round(float(rng.uniform(0.7, 3.0)), 2)
        cohort, share = self._cohort(kind, fault, effect, ratio)
        if rng.random() < 0.2:
            fault["climate"] = str(rng.choice(list(CLIMATE_INDEX)))
        elif rng.random() < 0.15:
            effect["min_daily_miles"] = float(rng.choice([30, 40, 60]))
        fault["effect"] = effect
        expected, background = self._expected(self.components[mode], cohort, ratio, effect,
                                              fault.get("climate"))
        fault["finding"]["hazard_ratio"] = round(ratio, 3)
        fault["finding"]["expected_excess_failures"] = round(expected, 1)
        fault["finding"]["expected_background_failures"] = round(background, 1)
        z = expected_z(expected, background, share)
        fault["finding"]["marked_share"] = round(share, 4)
        fault["finding"]["expected_z"] = round(z, 2)
        identifiable = _identifiable(fault, self.parts)
        if not identifiable:
            fault["finding"]["identifiable"] = False
        fault["finding"]["detectable"] = bool(z >= DETECTABLE_Z and identifiable)
        return fault

    def _cohort(self, kind: str, fault: dict[str, Any], effect: dict[str, float],
                ratio: float) -> tuple[list[tuple[float, float]], float]:
        """Fill ``where``, window and finding; return (build day, units) of the marked
        units, with the mean excess hazard each carries folded into the count, and their
        share of the units they are compared with (:func:`expected_z`)."""
        rng, days, per_day = self.rng, self.days, self.per_day
        mode = fault["mode"]
        if kind == "part_lot_hazard":
            part = self.parts[int(rng.integers(len(self.parts)))]
            lots = [lot for lot, day in self.lot_days[part["part_number"]].items()
                    if 10 <= day <= 0.5 * days]
            if rng.random() < 0.6 and lots:
                first = int(rng.integers(len(lots)))
                chosen = lots[first:first + int(rng.integers(2, 9))]
                fault["where"] = {"part": part["part_number"], "lots": chosen}
                fault.update(starts=0)
                fault["finding"] = {"failure_mode": mode, "names": {
                    "part": part["part_number"], "lot": chosen}}
                size = part["lot_size_days"] * per_day
                return ([(self.lot_days[part["part_number"]][lot], size * (ratio - 1))
                         for lot in chosen], size * len(chosen) / (per_day * days))
            supplier = str(rng.choice(list(part["shares"])))
            start, stop = self._window(60, 150)
            fault["where"] = {"part": part["part_number"], "supplier": supplier}
            fault.update(starts=start, stops=stop)
            fault["finding"] = {"failure_mode": mode, "names": {"part": part["part_number"],
                                                                 "supplier": supplier}}
            share = part["shares"][supplier] / sum(part["shares"].values())
            return [(d, share * per_day * (ratio - 1)) for d in range(start, stop)], share
        if kind == "design_revision":
            revisions = sorted(self.scenario.hardware_revisions)
            start = int(rng.integers(10, max(days // 3, 11)))
            fault.update(starts=start)
            if revisions and rng.random() < 0.5:
                revision = str(rng.choice(revisions))
                fault["where"] = {"hardware_revision": revision}
                fault["finding"] = {"failure_mode": mode,
                                    "names": {"hardware_revision": revision}}
                part = next(p for p in self.parts if "revisions" in p)
                supplier = next(s for s, r in part["revisions"].items() if r == revision)
                share = part["shares"][supplier] / sum(part["shares"].values())
            else:
                name, _, share = TRIMS[int(rng.integers(len(TRIMS)))]
                fault["where"] = {"trim": name}
                fault["finding"] = {"failure_mode": mode, "names": {"trim": name}}
            return [(d, share * per_day * (ratio - 1)) for d in range(start, days)], share
        return self._process(fault, effect, ratio)

    def _process(self, fault: dict[str, Any], effect: dict[str, float],
                 ratio: float) -> tuple[list[tuple[float, float]], float]:
        """A parameter's shift on one machine over a window, or its natural spread."""
        rng, days, per_day = self.rng, self.days, self.per_day
        effect.pop("hazard_ratio")
        choices = [(st, p) for st in STATIONS for p in st.parameters
                   if (st.station_id, p.name) not in SKIP_PARAMETERS]
        st, parameter = choices[int(rng.integers(len(choices)))]
        sigma = parameter.sigma
        where: dict[str, Any] = {"station": st.station_id, "parameter": parameter.name}
        sign = 1.0 if rng.random() < 0.5 else -1.0
        if rng.random() < 0.75:          # a shift on one machine over a window
            machine = str(rng.choice(st.machine_ids))
            shift = sign * float(rng.uniform(2.0, 4.0)) * sigma
            threshold = float(rng.uniform(0.5, 1.5)) * sigma
            start, stop = self._window(30, 90)
            where["machine"] = machine
            effect.update(shift=round(shift, 4), ramp_days=float(rng.integers(0, 6)))
            fault.update(starts=start, stops=stop)
            names: dict[str, Any] = {**where, "window": [start, stop]}
            offset, units = shift, [(d, per_day / len(st.machine_ids)) for d in range(start, stop)]
        else:                             # the natural spread beyond a threshold
            threshold = float(rng.uniform(1.0, 1.6)) * sigma
            fault.update(starts=0)
            names, offset = dict(where), 0.0
            units = [(d, per_day) for d in range(days)]
        dose = np.maximum(sign * (offset + sigma * np.random.default_rng(1).standard_normal(
            50_000)) - threshold, 0.0) ** 2
        beyond = float((dose > 0).mean())
        # slope: marked units (beyond the threshold) carry a mean multiplier of ``ratio``
        slope = (ratio - 1.0) * beyond / float(dose.mean())
        effect.update(threshold=round(threshold, 4), slope=float(f"{slope:.4g}"))
        fault["where"], fault["side"] = where, "high" if sign > 0 else "low"
        fault["finding"] = {"failure_mode": fault["mode"], "names": names}
        marked = sum(n for _, n in units) * beyond
        return [(d, n * beyond * (ratio - 1.0)) for d, n in units], marked / (per_day * days)

    def _window(self, shortest: int, longest: int) -> tuple[int, int]:
        """A fault's window: it starts on day 10 or later and ends by the run's last day,
        or a day after it starts in a run too short to hold it."""
        start = int(self.rng.integers(10, max(int(0.5 * self.days) - shortest, 11)))
        stop = min(start + int(self.rng.integers(shortest, longest + 1)), self.days - 1)
        return start, max(stop, start + 1)

    def _expected(self, comp: Component, cohort: list[tuple[float, float]], ratio: float,
                  effect: dict[str, float], climate: str | None) -> tuple[float, float]:
        """The failures the fault should add by the run's end, and those its marked units
        would have without it: per build day, the marked units' excess hazard (their own
        hazard) times the nominal cumulative hazard over their time in service — the
        excess with the fault's shape among the drivers its conditions name, the
        background with the mode's own shape among all. The two differ by more than the
        ratio less one where the fault has a shape of its own or conditions: a late-rising
        hazard on young cars adds few failures over many a background brings."""
        ok = np.ones(len(self.drivers["daily"]), bool)
        if climate is not None:
            ok &= self.drivers["climate"] == CLIMATE_INDEX[climate]
        ok &= self.drivers["daily"] >= effect.get("min_daily_miles", 0.0)
        weights = np.asarray(comp.climate)[self.drivers["climate"]]
        nominal = -np.log1p(-comp.first_year)
        excess = background = 0.0
        for day, excess_units in cohort:
            service = max(self.days - day - DELIVERY_MEAN_DAYS, 0.0)
            years = service * (REFERENCE_DAILY_MILES if comp.clock == "miles" else 1.0) \
                / CLOCK_YEAR[comp.clock]
            excess += excess_units * years ** effect.get("shape", comp.shape)
            background += excess_units * years ** comp.shape
        return (excess * nominal * float(np.where(ok, weights, 0.0).mean()),
                background / (ratio - 1.0) * nominal * float(weights.mean()))

    # ---- red herrings ------------------------------------------------------------------
    def confound(self, k: int, kind: str) -> dict[str, Any]:
        rng = self.rng
        options: list[dict[str, Any]] = [{"shift": str(rng.choice(["A", "B", "C"]))},
                                         {"trim": TRIMS[int(rng.integers(len(TRIMS)))][0]}]
        several = [p for p in self.parts if len(p["shares"]) > 1]
        if several:
            part = several[int(rng.integers(len(several)))]
            options.append({"part": part["part_number"],
                            "supplier": str(rng.choice(list(part["shares"])))})
        where = options[int(rng.integers(len(options)))]
        fault: dict[str, Any] = {"id": f"H{k}-{kind}", "kind": kind, "where": where,
                                 "starts": 0}
        share = round(float(rng.uniform(0.4, 0.8)), 2)
        if kind == "usage_confound":
            fault["effect"] = {"share": share,
                               "miles_multiplier": round(float(rng.uniform(2.0, 3.0)), 2)}
            sensitive = [c.name for c in self.components.values()
                         if c.clock == "miles" or c.usage_exponent > 0]
        else:
            climate = str(rng.choice(["hot", "cold"]))
            fault["effect"], fault["climate"] = {"share": share}, climate
            factor = CLIMATE_INDEX[climate]
            sensitive = [c.name for c in sorted(self.components.values(),
                                                key=lambda c: -c.climate[factor])
                         if c.climate[factor] >= 1.2]
            if climate == "hot":
                sensitive.append("battery_fade")
        fault["finding"] = {"failure_mode": sensitive[0], "related_modes": sensitive[1:],
                            "names": dict(where), "red_herring": True}
        return fault


def lot_first_days(parts: list[Part], per_day: int, days: int) -> dict[str, dict[str, int]]:
    """The build day each lot of each part is first used (the supply is deterministic)."""
    supply = Supply(parts, units_per_day=per_day)
    first: dict[str, dict[str, int]] = {p.part_number: {} for p in parts}
    for day in range(days):
        assigned, _ = supply.assign(per_day)
        for number, ids in assigned.items():
            for lot in dict.fromkeys(ids.tolist()):
                first[number].setdefault(lot, day)
    return first

