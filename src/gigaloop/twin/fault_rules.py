"""What each fault kind needs: its ``where`` keys, effect sizes and fields, and the checks
of what it names against the scenario's parts, the line's stations and the fleet.

The general kinds (:data:`GENERAL_KINDS`) raise a failure mode's hazard from a part's lots,
a process parameter's dose, or a design; or, as red herrings, send a level's units to
customers who use them harder. Their meaning: docs/scenarios.md.

>>> KIND_RULES["part_lot_hazard"].where_text()
"['part'] and one of ['lot', 'lots', 'supplier']"
>>> KIND_RULES["process_defect"].where_fits({"station", "parameter"})
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from gigaloop.schema.plant import SHIFTS
from gigaloop.twin.identity import TRIMS
from gigaloop.twin.layout import MACHINE_IDS, STATIONS, station

if TYPE_CHECKING:
    from gigaloop.twin.scenario import Fault, Scenario

HAZARD_KINDS = ("part_lot_hazard", "process_defect", "design_revision")
CONFOUND_KINDS = ("usage_confound", "selection_confound")
GENERAL_KINDS = (*HAZARD_KINDS, *CONFOUND_KINDS)
#: The attributes a confound may pick a level of.
LEVEL_KEYS = ("shift", "trim", "hardware_revision", "lot", "supplier")


@dataclass(frozen=True)
class Rule:
    """``where`` keys (all of ``where``, exactly one of ``one_of``, any of ``optional``),
    effect sizes (required, optional) and the optional fields the kind takes."""

    where: frozenset[str]
    effect: frozenset[str]
    effect_optional: frozenset[str] = frozenset()
    one_of: tuple[str, ...] = ()
    optional: frozenset[str] = frozenset()
    fields: frozenset[str] = frozenset()
    required_fields: frozenset[str] = frozenset()

    def where_fits(self, keys: set[str]) -> bool:
        rest = keys - self.where - self.optional
        return (self.where <= keys and len(rest & set(self.one_of)) == (1 if self.one_of else 0)
                and rest <= set(self.one_of))

    def where_text(self) -> str:
        text = str(sorted(self.where))
        if self.one_of:
            text += f" and one of {list(self.one_of)}"
        if self.optional:
            text += f" (optional {sorted(self.optional)})"
        return text


def _rule(where: set[str], effect: set[str], effect_optional: set[str] = frozenset(),  # type: ignore[assignment]
          **rest: object) -> Rule:
    return Rule(frozenset(where), frozenset(effect), frozenset(effect_optional),
                **{k: frozenset(v) if isinstance(v, set) else v for k, v in rest.items()})  # type: ignore[arg-type]


_HAZARD = {"shape", "min_daily_miles"}
KIND_RULES: dict[str, Rule] = {
    "weak_cell_lot": _rule({"lot"}, {"fade_multiplier", "pack_hazard_multiplier"},
                           {"resistance_shift"}),
    "weld_current_drift": _rule({"station", "machine"}, {"drift_ka", "ramp_days"}),
    "process_drift": _rule({"station", "machine", "parameter"}, {"drift", "ramp_days"}),
    "bearing_wear": _rule({"machine"}, {"pf_interval_days", "repair_hours"}),
    "camera_rain": _rule({"hardware_revision"}, {"rain_multiplier"}),
    "shift_climate_mix": _rule({"shift"}, {"hot_probability"}),
    "part_lot_hazard": _rule({"part"}, {"hazard_ratio"}, _HAZARD,
                             one_of=("lot", "lots", "supplier"), fields={"mode", "climate"},
                             required_fields={"mode"}),
    "process_defect": _rule({"station", "parameter"}, {"threshold", "slope"},
                            {"shift", "ramp_days", "power", *_HAZARD}, optional={"machine"},
                            fields={"mode", "climate", "side"}, required_fields={"mode"}),
    "design_revision": _rule(set(), {"hazard_ratio"}, _HAZARD,
                             one_of=("hardware_revision", "trim"), fields={"mode", "climate"},
                             required_fields={"mode"}),
    "usage_confound": _rule(set(), {"share", "miles_multiplier"}, one_of=LEVEL_KEYS,
                            optional={"part"}),
    "selection_confound": _rule(set(), {"share"}, one_of=LEVEL_KEYS, optional={"part"},
                                fields={"climate"}, required_fields={"climate"}),
}


def where_problem(scenario: Scenario, fault: Fault) -> str | None:
    """What is wrong with what ``fault`` names (``None`` when it all exists)."""
    where = fault.where
    if fault.kind == "weak_cell_lot":
        part = scenario.part_for_lot(str(where["lot"]))
        if part is None or part.name != "battery_cell":
            return (f"where.lot {where['lot']!r} must look like PREFIX-SUPPLIER-0001 for "
                    "a battery_cell part and one of its suppliers")
    if fault.kind in ("weld_current_drift", "process_drift", "process_defect"):
        problem = _station_problem(fault)
        if problem:
            return problem
    if fault.kind == "bearing_wear" and where["machine"] not in MACHINE_IDS:
        return f"where.machine {where['machine']!r} is not a machine; use one of {MACHINE_IDS}"
    revisions = scenario.hardware_revisions
    if fault.kind == "camera_rain" and where["hardware_revision"] not in revisions:
        return f"where.hardware_revision must be one of {sorted(revisions)}"
    if fault.kind == "shift_climate_mix" and where["shift"] not in SHIFTS:
        return f"where.shift must be one of {list(SHIFTS)}"
    if fault.kind in GENERAL_KINDS and fault.kind != "process_defect":
        return _level_problem(scenario, fault)
    return None


def _station_problem(fault: Fault) -> str | None:
    where = fault.where
    if where["station"] not in {s.station_id for s in STATIONS}:
        return f"where.station {where['station']!r} is not a station"
    target = station(str(where["station"]))
    if "machine" in where and where["machine"] not in target.machine_ids:
        return f"where.machine must be one of {list(target.machine_ids)}"
    names = [p.name for p in target.parameters]
    if fault.kind == "weld_current_drift" and "weld_current" not in names:
        return f"station {target.station_id} does not weld"
    if fault.kind != "weld_current_drift" and where["parameter"] not in names:
        return f"where.parameter must be one of {names} at {target.station_id}"
    if fault.kind == "process_defect" and fault.effect.get("shift") and "machine" not in where:
        return "a process_defect with a shift needs where.machine (the machine that shifts)"
    return None


def _level_problem(scenario: Scenario, fault: Fault) -> str | None:
    """Checks of the lot / supplier / revision / trim / shift a general fault names."""
    where = fault.where
    if {"lot", "lots", "supplier"} & set(where):
        parts = {p.part_number: p for p in scenario.parts}
        if where.get("part") not in parts:
            return f"where.part must be one of {sorted(parts)}"
        part = parts[str(where["part"])]
        lots = where.get("lots", [where["lot"]] if "lot" in where else [])
        for lot in [lots] if isinstance(lots, str) else lots:
            if scenario.part_for_lot(str(lot)) is not part:
                return (f"lot {lot!r} must look like {part.lot_prefix}-SUPPLIER-0001 with a "
                        f"supplier of {part.part_number}")
        if "supplier" in where and where["supplier"] not in part.shares:
            return f"where.supplier must be one of {sorted(part.shares)}"
    elif "part" in where:
        return "where.part goes with lot, lots or supplier"
    if "hardware_revision" in where and where["hardware_revision"] not in (
            scenario.hardware_revisions or {"HW-1"}):
        return f"where.hardware_revision must be one of {sorted(scenario.hardware_revisions)}"
    trims = [name for name, _, _ in TRIMS]
    if "trim" in where and where["trim"] not in trims:
        return f"where.trim must be one of {trims}"
    if "shift" in where and where["shift"] not in SHIFTS:
        return f"where.shift must be one of {list(SHIFTS)}"
    return None
