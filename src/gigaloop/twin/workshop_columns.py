"""The per-vehicle columns the workshop (:mod:`gigaloop.twin.service`) keeps, and their
values for new vehicles: when each component fails, codes and is complained about, which
fault owns its life, and its lots' background frailty.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from gigaloop.twin.effects import GeneralFault
from gigaloop.twin.hazards import COMPONENTS, Component


def workshop_columns(components: Sequence[Component] = COMPONENTS,
                     general: Sequence[GeneralFault] = (),
                     frailty: Sequence[str] = ()) -> dict[str, type]:
    """Per-vehicle columns the workshop keeps: latent multipliers; per component the clock
    value of its failure, of its precursor code and of its owner's complaint (inf when none
    is due); per general
    hazard fault the unit's excess, and per component one raises the fault that owns its
    current life; per component in ``frailty`` its lots' background hazard factor.

    >>> sorted(workshop_columns())[:4]
    ['dtc_12v_battery', 'dtc_battery_pack', 'dtc_body_seam', 'dtc_camera']
    >>> [c for c in sorted(workshop_columns()) if c.startswith("symptom")][:2]
    ['symptom_12v_battery', 'symptom_battery_pack']
    """
    hazards = [g for g in general if g.component >= 0]
    return {"seam_defect": np.float32, "trim_defect": np.float32, "pack_defect": np.float32,
            **{f"life_{c.name}": np.float64 for c in components},
            **{f"dtc_{c.name}": np.float64 for c in components},
            **{f"symptom_{c.name}": np.float64 for c in components},
            **{f"excess_{g.id}": np.float32 for g in hazards},
            **{f"cause_{components[g.component].name}": np.int16 for g in hazards},
            **{f"frailty_{name}": np.float32 for name in frailty}}


def new_workshop_values(columns: Iterable[str], excess: dict[str, np.ndarray],
                        frailty: dict[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    """Starting values of the workshop's own columns (:func:`workshop_columns`, latent
    multipliers aside) for ``n`` new vehicles: no life or code due yet, the units' excess
    hazards and lot frailties, no fault owning a life.

    >>> values = new_workshop_values(["life_camera", "cause_camera", "frailty_camera"],
    ...                              {}, {"camera": np.array([1.1])}, 1)
    >>> {k: v.tolist() for k, v in values.items()}
    {'life_camera': [inf], 'cause_camera': [-1.0], 'frailty_camera': [1.1]}
    """
    zeros, values = np.zeros(n), {}
    for column in columns:
        if column[:4] in ("life", "dtc_", "symp"):
            values[column] = np.full(n, np.inf)
        elif column.startswith("excess_"):
            values[column] = excess.get(column.removeprefix("excess_"), zeros)
        elif column.startswith("cause_"):
            values[column] = zeros - 1
        elif column.startswith("frailty_"):
            values[column] = frailty.get(column.removeprefix("frailty_"), zeros + 1)
    return values
