"""The plant's robot cells as a fleet: weld robots running a learned control policy.

A scenario's ``[[cell_policies]]`` are handed to the plant on their day (a
``model_versions`` row, ``weld_policy``); a :class:`~gigaloop.actuate.CellPolicyRollout`
puts one on a share of the weld robots (:func:`~gigaloop.actuate.policy_cells` order) once
the cell controllers verified its signed manifest (:class:`gigaloop.actuate.ota.Vehicle`,
hardware ``weld_robot``), or withdraws it. Each instruction is an ``ota_reports`` row,
installed or refused with the reason. A policy's hidden ``seam`` multiplies the weld seam
defect hazard of every unit its cells weld.

>>> from gigaloop.twin.scenario import CellPolicy
>>> cells = CellPolicies(["BW-010-R1", "BW-010-R2"], [CellPolicy(version="p2", day=3,
...                                                              seam=2.0)])
>>> cells.multiplier(np.array(["BW-010-R1", "BW-010-R2"]))
array([1., 1.])
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from gigaloop.actuate import CellPolicyRollout, policy_cells
from gigaloop.actuate.ota import Vehicle, epoch
from gigaloop.twin.scenario import CellPolicy

POLICY_MODEL = "weld_policy"
CELL_KIND = "weld_robot"


class CellPolicies:
    """The weld cells, the policy each runs, the controllers' verifier, and per policy its
    peak share of the cells and the day it was rolled back (truth)."""

    def __init__(self, cells: Sequence[str], policies: Sequence[CellPolicy]) -> None:
        self.cells = sorted(cells)
        self.policies = {p.version: p for p in policies}
        self.gate = Vehicle({}, CELL_KIND, 0)
        self._rollouts: dict[str, float] = {}  # in the order made; later ones take precedence
        self._factor = dict.fromkeys(self.cells, 1.0)
        self._tracking = dict.fromkeys(self.cells, 1.0)
        self.reach: dict[str, dict[str, Any]] = {}
        self.reports = 0
        self.queued: list[CellPolicyRollout] = []

    def provision(self, trusted: dict[str, bytes]) -> None:
        self.gate.trusted_keys = dict(trusted)

    def multiplier(self, machines: np.ndarray) -> np.ndarray:
        """The seam hazard multiplier of the cells that welded each unit."""
        return _per_machine(self._factor, machines)

    def tracking(self, machines: np.ndarray) -> np.ndarray:
        """The weld current deviation multiplier of the cells that welded each unit."""
        return _per_machine(self._tracking, machines)

    def enact_due(self, day: int, at: datetime) -> list[dict[str, Any]]:
        """Verify and take the instructions due on ``day``; their ``ota_reports`` rows."""
        due = [a for a in self.queued if a.day <= day]
        self.queued = [a for a in self.queued if a.day > day]
        return [self._take(action, day, at) for action in due]

    def _take(self, action: CellPolicyRollout, day: int, at: datetime) -> dict[str, Any]:
        version = action.policy_version
        signed = (action.manifest or {}).get("signed") or {}
        said = (version, action.stage, float(action.fraction))
        meant = (signed.get("model_version"), signed.get("stage"), signed.get("fraction"))
        reason = "mismatch" if signed and said != meant else None
        if reason is None and action.manifest is not None and "signatures" in action.manifest:
            reason = self.gate.install(action.manifest, release_artefact(version), now=epoch(at))
        elif reason is None:
            reason = "unsigned"
        if reason is None:
            if action.fraction <= 0.0:
                self._rollouts.pop(version, None)
                self.reach.setdefault(version, {"peak_share": 0.0})["rolled_back_day"] = day
            else:
                self._rollouts[version] = action.fraction
            self._assign(day)
        self.reports += 1
        return {
            "report_id": f"CELL-{self.reports:09d}",
            "instruction": action.kind,
            "model_version": version,
            "stage": action.stage,
            "sequence": signed.get("sequence") if isinstance(signed.get("sequence"), int) else None,
            "hardware_revision": CELL_KIND,
            "vehicles": len(policy_cells(self.cells, action.fraction)) or len(self.cells),
            "result": "refused" if reason else "installed",
            "reason": reason,
            "event_time": at,
        }

    def _assign(self, day: int) -> None:
        running = dict.fromkeys(self.cells, "")
        for version, fraction in self._rollouts.items():
            for cell in policy_cells(self.cells, fraction):
                running[cell] = version
        self._factor = {
            c: self.policies[v].seam if v in self.policies else 1.0 for c, v in running.items()
        }
        self._tracking = {
            c: self.policies[v].tracking if v in self.policies else 1.0
            for c, v in running.items()
        }
        for version in self._rollouts:
            share = sum(v == version for v in running.values()) / len(self.cells)
            seen = self.reach.setdefault(version, {"peak_share": 0.0, "rolled_back_day": None})
            seen["peak_share"] = max(seen["peak_share"], share)

    def release_rows(self, day: int, day_end: datetime) -> pa.Table | None:
        """``model_versions`` rows of the policies handed over on ``day``."""
        today = [p for p in self.policies.values() if p.day == day]
        if not today:
            return None
        at = day_end - timedelta(hours=1)
        built = [release_artefact(p.version) for p in today]
        return pa.table(
            {
                "model_version": [p.version for p in today],
                "model_name": [POLICY_MODEL] * len(today),
                "parent_version": pa.nulls(len(today), pa.string()),
                "trained_through": [(at - timedelta(days=1)).date()] * len(today),
                "metrics_json": ["{}"] * len(today),
                "sha256": [hashlib.sha256(b).hexdigest() for b in built],
                "signature": pa.nulls(len(today), pa.string()),
                "length": pa.array([len(b) for b in built], pa.int64()),
                "hardware": [CELL_KIND] * len(today),
                "event_time": pa.array([at] * len(today), pa.timestamp("us")),
            }
        )


def release_artefact(version: str) -> bytes:
    """What stands in for a policy's build: its name's bytes."""
    return version.encode()


def bad_policy_faults(cells: CellPolicies, days: int) -> list[dict[str, Any]]:
    """Truth: each policy handed over that makes seams worse is a fault of its own, found
    when a rollout module rolls it back and the cells took the rollback."""
    return [
        {
            "id": f"cell-policy-{p.version}",
            "kind": "bad_cell_policy",
            "where": {"policy_version": p.version},
            "starts": p.day,
            "stops": None,
            "effect": {"seam": p.seam, "tracking": p.tracking},
            "finding": {"failure_mode": "cell_policy", "names": {"policy_version": p.version}},
            "happened": {
                "onset_day": p.day,
                "first_field_failure_day": p.day,
                **{"peak_share": 0.0, "rolled_back_day": None, **cells.reach.get(p.version, {})},
            },
        }
        for p in cells.policies.values()
        if (p.seam > 1.0 or p.tracking > 1.0) and p.day < days
    ]


def _per_machine(factor: dict[str, float], machines: np.ndarray) -> np.ndarray:
    if all(f == 1.0 for f in factor.values()):
        return np.ones(len(machines))
    return np.array([factor.get(str(m), 1.0) for m in machines])
