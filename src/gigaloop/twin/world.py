"""The twin: plant and fleet in one world, stepped a day at a time, taking the loop's actions.

Plant and fleet draw from independent child streams of one seed, so the plant is the
same whatever happens in the fleet. Plant actions (maintenance orders, setpoint and
engineering changes) are checked when given and take effect from their day; an energy
schedule runs the site's HVAC and shiftable load on its day (a day not yet simulated);
service campaigns and software rollouts go to the fleet.

>>> twin = Twin.from_scenario(seed=1)
>>> twin.start_date, twin.day_end(0)
(datetime.date(2025, 1, 6), datetime.datetime(2025, 1, 7, 6, 0))
>>> twin.apply(MaintenanceOrder(day=3, machine_id="NO-SUCH-M1")).accepted
False
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from gigaloop.actuate import (
    Action,
    Calibration,
    CellPolicyRollout,
    EnergySchedule,
    EngineeringChange,
    KeyRotation,
    MaintenanceOrder,
    Offer,
    PredictiveService,
    PublishImages,
    Receipt,
    Rework,
    ServiceCampaign,
    SetpointChange,
    SoftwareRollout,
    TriggerCampaigns,
)
from gigaloop.errors import ActuationError, ConfigError, GigaloopError
from gigaloop.twin.background import frailty_modes
from gigaloop.twin.base import installed_base
from gigaloop.twin.camera import POINTS
from gigaloop.twin.cells import bad_policy_faults
from gigaloop.twin.effects import general_faults
from gigaloop.twin.fleet import Fleet
from gigaloop.twin.plant import Plant
from gigaloop.twin.scenario import Scenario, load_scenario
from gigaloop.twin.software import (
    KNOWN_VERSIONS,
    SoftwareQuality,
    release_artefact,
    release_rows,
)
from gigaloop.twin.tables import arrow_table, concat
from gigaloop.twin.truth import assemble_truth, write_truth
from gigaloop.twin.units import SCALES
from gigaloop.twin.uplink import Uplink


class Twin:
    """The digital twin; implements :class:`gigaloop.actuate.Actuator`."""

    def __init__(self, scenario: Scenario, *, scale: str = "small", seed: int = 0,
                 fleet: int = 0) -> None:
        if scale not in SCALES:
            raise ConfigError(f"unknown scale {scale!r}; use one of {sorted(SCALES)}",
                              scale=scale)
        self.scenario = scenario
        self.scale = scale
        self.seed = seed
        self.units_per_day = SCALES[scale]
        self._modes = {c.name for c in scenario.components}
        plant_seq, fleet_seq = np.random.SeedSequence(seed).spawn(2)
        self.plant = Plant(scenario, units_per_day=self.units_per_day, seed_seq=plant_seq)
        self.fleet = Fleet(start_date=self.start_date, rng=np.random.default_rng(fleet_seq),
                           units_per_day=self.units_per_day, components=scenario.components,
                           general=general_faults(scenario),
                           frailty=frailty_modes(scenario.parts, self._modes, scenario.background),
                           software={**KNOWN_VERSIONS, **{
                               r.version: SoftwareQuality(r.crash, r.disengagement, r.rain)
                               for r in scenario.releases}})
        self.uplink = Uplink(scenario.data, np.random.default_rng(
            np.random.SeedSequence(seed).spawn(4)[3]))
        self._next_day = 0
        if fleet < 0:
            raise ConfigError(f"an installed base needs fleet >= 0, got {fleet}", fleet=fleet)
        self._base_tables: dict[str, pa.Table] = {}
        if fleet:
            base_rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(3)[2])
            base = installed_base(fleet, scenario, self.plant.clock, base_rng)
            self._base_tables = base.tables
            self.fleet.add_base(base, base_rng)

    @classmethod
    def from_scenario(cls, scenario: Path | str | None = None, *, scale: str = "small",
                      seed: int = 0, fleet: int = 0) -> Twin:
        """A twin of ``scenario``: ``None`` = packaged default, a packaged name, or a path;
        ``fleet`` vehicles already on the road at day 0."""
        return cls(load_scenario(scenario), scale=scale, seed=seed, fleet=fleet)

    @property
    def start_date(self) -> date:
        return self.scenario.scenario.start_date

    @property
    def days_simulated(self) -> int:
        return self._next_day

    def day_end(self, day: int) -> datetime:
        """Naive UTC at which the rows of ``day`` are ingested (the plant's local midnight)."""
        return self.plant.clock.day_end(day)

    def step(self, day: int) -> dict[str, pa.Table]:
        """Every store row that arrives on ``day``; days run in order from 0.

        Fleet rows pass the :class:`~gigaloop.twin.uplink.Uplink` (the scenario's
        ``[data]``): some arrive late, twice, or never.

        Day 0 also carries the static tables (sites, lines, stations, machines, suppliers,
        parts). A table appears only when it has rows that day.
        """
        if day != self._next_day:
            raise GigaloopError(f"the twin steps days in order: expected day {self._next_day}, "
                                f"got {day}", day=day)
        cells = self.plant.builder.cells
        cell_reports = cells.enact_due(day, datetime.combine(
            self.start_date + timedelta(days=day), time())) if cells else []
        tables, built = self.plant.step(day)
        for name, table in self._base_tables.items():   # the installed base's genealogy
            tables[name] = concat([table, tables[name]]) if name in tables else table
        self._base_tables = {}
        self.fleet.add_built(built)
        arrived = self.uplink.send(day, self.fleet.step(day), self.fleet.vins)
        for name, table in arrived.items():
            if table.num_rows:
                tables[name] = concat([tables[name], table]) if name in tables else table
        tables.update(self.plant.builder.camera.reports(self.day_end(day)))
        released = release_rows(self.scenario.releases, day, self.day_end(day))
        if released is not None:
            tables["model_versions"] = released
            for version in released["model_version"].to_pylist():  # the build, handed over
                self.fleet.updates.artefacts[version] = release_artefact(version)
        if cells is not None:
            policies = cells.release_rows(day, self.day_end(day))
            if policies is not None:
                tables["model_versions"] = concat([t for t in (
                    tables.get("model_versions"), policies) if t is not None])
            if cell_reports:
                reports = arrow_table("ota_reports", {
                    k: [r[k] for r in cell_reports] for k in cell_reports[0]})
                tables["ota_reports"] = concat([t for t in (
                    tables.get("ota_reports"), reports) if t is not None])
        self._next_day = day + 1
        return tables

    def provision(self, trusted: dict[str, bytes], root: dict[str, bytes] | None = None
                  ) -> None:
        """The OTA keys every vehicle trusts, as the factory installs them: update keys
        (``{key id: raw public key}``) and root keys for key rotations."""
        self.fleet.updates.provision(trusted, root)
        if self.plant.builder.cells is not None:
            self.plant.builder.cells.provision(trusted)

    def apply(self, action: Action) -> Receipt:
        """Queue ``action``; it takes effect from ``action.day`` (or the next day simulated).

        Unknown targets are refused with ``Receipt(False, reason)``; an action kind the
        twin cannot carry raises :class:`~gigaloop.errors.ActuationError`.
        """
        if isinstance(action, ServiceCampaign | PredictiveService | SoftwareRollout | Offer
                      | TriggerCampaigns | KeyRotation):
            return self.fleet.apply(action)
        if isinstance(action, CellPolicyRollout):
            if self.plant.builder.cells is None:
                return Receipt(False, "the scenario has no [[cell_policies]]: no robot cell "
                                      "runs a learned policy")
            self.plant.builder.cells.queued.append(action)
            return Receipt(True, f"{action.policy_version} to {action.fraction:.0%} of the "
                                 f"weld cells from day {max(action.day, self._next_day)}")
        if isinstance(action, EnergySchedule):
            return self._schedule_energy(action)
        if isinstance(action, Rework):
            return self._rework(action)
        if isinstance(action, PublishImages):
            return self._publish_images(action)
        if not isinstance(action, MaintenanceOrder | SetpointChange | EngineeringChange
                          | Calibration):
            raise ActuationError(f"the twin cannot apply {type(action).__name__}",
                                 kind=action.kind)
        problem = self.plant.actions.check(action)
        if problem:
            return Receipt(False, problem)
        effective = max(action.day, self._next_day)
        if effective != action.day:
            action = replace(action, day=effective)
        self.plant.actions.queue(action)
        return Receipt(True, f"{action.kind} queued; effective day {effective}")

    def _publish_images(self, action: PublishImages) -> Receipt:
        """The vision stations switch to images from the next day simulated (a temporary
        folder of the camera's, kept :data:`~gigaloop.twin.camera.RETENTION_DAYS` days)."""
        camera = self.plant.builder.camera
        if camera.folder is None:
            camera.publish_images()
        return Receipt(True, f"vision stations publish images from day {self._next_day}")

    def _rework(self, action: Rework) -> Receipt:
        camera = self.plant.builder.camera
        if action.inspection not in camera.defects:
            return Receipt(False, f"no vision inspection {action.inspection!r}")
        repaired = camera.rework(action)
        if action.inspection == "weld_seam" and repaired:  # the seam re-welded to nominal
            self.fleet.repair_pending(repaired, "seam_defect")
        return Receipt(True, f"{len(action.vins)} units examined, {len(repaired)} repaired")

    def _schedule_energy(self, schedule: EnergySchedule) -> Receipt:
        if schedule.day < self._next_day:
            return Receipt(False, f"day {schedule.day} is already over")
        problem = self.plant.energy.check(schedule)
        if problem:
            return Receipt(False, problem)
        self.plant.energy.schedule(schedule)
        return Receipt(True, f"{schedule.kind} queued for day {schedule.day}")

    def truth(self) -> dict[str, Any]:
        """The hidden truth (JSON-able): faults, what happened, breakdowns, actions enacted,
        and the background differences (no faults: :mod:`gigaloop.twin.background`)."""
        background = {**self.plant.process.background.truth(),
                      "lots": self.plant.builder.frailty.truth(self.scenario.parts,
                                                               self._modes)}
        truth = assemble_truth(self.scenario, self.plant.history, self.fleet.truth_events(),
                               days=self._next_day, seed=self.seed, scale=self.scale,
                               excess_failure_days=self.fleet.excess_failure_days,
                               background=background, offers=self.fleet.offer_response.truth,
                               reach=self.fleet.software.reach)
        if self.plant.builder.cells is not None:
            truth["faults"] += bad_policy_faults(self.plant.builder.cells, self._next_day)
        truth["inspection"] = self.plant.builder.camera.truth()
        truth["world_kpis"].update({k: v for k, v in self.world_kpis().items()
                                    if k in truth["world_kpis"]})
        counts = self.fleet.counts
        truth["driving_models"] = {
            "versions": self.fleet.scenes.report(),
            "expected_autopilot_crashes_per_million_miles": None if not counts[
                "miles_autopilot"] else 1e6 * counts["expected_crashes_autopilot"]
            / counts["miles_autopilot"]}
        return truth

    def write_truth(self, path: Path | str) -> None:
        """Write :meth:`truth` as JSON at ``path`` — keep it outside the store."""
        write_truth(path, self.truth())

    def world_kpis(self) -> dict[str, int]:
        """What only the world knows: defects that escaped inspection (and those present),
        and what changes cost the plant: parts scrapped with a contained lot or a dropped
        supplier's lot in use, units reworked after an inspection failed them, hardware
        revisions redesigned."""
        history = self.plant.history
        camera = self.plant.builder.camera.truth()
        return {"defects_escaped": history.defects_escaped + sum(
                    camera[p]["escaped"] for p in POINTS),
                "defects_present": history.defects_present + sum(
                    camera[p]["defective"] for p in POINTS),
                "parts_scrapped_by_changes": self.plant.supply.scrapped,
                "units_reworked_by_changes": self.plant.builder.reworked,
                "redesigns": history.redesigns}
