"""What the plant hands the fleet: the units built on a day, with their hidden latent state.

The visible part (VIN, build day, model, trim, hardware revision) also reaches the store
through the genealogy tables. The latent part never does: it is how the twin turns
factory conditions into field behaviour, and only the twin and its truth see it.

>>> units = BuiltUnits.empty()
>>> len(units), sorted(units.latent)[-3:]
(0, ['rain_perception', 'seam_defect', 'trim_defect'])

A scenario's general faults (:mod:`gigaloop.twin.effects`) mark units in ``excess``: per
fault id, the unit's extra hazard (multiplier − 1) or its probability of going to the
confounding customers; a unit a fault left alone has 0 there, or no entry at all.

>>> marked = BuiltUnits(np.array(["V1"]), np.array([3]), *np.full((3, 1), "x"))
>>> marked.excess["lot-fault"] = np.array([1.5])
>>> plain = BuiltUnits(np.array(["V2"]), np.array([3]), *np.full((3, 1), "x"))
>>> BuiltUnits.concat([plain, marked]).excess["lot-fault"].tolist()
[0.0, 1.5]

Background differences (:mod:`gigaloop.twin.background`) give a unit, per failure mode its
lots can cause, a hazard factor in ``frailty`` (1 where absent): no fault, no fault id.

>>> marked.frailty["camera"] = np.array([1.04])
>>> BuiltUnits.concat([plain, marked]).frailty["camera"].tolist()
[1.0, 1.04]
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Multipliers (1.0 = nominal) and probabilities carried by every built unit.
LATENT_KEYS = (
    "seam_defect",       # body-seam failure hazard multiplier (weld current off nominal)
    "trim_defect",       # paint/trim failure hazard multiplier (GA-010 under-torque)
    "cell_fade",         # battery fade-rate multiplier (cell lot quality)
    "pack_defect",       # battery-pack failure hazard multiplier (cell lot quality)
    "rain_perception",   # rain disengagement / crash multiplier (camera hardware revision)
    "hot_climate_bias",  # extra probability of delivery to a hot region (0 = none)
)

#: Which fault (scenario id, "" for none) made each latent differ from nominal.
FAULT_KEYS = ("seam_defect", "trim_defect", "cell_fade", "rain_perception", "hot_climate_bias")

#: Units built per day by scale (a Giga line builds ≈ 714/day: 5,000 Model Y a week).
SCALES: dict[str, int] = {"small": 80, "medium": 240, "large": 720}


@dataclass
class BuiltUnits:
    """Units that left end of line on one day; arrays are aligned by position."""

    vin: np.ndarray
    build_day: np.ndarray
    model: np.ndarray
    trim: np.ndarray
    hardware_revision: np.ndarray
    latent: dict[str, np.ndarray] = field(default_factory=dict)
    fault_id: dict[str, np.ndarray] = field(default_factory=dict)
    excess: dict[str, np.ndarray] = field(default_factory=dict)
    frailty: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.vin)
        for key in LATENT_KEYS:
            default = 0.0 if key == "hot_climate_bias" else 1.0
            self.latent.setdefault(key, np.full(n, default))
        for key in FAULT_KEYS:
            self.fault_id.setdefault(key, np.full(n, "", dtype=object))
        for name, arr in [*self.latent.items(), *self.fault_id.items(), *self.excess.items(),
                          *self.frailty.items()]:
            if len(arr) != n:
                raise ValueError(f"latent {name!r} has {len(arr)} values for {n} units")

    def __len__(self) -> int:
        return len(self.vin)

    @classmethod
    def empty(cls) -> BuiltUnits:
        none = np.array([], dtype=object)
        return cls(none, np.array([], dtype=np.int64), none, none, none)

    def take(self, which: np.ndarray) -> BuiltUnits:
        """The units at ``which`` (a mask or positions), in that order."""
        vin, build_day, model, trim, revision = (np.asarray(getattr(self, k))[which]
                                                 for k in _VISIBLE)
        return BuiltUnits(vin, build_day, model, trim, revision,
                          latent={k: np.asarray(v)[which] for k, v in self.latent.items()},
                          fault_id={k: np.asarray(v)[which] for k, v in self.fault_id.items()},
                          excess={k: np.asarray(v)[which] for k, v in self.excess.items()},
                          frailty={k: np.asarray(v)[which] for k, v in self.frailty.items()})

    @classmethod
    def concat(cls, parts: list[BuiltUnits]) -> BuiltUnits:
        """One batch of ``parts``' units, in order."""
        if len(parts) == 1:
            return parts[0]
        vin, build_day, model, trim, revision = (
            np.concatenate([np.asarray(getattr(p, k)) for p in parts]) for k in _VISIBLE)
        return cls(vin, build_day, model, trim, revision,
                   latent={k: np.concatenate([p.latent[k] for p in parts])
                           for k in parts[0].latent},
                   fault_id={k: np.concatenate([p.fault_id[k] for p in parts])
                             for k in parts[0].fault_id},
                   excess={k: np.concatenate([p.excess.get(k, np.zeros(len(p))) for p in parts])
                           for k in dict.fromkeys(k for p in parts for k in p.excess)},
                   frailty={k: np.concatenate([p.frailty.get(k, np.ones(len(p))) for p in parts])
                            for k in dict.fromkeys(k for p in parts for k in p.frailty)})


_VISIBLE = ("vin", "build_day", "model", "trim", "hardware_revision")


def demo_units(n: int, *, build_day: int, seed: int = 0, **latent: float) -> BuiltUnits:
    """``n`` units built on ``build_day`` with VINs ``DEMO…`` and the given latent values."""
    vins = np.array([f"DEMO{seed:03d}{build_day:05d}{i:05d}" for i in range(n)], dtype=object)
    kinds = np.full(n, "", dtype=object)
    units = BuiltUnits(vins, np.full(n, build_day, np.int64), kinds + "Model Y",
                       kinds + "Long Range", kinds + "HW4")
    for key, value in latent.items():
        units.latent[key] = np.full(n, value)
    return units
