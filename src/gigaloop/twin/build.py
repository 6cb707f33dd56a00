"""From units that left end of line to store rows and latent state.

Given when each unit passed each station, this draws its process readings, lots,
inspections and hidden latent state (what the fleet turns into field behaviour), and
writes the genealogy, process and inspection tables of the day.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gigaloop.twin.background import LotFrailty
from gigaloop.twin.camera import Camera
from gigaloop.twin.cells import CellPolicies
from gigaloop.twin.clock import Clock, shift_of
from gigaloop.twin.effects import Effects
from gigaloop.twin.identity import MODEL, TRIMS, station_machines, vins_of
from gigaloop.twin.layout import STATIONS
from gigaloop.twin.lots import Supply
from gigaloop.twin.process import ProcessModel
from gigaloop.twin.readings import (
    MACHINE_NAMES,
    SEAM_STATIONS,
    STATION_IDS,
    TRIM_STATION,
    Readings,
    draw_readings,
)
from gigaloop.twin.scenario import Scenario
from gigaloop.twin.tables import arrow_table
from gigaloop.twin.units import BuiltUnits

SEAM_DEFECT_RATE = 0.006          # base share of bodies with a seam flaw the vision can see
#: The plant's own process laws (for the truth): what harms units whatever the scenario
#: injects — weld current off its schedule opens seams, under-torque loosens trim — and
#: the inspections that see the same latent defect (a seam flaw, a weak pack) in the units
#: they fail, which the line ships unless a module holds them for rework.
MECHANISMS = (
    *({"failure_mode": "body_seam", "names": {"station": station, "parameter": "weld_current"}}
      for station in SEAM_STATIONS),
    {"failure_mode": "paint_trim", "names": {"station": TRIM_STATION, "parameter": "torque"}},
    {"failure_mode": "body_seam", "names": {"station": "BW-040", "inspection": "weld_seam"}},
    {"failure_mode": "battery_pack", "names": {"station": "EOL-010",
                                               "inspection": "eol_function"}},
)
PAINT_SPEC_UM = (95.0, 125.0)
PAINT_READING = ("PT-010", "film_thickness")  # the film the paint gauge re-reads
#: Process readings an inspection sees again downstream, and the verdict that names them:
#: the paint gauge at PT-030 re-reads PT-010's film and fails it out of spec; the seam
#: vision at BW-040 fails the flaws that weld current off its schedule opens. The units an
#: inspection fails carry whatever that reading's defect does to them (for the truth: such
#: a finding names a process defect of the reading too).
INSPECTED_READINGS = {
    PAINT_READING: {"station": "PT-030", "inspection": "paint_thickness", "verdict": "failed"},
    **{(station, "weld_current"): {"station": "BW-040", "inspection": "weld_seam",
                                   "verdict": "failed"} for station in SEAM_STATIONS},
}
EOL_DEFECT_RATE = 0.008
EOL_CLASSES = ("isolation", "alignment", "electrical")
EOL_DETECTION = np.array([0.99, 0.90, 0.85])
TRIM_NAMES = pa.array([t[0] for t in TRIMS], pa.string())
#: Every process reading a unit gets: (station position, station, parameter), in line order.
INSPECTION_STATIONS = pa.array(["BW-040", "PT-030", "EOL-010"], pa.string())
SEAM_K = [s.station_id for s in STATIONS].index("BW-040")
PAINT_K = [s.station_id for s in STATIONS].index("PT-030")
INSPECTIONS = pa.array(["weld_seam", "paint_thickness", "eol_function"], pa.string())


@dataclass
class DayUnits:
    """What one day's finished units produced."""

    tables: dict[str, pa.Table]
    built: BuiltUnits
    defects_present: int = 0
    defects_escaped: int = 0
    affected: dict[str, int] = field(default_factory=dict)
    #: A supplier-window fault's lots that went into its marked units (for the scorer).
    affected_lots: dict[str, set[str]] = field(default_factory=dict)
    #: A hardware revision fault's lots of the part that carries revisions in its units.
    revision_lots: dict[str, set[str]] = field(default_factory=dict)
    #: A drift fault's units pushed past its law's dead band, net of control (the truth's
    #: ``pushed_units``: what a drift harmed; ``affected`` also holds a drifting machine's
    #: units past it by their own spread)
    pushed: dict[str, int] = field(default_factory=dict)


class UnitBuilder:
    """Turns station passage times into rows; keeps the fault lookups of the scenario."""

    def __init__(self, scenario: Scenario, clock: Clock, supply: Supply, process: ProcessModel,
                 entropy: list[int]) -> None:
        self.site = scenario.site
        self.clock = clock
        #: inspections whose failed units the line reworks (an engineering change's), and
        #: how many it reworked
        self.rework_failed: set[str] = set()
        self.reworked = 0
        self.supply = supply
        self.process = process
        self._entropy = entropy
        self.weak_lots = {f.where["lot"]: f for f in scenario.faults if f.kind == "weak_cell_lot"}
        self.rain = {f.where["hardware_revision"]: f for f in scenario.faults
                     if f.kind == "camera_rain"}
        self.revision_faults = [f for f in scenario.faults if "hardware_revision" in f.where]
        self.shift_bias = {f.where["shift"]: f for f in scenario.faults
                           if f.kind == "shift_climate_mix"}
        self.cell_part = next((p.part_number for p in scenario.parts if p.name == "battery_cell"),
                              None)
        self._lot_factor: dict[str, float] = {}
        self.effects = Effects(scenario)
        self.parts = scenario.parts
        self.modes = {c.name for c in scenario.components}
        self.frailty = LotFrailty(scenario.background, entropy)
        self.camera = Camera(entropy)
        weld_robots = [m for s in STATIONS if s.machine_kind == "weld_robot"
                       for m in s.machine_ids]
        self.cells = CellPolicies(weld_robots, scenario.cell_policies) \
            if scenario.cell_policies else None

    def lot_fade_factor(self, lot_id: str) -> float:
        """Lot-to-lot spread of cell fade (lognormal, 3 %), fixed by the seed and the lot id."""
        if lot_id not in self._lot_factor:
            rng = np.random.default_rng([*self._entropy, zlib.crc32(lot_id.encode())])
            self._lot_factor[lot_id] = float(np.exp(0.03 * rng.standard_normal()))
        return self._lot_factor[lot_id]

    def build(self, day: int, serials: np.ndarray, times: np.ndarray, done_s: np.ndarray,
              rng: np.random.Generator, design_revision: str) -> DayUnits:
        n = len(serials)
        trim_pick = rng.choice(len(TRIMS), size=n, p=[t[2] for t in TRIMS])
        vins = vins_of(trim_pick, self.site.site_id, serials)
        lots, opened = self.supply.assign(n)
        revision_part = self.supply.revision_part
        revisions = (self.supply.revision_of(lots[revision_part]) if revision_part
                     else np.full(n, "HW-1", dtype=object))
        shifts = shift_of(times)
        cell_lots = (lots[self.cell_part] if self.cell_part else np.full(n, "", dtype=object))
        latent, fault_ids = self._latent(cell_lots, revisions, shifts[:, -1])
        machines = station_machines(serials)
        weak = np.zeros(n)  # a weak cell lot's module resistance
        for lot, fault in self.weak_lots.items():
            weak[cell_lots == lot] = fault.effect.get("resistance_shift", 0.0)
        readings = draw_readings(self.process, self.cells, self.clock, vins, machines, times,
                                 weak, rng)
        latent.update(readings.defects)
        fault_ids.update(readings.faults)
        trims = np.array([t[0] for t in TRIMS], dtype=object)[trim_pick]
        excess = self.effects.mark(day, lots, {"shift": shifts[:, -1], "trim": trims,
                                               "hardware_revision": revisions},
                                   readings.true) if self.effects.faults else {}
        inspections, present, escaped, (flaw, passed) = self._inspect(vins, times, readings,
                                                                      latent, rng)
        camera = self.camera.inspect(
            day, vins.to_numpy(zero_copy_only=False), times[:, [SEAM_K, PAINT_K]], flaw,
            passed, latent["seam_defect"], self.clock.to_utc)
        if self.camera.folder is not None:  # the loop's model gives the weld verdict
            inspections = inspections.filter(pc.not_equal(inspections["inspection"],
                                                          "weld_seam"))
        camera_results = camera.pop("inspection_results", None)
        if camera_results is not None:
            inspections = pa.concat_tables([inspections, camera_results])
        built_date = self.clock.date_of(day)
        done_utc = self.clock.to_utc(done_s)
        every = np.arange(n)
        tables = {
            "lots": arrow_table("lots", {
                "lot_id": [lot.lot_id for lot in opened],
                "part_number": [lot.part_number for lot in opened],
                "supplier_id": [lot.supplier_id for lot in opened],
                "manufactured_on": [built_date - timedelta(days=7 + zlib.crc32(
                    lot.lot_id.encode()) % 34) for lot in opened],
                "quantity": [lot.quantity for lot in opened],
                "event_time": self.clock.to_utc(np.array(
                    [times[lot.first_unit, 0] for lot in opened], dtype=float))}),
            "vehicles": arrow_table("vehicles", {
                "vin": vins, "build_date": built_date, "site_id": self.site.site_id,
                "line_id": self.site.line_id, "shift": shifts[:, -1], "model": MODEL,
                "trim": TRIM_NAMES.take(trim_pick), "hardware_revision": revisions,
                "design_revision": design_revision, "event_time": done_utc}),
            "vehicle_lots": arrow_table("vehicle_lots", {
                "vin": vins.take(np.tile(every, len(lots))),
                "part_number": pa.array(list(lots), pa.string()).take(
                    np.repeat(np.arange(len(lots)), n)),
                "lot_id": np.concatenate(list(lots.values())),
                "event_time": np.tile(done_utc, len(lots))}),
            "vehicle_stations": arrow_table("vehicle_stations", {
                "vin": vins.take(np.tile(every, len(STATIONS))),
                "station_id": STATION_IDS.take(np.repeat(np.arange(len(STATIONS)), n)),
                "machine_id": MACHINE_NAMES.take(machines.T.reshape(-1)),
                "shift": shifts.T.reshape(-1),
                "event_time": self.clock.to_utc(times.T.reshape(-1))}),
            "process_readings": readings.table,
            "inspection_results": inspections,
            **camera,
        }
        built = BuiltUnits(vins.to_numpy(zero_copy_only=False), np.full(n, day, dtype=np.int64),
                           np.full(n, MODEL, dtype=object), trims, revisions, latent, fault_ids,
                           excess, self.frailty.units(self.parts, lots, self.modes))
        affected = {fault_id: int((marks > 0).sum()) for fault_id, marks in excess.items()}
        pushed = dict(readings.pushed)
        if self.effects.faults:
            pushed.update(self.effects.pushed(day, excess, readings.undrifted))
        for ids in fault_ids.values():
            for fault_id, count in zip(*np.unique(ids[ids != ""], return_counts=True),
                                       strict=True):
                affected[str(fault_id)] = int(count)
        return DayUnits({k: v for k, v in tables.items() if v.num_rows}, built, present, escaped,
                        affected, self._supplier_lots(lots, excess),
                        self._revision_lots(lots, revisions, excess),
                        {k: v for k, v in pushed.items() if v})

    def _supplier_lots(self, lots: dict[str, np.ndarray], excess: dict[str, np.ndarray]
                       ) -> dict[str, set[str]]:
        """The lots of the named part in the units a supplier-window fault marked."""
        out = {}
        for general in self.effects.faults:
            where, marks = general.fault.where, excess.get(general.fault.id)
            if "supplier" in where and marks is not None:
                out[general.fault.id] = set(lots[str(where["part"])][marks > 0].astype(str))
        return out

    def _revision_lots(self, lots: dict[str, np.ndarray], revisions: np.ndarray,
                       excess: dict[str, np.ndarray]) -> dict[str, set[str]]:
        """The lots of the part that carries revisions in the units of each fault naming a
        hardware revision: a lot of them names part of the fault (for the scorer)."""
        part = self.supply.revision_part
        if part is None:
            return {}
        out = {}
        for fault in self.revision_faults:
            marked = excess[fault.id] > 0 if fault.id in excess else \
                revisions == fault.where["hardware_revision"]
            if marked.any():
                out[fault.id] = set(lots[part][marked].astype(str))
        return out

    def _latent(self, cell_lots: np.ndarray, revisions: np.ndarray, shifts: np.ndarray
                ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        n = len(cell_lots)
        names, which = np.unique(cell_lots.astype(str), return_inverse=True)
        fade = np.array([self.lot_fade_factor(lot) if lot else 1.0 for lot in names])[which]
        pack = np.ones(n)
        rain = np.ones(n)
        hot = np.zeros(n)
        ids = {key: np.full(n, "", dtype=object)
               for key in ("cell_fade", "rain_perception", "hot_climate_bias")}
        for lot, fault in self.weak_lots.items():
            hit = cell_lots == lot
            fade[hit] *= fault.effect["fade_multiplier"]
            pack[hit] = fault.effect["pack_hazard_multiplier"]
            ids["cell_fade"][hit] = fault.id
        for revision, fault in self.rain.items():
            hit = revisions == revision
            rain[hit] = fault.effect["rain_multiplier"]
            ids["rain_perception"][hit] = fault.id
        for shift, fault in self.shift_bias.items():
            hit = shifts == shift
            hot[hit] = fault.effect["hot_probability"]
            ids["hot_climate_bias"][hit] = fault.id
        latent = {"cell_fade": fade, "pack_defect": pack, "rain_perception": rain,
                  "hot_climate_bias": hot}
        return latent, ids

    def _inspect(self, vins: np.ndarray, times: np.ndarray, readings: Readings,
                 latent: dict[str, np.ndarray], rng: np.random.Generator):
        n = len(vins)
        u = rng.random((6, n))
        # weld seam vision: flaw rate follows the seam hazard; the model misses ≈ 11 %
        seam_flaw = u[0] < np.minimum(SEAM_DEFECT_RATE * latent["seam_defect"], 0.9)
        seam_score = np.clip(np.where(seam_flaw, 0.72, 0.12) + 0.18 * rng.standard_normal(n), 0, 1)
        seam_pass = seam_score < 0.5
        # paint gauge: the true film out of spec is the defect; the gauge reads with noise
        film = readings.true[PAINT_READING]
        gauge = film + 1.5 * rng.standard_normal(n)
        low, high = PAINT_SPEC_UM
        paint_flaw = (film < low) | (film > high)
        paint_pass = (gauge >= low) & (gauge <= high)
        # end-of-line function test: weak packs add isolation faults
        eol_rate = EOL_DEFECT_RATE + 0.004 * (latent["pack_defect"] - 1.0)
        eol_flaw = u[1] < eol_rate
        eol_class = np.where(latent["pack_defect"] > 1.0, 0, (u[2] * 3).astype(int))
        caught = u[3] < EOL_DETECTION[eol_class]
        eol_pass = ~((eol_flaw & caught) | (~eol_flaw & (u[4] < 0.002)))
        eol_score = np.where(eol_flaw & caught, 0.6 + 0.4 * u[5], 0.3 * u[5])
        # a unit an inspection failed is reworked, once a change asks: its defect repaired
        # (the weld verdict is the vision module's when it runs: its rework orders, then)
        for name, failed, key in (("weld_seam", ~seam_pass, "seam_defect"),
                                  ("eol_function", ~eol_pass, "pack_defect")):
            if name in self.rework_failed and not (name == "weld_seam"
                                                   and self.camera.folder is not None):
                latent[key][failed] = 1.0
                self.reworked += int(failed.sum())
        # the weld seam's defects and escapes are the camera's to count (twin.camera)
        present = int(paint_flaw.sum() + eol_flaw.sum())
        escaped = int((paint_flaw & paint_pass).sum() + (eol_flaw & eol_pass).sum())
        seam_k, paint_k = SEAM_K, PAINT_K
        eol_k = [s.station_id for s in STATIONS].index("EOL-010")
        eol_defect = np.array(EOL_CLASSES, dtype=object)[eol_class]
        eol_defect = np.where(eol_flaw & caught, eol_defect, "electrical")
        table = arrow_table("inspection_results", {
            "vin": pa.concat_arrays([vins] * 3),
            "station_id": INSPECTION_STATIONS.take(np.repeat(np.arange(3), n)),
            "inspection": INSPECTIONS.take(np.repeat(np.arange(3), n)),
            "passed": np.concatenate([seam_pass, paint_pass, eol_pass]),
            "defect": np.concatenate([
                _unless(seam_pass, np.full(n, "weld_seam_flaw", dtype=object)),
                _unless(paint_pass, np.where(gauge < low, "thin_film", "thick_film")),
                _unless(eol_pass, eol_defect)]),
            "score": np.concatenate([seam_score, gauge, eol_score]),
            "image_uri": None,
            "event_time": self.clock.to_utc(np.concatenate(
                [times[:, seam_k], times[:, paint_k], times[:, eol_k]])),
        })
        return table, present, escaped, (seam_flaw, seam_pass)


def _unless(passed: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Defect labels where the inspection failed, ``None`` where it passed."""
    out = np.asarray(labels, dtype=object).copy()
    out[passed] = None
    return out
