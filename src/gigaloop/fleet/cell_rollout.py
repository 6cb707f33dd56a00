"""Staged rollout of a robot-cell control policy (the plant's robots as a fleet).

Module ``cell_rollout`` (daily). A weld-robot policy registered in ``model_versions``
(``model_name`` ``weld_policy``) goes out in waves over the plant's weld robots (by
default one cell of six, half, all: :func:`~gigaloop.actuate.policy_cells` says which),
each wave a signed :class:`~gigaloop.actuate.CellPolicyRollout` the cell controllers
verify (:mod:`gigaloop.actuate.ota`), one policy at a time. Two guards, each always
valid however often it is read:

* **the weld itself** (:data:`PROCESS_GUARD`): every weld's distance from its scheduled
  current (``process_readings``) as a share of its cell's own recent distance under the
  running policy (:data:`BASELINE_DECAY`: so each cell is compared with itself, as each
  vehicle is in the vehicle rollout — robots of one kind weld a little differently, and a
  steadier cell must not pass a policy nor a rougher one stop it), candidate cells' welds
  against the others', in an always-valid difference of means
  (:class:`gigaloop.ml.MeanDifferenceTest`, a fresh one per wave). Measured on every weld,
  it says "no worse" (within ``PROCESS_MARGIN``) or "worse" in days;
* **the seams** (:data:`GUARD`): failed weld seam inspections per unit, units welded by a
  candidate cell against units welded by none (``vehicle_stations`` and
  ``inspection_results``), in an always-valid rate-ratio test
  (:class:`gigaloop.ml.RateRatioTest`). Seam flaws are rare (≈ 0.5 % of units): it can
  call harm but not, at a plant's volume, "no worse"; so a wave also waits until the
  candidate arm has welded enough units to expect ``MIN_SEAM_EVENTS`` failed inspections
  at the incumbent's rate (docs/fleet.md gives the power this buys).

Either guard finding harm → rolled back the next day with a ``bad_cell_policy`` finding;
the weld no worse, the seams exposed enough and ``min_wave_days`` run → the next wave.
Each stage is a ``deployments`` row.

>>> module = CellRolloutModule()
>>> module.name, module.config.waves
('cell_rollout', (0.16, 0.5, 1.0))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gigaloop.actuate import CellPolicyRollout, policy_cells
from gigaloop.actuate.ota import epoch
from gigaloop.fleet.ota import CELL_POLICY_MODEL, VALID_DAYS, release_info
from gigaloop.fleet.registry import Signer
from gigaloop.fleet.rollout import RolloutConfig, verdict
from gigaloop.loop.contract import DayContext, Decision
from gigaloop.ml import MeanDifferenceTest, RateRatioTest

CELL_KIND = "weld_robot"
GUARD = "failed weld seam inspections per unit welded"
PROCESS_GUARD = "weld current distance from schedule (kA) per weld"
#: "No worse" on the weld: within 20 % of the other cells' mean distance from schedule.
PROCESS_MARGIN = 0.2
#: Failed seam inspections the candidate arm must be expected to have (at the incumbent's
#: rate) before a wave advances: enough for the seam guard to see a large harm.
MIN_SEAM_EVENTS = 40.0
#: Each cell's baseline distance from schedule is an exponentially weighted mean of its
#: welds under the running policy, its weight falling by this factor a day (half in a week):
#: recent enough to follow a recalibration, long enough to hold thousands of welds.
BASELINE_DECAY = 0.9
#: Cells: one of six, half, all. Seam flaws are rare (≈ 0.5 % of units), so "no worse"
#: is asked within a 50 % margin; harm is asked at any ratio above 1.
CELL_CONFIG = RolloutConfig(waves=(0.16, 0.5, 1.0), min_wave_days=7, margin=0.5)
STAGES = {"canary": "canary", "staged": "staged", "full": "full", "rolled_back": "rollback"}


@dataclass
class CellRollout:
    """A policy on its way: wave index, since which day, its test and version number."""

    version: str
    wave: int
    since_day: int
    test: RateRatioTest
    number: int
    status: str = "active"
    weld: MeanDifferenceTest = field(
        default_factory=lambda: MeanDifferenceTest(margin=PROCESS_MARGIN))
    #: each cell's mean distance from schedule before the policy (None: a cell had none)
    scale: dict[str, float] | None = None

    @property
    def seams_expected(self) -> float:
        """Failed seam inspections the candidate arm would have had at the incumbent's
        rate."""
        events, exposure = self.test.events, self.test.exposure
        return float(events[1] / exposure[1] * exposure[0]) if exposure[1] > 0 else 0.0


@dataclass
class CellRolloutModule:
    """Daily; see the module docstring. State: the policies seen, the one rolling out,
    the weld cells, which cells welded each unit not yet inspected, the last read."""

    config: RolloutConfig = CELL_CONFIG
    name: str = "cell_rollout"
    depends_on: tuple[str, ...] = ()
    every_days: int = 1
    signer: Signer = field(default_factory=Signer.generate)
    queue: list[str] = field(default_factory=list)
    releases: dict[str, dict[str, Any]] = field(default_factory=dict)
    active: CellRollout | None = None
    done: dict[str, CellRollout] = field(default_factory=dict)
    cells: set[str] = field(default_factory=set)
    welded_by: dict[str, bool] = field(default_factory=dict)  # vin → a candidate cell?
    #: cell → (weighted sum of distances, weighted count) under the running policy
    baseline: dict[str, tuple[float, float]] = field(default_factory=dict)
    last_read: datetime | None = None
    started: int = 0

    def sign_with(self, signer: Signer) -> None:
        """Sign instructions with the run's key (the one the cells trust)."""
        self.signer = signer

    def decide(self, ctx: DayContext) -> list[Decision]:
        since, self.last_read = self.last_read, ctx.now
        rows = ctx.view.ingested_since(
            "model_versions", since, ["model_version", "model_name", "sha256", "length", "hardware"]
        )
        rows = rows.filter(pc.equal(rows["model_name"], CELL_POLICY_MODEL))
        released = release_info(rows)
        self.releases.update(released)
        self.queue += [v for v in released if v not in self.done and v not in self.queue]
        if not self.cells:  # the plant's layout (no ingestion time)
            machines = ctx.view.table("machines")
            self.cells = set(
                ctx.view.execute(machines.filter(machines.kind == CELL_KIND).machine_id).tolist()
            )
        decisions = []
        cells, distance = self._welds(ctx.view, since)
        on: set[str] = set()
        if self.active is not None:
            on = set(policy_cells(sorted(self.cells), self.config.waves[self.active.wave]))
            self._add_evidence(ctx.view, since, on, cells, distance)
            decision = self._judge(ctx)
            if decision is not None:
                decisions.append(decision)
        self._add_baseline(cells, distance, on)
        if self.active is None and self.queue and self.cells:
            self.started += 1
            self.active = CellRollout(
                self.queue.pop(0),
                0,
                ctx.day,
                RateRatioTest(alpha=self.config.alpha, margin=self.config.margin),
                self.started,
                scale=self._scale(),
            )
            self.welded_by = {}
            decisions.append(
                self._stage(
                    ctx,
                    "canary",
                    f"{self.active.version}: canary on "
                    f"{self._candidates(0)} of {len(self.cells)} cells",
                )
            )
        return decisions

    def _candidates(self, wave: int) -> int:
        return len(policy_cells(sorted(self.cells), self.config.waves[wave]))

    def _add_evidence(self, view: Any, since: datetime | None, on: set[str],
                      cells: np.ndarray, distance: np.ndarray) -> None:
        """Units welded since the last read, by arm; their seam verdicts when inspected;
        the welds (``cells``, ``distance``: :meth:`_welds`) by arm."""
        rollout = self.active
        assert rollout is not None
        passed = view.ingested_since("vehicle_stations", since, ["vin", "machine_id"])
        passed = passed.filter(pc.is_in(passed["machine_id"], pa.array(sorted(self.cells))))
        for vin, machine in zip(
            passed["vin"].to_pylist(), passed["machine_id"].to_pylist(), strict=True
        ):
            self.welded_by[vin] = self.welded_by.get(vin, False) or machine in on
        seams = view.ingested_since("inspection_results", since, ["vin", "inspection", "passed"])
        seams = seams.filter(pc.equal(seams["inspection"], "weld_seam"))
        arm = np.array(
            [
                {None: -1, False: 0, True: 1}[self.welded_by.pop(v, None)]
                for v in seams["vin"].to_pylist()
            ],
            np.int8,
        )  # -1: welded before
        self._add_welds(on, cells, distance)
        failed = ~seams["passed"].to_numpy(zero_copy_only=False).astype(bool)
        cand, rest = arm == 1, arm == 0
        if cand.any() and rest.any():
            rollout.test.update(
                float(failed[cand].sum()),
                float(cand.sum()),
                float(failed[rest].sum()),
                float(rest.sum()),
            )

    def _welds(self, view: Any, since: datetime | None) -> tuple[np.ndarray, np.ndarray]:
        """The weld cells' welds read since the last read: each one's cell and its distance
        from its scheduled current."""
        welds = view.ingested_since("process_readings", since,
                                    ["machine_id", "parameter", "value", "setpoint"])
        welds = welds.filter(pc.and_(pc.equal(welds["parameter"], "weld_current"),
                                     pc.is_in(welds["machine_id"],
                                              pa.array(sorted(self.cells), pa.string()))))
        welds = welds.filter(pc.is_valid(welds["setpoint"]))
        cells = welds["machine_id"].to_numpy(zero_copy_only=False).astype(object)
        return cells, np.abs(welds["value"].to_numpy() - welds["setpoint"].to_numpy())

    def _add_welds(self, on: set[str], cells: np.ndarray, distance: np.ndarray) -> None:
        """The welds by arm (a candidate cell's or another's), each as a share of its cell's
        baseline (the raw distance while a cell had none)."""
        rollout = self.active
        assert rollout is not None
        if not len(cells):
            return
        if rollout.scale is not None:
            distance = distance / np.array([rollout.scale[c] for c in cells])
        candidate = np.isin(cells, sorted(on))
        if candidate.any() and (~candidate).any():
            rollout.weld.update(distance[candidate], distance[~candidate])

    def _add_baseline(self, cells: np.ndarray, distance: np.ndarray, on: set[str]) -> None:
        """Fold a day's welds of the cells on the running policy (not ``on`` a candidate)
        into their baselines (:data:`BASELINE_DECAY`)."""
        for cell in self.cells - on:
            mine = distance[cells == cell]
            total, count = self.baseline.get(cell, (0.0, 0.0))
            self.baseline[cell] = (BASELINE_DECAY * total + float(mine.sum()),
                                   BASELINE_DECAY * count + len(mine))

    def _scale(self) -> dict[str, float] | None:
        """Each cell's baseline mean distance, if every cell has one."""
        scale = {cell: total / count for cell, (total, count) in self.baseline.items()
                 if count > 0 and total > 0}
        return scale if set(scale) >= self.cells else None

    def _judge(self, ctx: DayContext) -> Decision | None:
        rollout, cfg = self.active, self.config
        assert rollout is not None
        step, worse = verdict(
            [(GUARD, rollout.test), (PROCESS_GUARD, rollout.weld)],
            rollout.weld,
            cfg,
            days_at_wave=ctx.day - rollout.since_day,
            last_wave=rollout.wave + 1 == len(cfg.waves),
        )
        if step in ("advance", "production") and rollout.seams_expected < MIN_SEAM_EVENTS:
            step = "hold"  # the seams have not been seen enough to call them no worse
        if step == "hold":
            return None
        if step == "rollback":
            rollout.status = "rolled_back"
            self.done[rollout.version], self.active = rollout, None
            return self._stage(
                ctx,
                "rolled_back",
                f"{rollout.version}: rolled back from "
                f"{self._candidates(rollout.wave)} of {len(self.cells)} cells, "
                f"worse on {', '.join(worse)}",
                rollout=rollout,
                worse=worse,
            )
        if step == "production":
            rollout.status = "production"
            self.done[rollout.version], self.active = rollout, None
            return Decision(
                ctx.day,
                self.name,
                f"{rollout.version}: production on every weld cell",
                inputs=_inputs(rollout),
            )
        rollout.wave, rollout.since_day = rollout.wave + 1, ctx.day
        rollout.weld = MeanDifferenceTest(margin=PROCESS_MARGIN)  # this wave's own evidence
        self.welded_by = {}
        stage = "full" if cfg.waves[rollout.wave] >= 1.0 else "staged"
        return self._stage(
            ctx,
            stage,
            f"{rollout.version}: wave {rollout.wave + 1} on "
            f"{self._candidates(rollout.wave)} of {len(self.cells)} cells",
        )

    def _stage(
        self,
        ctx: DayContext,
        stage: str,
        summary: str,
        *,
        rollout: CellRollout | None = None,
        worse: list[str] | None = None,
    ) -> Decision:
        rollout = rollout or self.active
        assert rollout is not None
        share = 0.0 if stage == "rolled_back" else self.config.waves[rollout.wave]
        ctx.emit(
            "deployments",
            [
                {
                    "deployment_id": f"{rollout.version}/{stage}/{ctx.day}",
                    "model_version": rollout.version,
                    "stage": stage,
                    "fleet_fraction": share,
                    "status": "rolled_back" if worse else "active",
                    "event_time": ctx.now,
                }
            ],
        )
        release = self.releases[rollout.version]
        manifest = self.signer.release(
            model_name=release["model_name"],
            model_version=rollout.version,
            version_number=rollout.number,
            sha256=release["sha256"],
            length=int(release.get("length") or 0),
            hardware=release["hardware"] or [CELL_KIND],
            expires=_expires(ctx.now),
            stage=STAGES[stage],
            fraction=share,
        )
        action = CellPolicyRollout(
            day=ctx.day + 1,
            policy_version=rollout.version,
            fraction=share,
            stage=STAGES[stage],  # type: ignore[arg-type]
            manifest=manifest,
        )
        finding = None
        if worse:
            finding = {
                "id": f"CELL-{rollout.version}-d{ctx.day}",
                "kind": "bad_cell_policy",
                "failure_mode": "cell_policy",
                "names": {"policy_version": rollout.version},
                "worse": worse,
                "wave_share": self.config.waves[rollout.wave],
                "day_found": ctx.day,
                "rank": 1,
                **_inputs(rollout),
            }
        return Decision(
            ctx.day, self.name, summary, action=action, finding=finding, inputs=_inputs(rollout)
        )


def _inputs(rollout: CellRollout) -> dict[str, Any]:
    test, weld = rollout.test, rollout.weld
    interval = weld.interval()
    return {
        GUARD: {
            "ratio": None if np.isnan(test.ratio) else round(test.ratio, 3),
            "events": test.events.tolist(),
            "exposure": test.exposure.tolist(),
            "expected_on_candidate": round(rollout.seams_expected, 2),
            "decision": test.decision,
        },
        PROCESS_GUARD: {
            "ratio": None if np.isnan(weld.ratio) else round(weld.ratio, 3),
            "welds": weld.n.tolist(),
            "difference_ci": None if interval is None else [round(v, 5) for v in interval],
            "decision": weld.decision,
        },
    }


def _expires(now: datetime) -> float:
    return epoch(now + timedelta(days=VALID_DAYS))


__all__ = ["CELL_CONFIG", "CellRolloutModule"]
