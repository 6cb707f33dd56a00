"""Staged rollout of driver-assistance releases, promoted or rolled back by a sequential test.

A release registered in ``model_versions`` (other than the weld robots' policies, which the
cell rollout takes) goes out in waves (1 %, 5 %, 25 %, then the
whole fleet), one release at a time. Every day the module reads the telemetry and
crashes ingested since its last run and adds them, by the software each vehicle ran, to
two always-valid rate-ratio tests of the candidate against the rest of the fleet
(:class:`gigaloop.ml.RateRatioTest`): driver disengagements and Autopilot crashes, both
per Autopilot mile (a disengagement ends Autopilot; miles driven by hand, whose share
differs from driver to driver, cannot have one). Vehicles take a wave by a fixed random
cohort, so the two arms differ only by the software and by their drivers, which matters
in a small canary: each arm's exposure is weighted by its vehicles' own rates before the
release (:class:`gigaloop.fleet.vehicle_rates.VehicleRates`, shrunk towards the fleet's
by empirical Bayes), so each vehicle is compared with itself.

* Either test finds **harm** → the release is rolled back at once (fraction 0: its
  vehicles return to what they ran before), and a ``bad_release`` finding says why.
* The disengagement test finds the release **no worse** than the incumbent (within the
  margin), and the wave has run ``min_wave_days`` → the next wave; after the last wave
  the release is production, and the next queued release may start.

A release handed over before any vehicle has reported (a new plant's first days) waits for
the first one.

Each stage is a ``deployments`` row (canary, staged, full, rolled_back) and an instruction
signed by the run's key (:mod:`gigaloop.fleet.ota`; a rollback is an authorised one). Where
the vehicles refuse a stage on every hardware revision (``ota_reports``), the release is
dropped (``refused``) with the reasons. A version with a
``shadow`` deployment (a learned model, :mod:`gigaloop.fleet.learning`) waits until its
shadow is ``completed``, and is dropped if it is ``rejected``; run the learning module
first on a day, so that its rows are read the day they are written.

>>> module = RolloutModule()
>>> module.name, module.every_days, module.config.waves
('rollout', 1, (0.01, 0.05, 0.25, 1.0))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gigaloop.fleet.ota import CELL_POLICY_MODEL, Revisions, release_info, signed_rollout
from gigaloop.fleet.registry import Signer
from gigaloop.fleet.vehicle_rates import RelativeRisk, VehicleRates
from gigaloop.loop.contract import DayContext, Decision
from gigaloop.ml import RateRatioTest

DISENGAGEMENTS = ("disengagements_clear", "disengagements_rain", "disengagements_night")
TELEMETRY = ("vin", "software_version", "autopilot_miles", *DISENGAGEMENTS)
#: A ``deployments`` stage → the stage its :class:`SoftwareRollout` carries.
ACTION_STAGE: dict[str, Literal["canary", "staged", "full", "rollback"]] = {
    "canary": "canary", "staged": "staged", "full": "full", "rolled_back": "rollback"}


@dataclass(frozen=True)
class RolloutConfig:
    """How a release goes out: the fleet share of each wave, the fewest days a wave runs
    before the next, and the tests' error rate and non-inferiority margin."""

    waves: tuple[float, ...] = (0.01, 0.05, 0.25, 1.0)
    min_wave_days: int = 7
    alpha: float = 0.05
    margin: float = 0.1


@dataclass
class Rollout:
    """One release on its way: the wave it is at (index into the waves), since which day,
    its two tests, and every vehicle's relative risk on each as of its start."""

    version: str
    wave: int
    since_day: int
    disengagements: RateRatioTest
    crashes: RateRatioTest
    risk: tuple[RelativeRisk, RelativeRisk]
    number: int = 0  # its version number on the vehicles (anti-rollback)
    status: str = "active"  # active, production, rolled_back, refused


@dataclass
class RolloutModule:
    """Daily; see the module docstring. State: the releases seen (``queue`` waits, one is
    ``active``), every release's record, the last instant read, and every vehicle's
    disengagements and Autopilot crashes per Autopilot mile so far."""

    config: RolloutConfig = field(default_factory=RolloutConfig)
    name: str = "rollout"
    depends_on: tuple[str, ...] = ()
    every_days: int = 1
    queue: list[str] = field(default_factory=list)
    held: set[str] = field(default_factory=set)  # in shadow, not yet passed
    active: Rollout | None = None
    done: dict[str, Rollout] = field(default_factory=dict)
    last_read: datetime | None = None
    disengagement_rates: VehicleRates = field(default_factory=VehicleRates)
    crash_rates: VehicleRates = field(default_factory=VehicleRates)
    signer: Signer = field(default_factory=Signer.generate)
    releases: dict[str, dict[str, Any]] = field(default_factory=dict)
    revisions: Revisions = field(default_factory=Revisions)
    started: int = 0

    def sign_with(self, signer: Signer) -> None:
        """Sign instructions with the run's key (the one its vehicles trust)."""
        self.signer = signer

    def decide(self, ctx: DayContext) -> list[Decision]:
        since, self.last_read = self.last_read, ctx.now
        versions = ctx.view.ingested_since(
            "model_versions", since, ["model_version", "model_name", "sha256", "length",
                                      "hardware"])
        # the weld robots' policies are the cell rollout's: no vehicle runs them
        released = release_info(versions.filter(
            pc.not_equal(versions["model_name"], CELL_POLICY_MODEL)))
        known = {*self.queue, *self.done, *self.held,
                 *([self.active.version] if self.active else [])}
        self.queue += [v for v in released if v not in known]
        self.releases.update(released)
        self.revisions.read(ctx.view, ctx.now)
        self._shadows(ctx.view.ingested_since("deployments", since,
                                              ["model_version", "stage", "status"]))
        days = ctx.view.ingested_since("telemetry_daily", since, list(TELEMETRY))
        crashes = ctx.view.ingested_since("crashes", since, ["vin", "software_version", "mode"])
        crashes = crashes.filter(pc.equal(crashes["mode"], "autopilot"))
        decisions: list[Decision] = []
        refused = self._refused(ctx, ctx.view.ingested_since(
            "ota_reports", since, ["model_version", "stage", "result", "reason"]))
        if refused is not None:
            decisions.append(refused)
        if self.active is not None:
            self._add_evidence(days, crashes)
            decision = self._judge(ctx)
            if decision is not None:
                decisions.append(decision)
        if self.active is None and self.queue and len(self.disengagement_rates.index):
            # a release waits for the first vehicle on the road: none could take it before
            decisions.append(self._start(ctx, self.queue.pop(0)))
        self._add_history(days, crashes)
        return decisions

    def _shadows(self, rows: pa.Table) -> None:
        """Hold versions in shadow; queue those whose shadow passed, drop those it failed."""
        rows = rows.filter(pc.equal(rows["stage"], "shadow"))
        for version, status in zip(rows["model_version"].to_pylist(),
                                   rows["status"].to_pylist(), strict=True):
            if status == "active":
                self.held.add(version)
                self.queue = [v for v in self.queue if v != version]
                continue
            self.held.discard(version)
            if status == "completed" and version not in self.queue:
                self.queue.append(version)

    def _refused(self, ctx: DayContext, reports: pa.Table) -> Decision | None:
        """Drop the active release when the vehicles refused its latest stage on every
        hardware revision that reported."""
        rollout = self.active
        if rollout is None or not reports.num_rows:
            return None
        mine = reports.filter(pc.equal(reports["model_version"], rollout.version)).to_pylist()
        if not mine or any(r["result"] == "installed" for r in mine):
            return None
        reasons = sorted({str(r["reason"]) for r in mine})
        rollout.status = "refused"
        self.done[rollout.version], self.active = rollout, None
        ctx.emit("deployments", [{
            "deployment_id": f"{rollout.version}/refused/{ctx.day}",
            "model_version": rollout.version, "stage": mine[-1]["stage"],
            "fleet_fraction": 0.0, "status": "refused", "event_time": ctx.now}])
        return Decision(ctx.day, self.name, f"{rollout.version}: refused by the vehicles "
                        f"({', '.join(reasons)}); dropped", inputs={"reasons": reasons})

    # ---- the stages ----------------------------------------------------------------------
    def _start(self, ctx: DayContext, version: str) -> Decision:
        cfg = self.config
        tests = [RateRatioTest(alpha=cfg.alpha, margin=cfg.margin) for _ in range(2)]
        risk = (self.disengagement_rates.relative_risk(), self.crash_rates.relative_risk())
        self.started += 1
        self.active = Rollout(version, 0, ctx.day, tests[0], tests[1], risk=risk,
                              number=self.started)
        return self._stage(ctx, "canary", f"{version}: canary on {cfg.waves[0]:.0%} of the "
                                          "fleet")

    def _judge(self, ctx: DayContext) -> Decision | None:
        rollout, cfg = self.active, self.config
        assert rollout is not None
        step, harmed = verdict(self._tests(rollout), rollout.disengagements, cfg,
                               days_at_wave=ctx.day - rollout.since_day,
                               last_wave=rollout.wave + 1 == len(cfg.waves))
        if step == "rollback":
            rollout.status = "rolled_back"
            self.done[rollout.version], self.active = rollout, None
            return self._stage(ctx, "rolled_back", f"{rollout.version}: rolled back, worse "
                               f"{' and '.join(harmed)}", rollout=rollout, harmed=harmed)
        if step == "hold":
            return None
        if step == "production":
            rollout.status = "production"
            self.done[rollout.version], self.active = rollout, None
            return Decision(ctx.day, self.name, f"{rollout.version}: production on the "
                            "whole fleet", inputs=self._inputs(rollout))
        rollout.wave, rollout.since_day = rollout.wave + 1, ctx.day
        share = cfg.waves[rollout.wave]
        stage = "full" if share >= 1.0 else "staged"
        return self._stage(ctx, stage, f"{rollout.version}: wave {rollout.wave + 1} on "
                           f"{share:.0%} of the fleet", rollout=rollout)

    def _stage(self, ctx: DayContext, stage: str, summary: str, *,
               rollout: Rollout | None = None, harmed: list[str] | None = None) -> Decision:
        rollout = rollout or self.active
        assert rollout is not None
        share = 0.0 if stage == "rolled_back" else self.config.waves[rollout.wave]
        ctx.emit("deployments", [{
            "deployment_id": f"{rollout.version}/{stage}/{ctx.day}",
            "model_version": rollout.version, "stage": stage, "fleet_fraction": share,
            "status": "rolled_back" if stage == "rolled_back" else "active",
            "event_time": ctx.now}])
        release = dict(self.releases[rollout.version])
        release["hardware"] = release["hardware"] or self.revisions.read(ctx.view, ctx.now)
        action = signed_rollout(self.signer, rollout.version, release,
                                version_number=rollout.number, day=ctx.day + 1, now=ctx.now,
                                stage=ACTION_STAGE[stage], share=share)
        finding = None
        if harmed:
            finding = {"id": f"SW-{rollout.version}-d{ctx.day}", "kind": "bad_release",
                       "failure_mode": "software_release",
                       "names": {"software_version": rollout.version},
                       "attribute": "software_version", "worse": harmed,
                       "wave_share": self.config.waves[rollout.wave], "day_found": ctx.day,
                       "rank": 1,
                       **self._inputs(rollout)}
        return Decision(ctx.day, self.name, summary, action=action, finding=finding,
                        inputs=self._inputs(rollout))

    # ---- evidence ------------------------------------------------------------------------
    def _add_evidence(self, days: pa.Table, crashes: pa.Table) -> None:
        """The telemetry and Autopilot crashes ingested since the last run, by arm
        (candidate, everyone else), the miles weighted by each vehicle's relative risk."""
        rollout = self.active
        assert rollout is not None
        on = _is(days, rollout.version)
        vins = days["vin"].to_numpy(zero_copy_only=False)
        disengagement_risk, crash_risk = (risk.of(vins) for risk in rollout.risk)
        autopilot = _column(days, "autopilot_miles")
        _update(rollout.disengagements, _split(_disengagements(days), on),
                _split(autopilot * disengagement_risk, on))
        hit = _is(crashes, rollout.version)
        _update(rollout.crashes, (float(hit.sum()), float((~hit).sum())),
                _split(autopilot * crash_risk, on))

    def _add_history(self, days: pa.Table, crashes: pa.Table) -> None:
        """Every vehicle's disengagements and Autopilot crashes per Autopilot mile."""
        vins = days["vin"].to_numpy(zero_copy_only=False)
        autopilot = _column(days, "autopilot_miles")
        self.disengagement_rates.add(vins, _disengagements(days), autopilot)
        self.crash_rates.add(vins, np.zeros(len(vins)), autopilot)
        crashed = crashes["vin"].to_numpy(zero_copy_only=False)
        self.crash_rates.add(crashed, np.ones(len(crashed)), np.zeros(len(crashed)))

    @staticmethod
    def _tests(rollout: Rollout) -> list[tuple[str, RateRatioTest]]:
        return [("disengagements per Autopilot mile", rollout.disengagements),
                ("Autopilot crashes per Autopilot mile", rollout.crashes)]

    def _inputs(self, rollout: Rollout) -> dict[str, Any]:
        """Each test's counts, ratio and decision, by what it measures."""
        return {name: {
            "ratio": None if np.isnan(test.ratio) else round(test.ratio, 3),
            "events": test.events.tolist(), "exposure": test.exposure.tolist(),
            "decision": test.decision} for name, test in self._tests(rollout)}


def verdict(tests: list[tuple[str, RateRatioTest]], primary: RateRatioTest,
            config: RolloutConfig, *, days_at_wave: int, last_wave: bool
            ) -> tuple[str, list[str]]:
    """A staged rollout's next step, whatever it rolls out (vehicles, robot cells):
    ``rollback`` when any guard test finds harm (with their names), ``advance`` (or
    ``production`` after the last wave) once ``primary`` finds the candidate no worse and
    the wave ran ``min_wave_days``, else ``hold``.

    >>> t = RateRatioTest()
    >>> verdict([("crashes", t)], t, RolloutConfig(), days_at_wave=9, last_wave=False)
    ('hold', [])
    """
    harmed = [name for name, test in tests if test.decision == "harm"]
    if harmed:
        return "rollback", harmed
    if primary.decision != "no_worse" or days_at_wave < config.min_wave_days:
        return "hold", []
    return ("production" if last_wave else "advance"), []


def _is(rows: pa.Table, version: str) -> np.ndarray:
    """Which rows ran ``version``."""
    return pc.equal(rows["software_version"], version).to_numpy(zero_copy_only=False)


def _column(rows: pa.Table, name: str) -> np.ndarray:
    return np.nan_to_num(rows[name].to_numpy(zero_copy_only=False).astype(float))


def _disengagements(days: pa.Table) -> np.ndarray:
    """Driver disengagements per telemetry day, every condition together."""
    return sum((_column(days, c) for c in DISENGAGEMENTS), np.zeros(days.num_rows))


def _split(values: np.ndarray, on: np.ndarray) -> tuple[float, float]:
    """Sums of ``values`` on the candidate and on everyone else."""
    return float(values[on].sum()), float(values[~on].sum())


def _update(test: RateRatioTest, events: tuple[float, float],
            exposure: tuple[float, float]) -> None:
    """Add a batch (candidate, incumbent) once both arms have exposure."""
    if exposure[0] > 0 and exposure[1] > 0:
        test.update(events[0], exposure[0], events[1], exposure[1])


__all__ = ["RolloutConfig", "RolloutModule", "verdict"]
