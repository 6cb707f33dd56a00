"""Background differences: lots, machines and shifts that differ a little, and harmlessly.

Outside an injected fault no two lots, machines or shifts of a real plant are identical.
The twin gives (levels: the scenario's ``[background]`` table, reasoning in
docs/scenarios.md):

* each machine a persistent offset of each process parameter's mean and a factor on its
  spread, and each shift (A, B, C) an offset of every station's parameters (operators,
  hall temperature), in fractions of the process σ — SPC sees them, the dose laws of
  docs/twin-plant.md barely do;
* each part lot a frailty: a lognormal factor on the hazard of the failure modes its part
  can cause (:data:`PART_MODES`), far below the ×1.3–3 of real warranty signals.

Every draw is a normal truncated at :data:`CLIP` of its standard deviation, fixed by the seed and
the name it belongs to (a machine and parameter, a shift, a lot id) and made on its own
generator, so the plant's other streams draw the same numbers with or without them. They are
real effects but no fault: the truth lists them under ``background``, never under ``faults``.

>>> from gigaloop.twin.scenario import BackgroundLevels
>>> offsets = ProcessOffsets(BackgroundLevels(), [1, 2, 3, 4])
>>> sigma = 0.10                                         # weld current, kA
>>> abs(offsets.machine_mean["BW-030-R2", "weld_current"]) <= CLIP * 0.15 * sigma
True
>>> frailty = LotFrailty(BackgroundLevels(), [1, 2, 3, 4])
>>> frailty.of("CELL-SUPB-0008") == frailty.of("CELL-SUPB-0008")
True
>>> ProcessOffsets(BackgroundLevels(identical=True), [1, 2, 3, 4]).machine_mean
{}
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any

import numpy as np

from gigaloop.schema.plant import SHIFTS
from gigaloop.twin.clock import shift_of
from gigaloop.twin.layout import STATIONS

if TYPE_CHECKING:
    from gigaloop.twin.scenario import BackgroundLevels, Part

#: A draw is truncated at this many of its own standard deviations: bounded, and small.
CLIP = 2.0
#: The failure modes a lot of each part (by name) can make more or less likely; a mode the
#: scenario does not have is skipped, a part not named here has no frailty.
PART_MODES: dict[str, tuple[str, ...]] = {
    "battery_cell": ("battery_pack",),
    "casting_alloy": ("underbody_crack",),
    "camera": ("camera",),
    "drive_unit": ("drive_unit", "drive_unit_noise"),
    "door_seal": ("body_seam",),
    "coolant_hose": ("coolant_leak",),
    "primer": ("paint_trim", "paint_delamination"),
    "hub_bearing": ("wheel_bearing_hub",),
}


def _normal(entropy: list[int], *name: str) -> float:
    """One standard normal truncated at ±:data:`CLIP` (drawn again beyond), fixed by the
    seed and ``name``."""
    rng = np.random.default_rng([*entropy, zlib.crc32("/".join(("background", *name)).encode())])
    z = rng.standard_normal()
    while abs(z) > CLIP:
        z = rng.standard_normal()
    return float(z)


class ProcessOffsets:
    """Per machine and parameter a mean offset and a spread factor, per shift, station and
    parameter an offset (in the parameter's unit); empty when the background is off."""

    def __init__(self, levels: BackgroundLevels, entropy: list[int]) -> None:
        self.machine_mean: dict[tuple[str, str], float] = {}
        self.machine_spread: dict[tuple[str, str], float] = {}
        self.shift_mean: dict[tuple[str, str, str], float] = {}
        if levels.off:
            return
        for st in STATIONS:
            for p in st.parameters:
                for machine in st.machine_ids:
                    key = (machine, p.name)
                    self.machine_mean[key] = (levels.machine_offset_sigmas * p.sigma
                                              * _normal(entropy, "mean", *key))
                    self.machine_spread[key] = float(np.exp(
                        levels.machine_spread * _normal(entropy, "spread", *key)))
                for shift in SHIFTS:
                    self.shift_mean[shift, st.station_id, p.name] = (
                        levels.shift_offset_sigmas * p.sigma
                        * _normal(entropy, "shift", shift, st.station_id, p.name))

    def offset(self, machine: str, station_id: str, parameter: str, t: np.ndarray
               ) -> tuple[np.ndarray | float, float]:
        """Mean offset of readings at local times ``t`` on ``machine``, and its spread factor."""
        if not self.machine_mean:
            return 0.0, 1.0
        by_shift = np.array([self.shift_mean[s, station_id, parameter] for s in SHIFTS])
        shifts = np.searchsorted(np.array(SHIFTS), shift_of(t).astype(str))
        return (self.machine_mean[machine, parameter] + by_shift[shifts],
                self.machine_spread[machine, parameter])

    def truth(self) -> dict[str, Any]:
        sigma = {(st.station_id, p.name): p.sigma for st in STATIONS for p in st.parameters}
        station_of = {m: st.station_id for st in STATIONS for m in st.machine_ids}
        return {
            "machines": [{"machine": m, "station": station_of[m], "parameter": p,
                          "mean_offset": value,
                          "mean_offset_sigmas": value / sigma[station_of[m], p],
                          "spread_factor": self.machine_spread[m, p]}
                         for (m, p), value in self.machine_mean.items()],
            "shifts": [{"shift": s, "station": st, "parameter": p, "mean_offset": value,
                        "mean_offset_sigmas": value / sigma[st, p]}
                       for (s, st, p), value in self.shift_mean.items()],
        }


class LotFrailty:
    """Each lot's hazard factor on its part's failure modes (1 when the background is off)."""

    def __init__(self, levels: BackgroundLevels, entropy: list[int]) -> None:
        self.sigma = 0.0 if levels.off else levels.lot_frailty
        self._entropy = entropy
        self.seen: dict[str, float] = {}

    def of(self, lot_id: str) -> float:
        if lot_id not in self.seen:
            self.seen[lot_id] = float(np.exp(self.sigma * _normal(self._entropy, "lot", lot_id)))
        return self.seen[lot_id]

    def units(self, parts: list[Part], lots: dict[str, np.ndarray], modes: set[str]
              ) -> dict[str, np.ndarray]:
        """Per failure mode, each unit's hazard factor: the product of its lots' frailties
        over the parts that can cause that mode (``lots``: lot ids by part number)."""
        if not self.sigma:
            return {}
        out: dict[str, np.ndarray] = {}
        for part in parts:
            caused = [m for m in PART_MODES.get(part.name, ()) if m in modes]
            if not caused:
                continue
            names, which = np.unique(lots[part.part_number].astype(str), return_inverse=True)
            factor = np.array([self.of(lot) for lot in names])[which]
            for mode in caused:
                out[mode] = out[mode] * factor if mode in out else factor
        return out

    def truth(self, parts: list[Part], modes: set[str]) -> list[dict[str, Any]]:
        part_of = {p.lot_prefix: p for p in parts}
        rows = []
        for lot_id, frailty in self.seen.items():
            part = part_of[lot_id.split("-")[0]]
            caused = [m for m in PART_MODES.get(part.name, ()) if m in modes]
            if caused:
                rows.append({"lot": lot_id, "part": part.part_number, "modes": caused,
                             "frailty": frailty})
        return rows


def frailty_modes(parts: list[Part], modes: set[str], levels: BackgroundLevels
                  ) -> tuple[str, ...]:
    """The failure modes some lot of the scenario can make frailer (none when it is off).

    >>> from gigaloop.twin.scenario import BackgroundLevels, load_scenario
    >>> scenario = load_scenario()
    >>> frailty_modes(scenario.parts, {c.name for c in scenario.components}, BackgroundLevels())
    ('battery_pack', 'camera', 'drive_unit')
    """
    if levels.off or not levels.lot_frailty:
        return ()
    return tuple(sorted({m for p in parts for m in PART_MODES.get(p.name, ()) if m in modes}))
