"""The fleet's over-the-air client: vehicles verify what they are told before they act.

Each hardware revision's vehicles hold one verifier (:class:`gigaloop.actuate.ota.Vehicle`:
the update and root keys they were provisioned with, the version they run, the last
manifest sequence they took). A :class:`~gigaloop.actuate.SoftwareRollout` takes effect on
the revisions whose verifier accepts its signed manifest and the artefact; a
:class:`~gigaloop.actuate.KeyRotation` changes their keys. Every outcome, installed or
refused with the reason, is an ``ota_reports`` row per revision: nothing is refused
silently. An artefact comes with the instruction, or from what the fleet was given before
(a learned model in its shadow instruction, a release's build when it was handed over).

>>> from gigaloop.actuate import SoftwareRollout
>>> client = Updates()
>>> took, rows = client.take(SoftwareRollout(day=0, software_version="v2"), ["CAM-A"],
...                          [10], now=0.0)
>>> took, rows[0]["result"], rows[0]["reason"]
([], 'refused', 'unsigned')
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gigaloop.actuate import KeyRotation, SoftwareRollout
from gigaloop.actuate.ota import Vehicle


class Updates:
    """Verifiers by hardware revision, the keys new revisions are provisioned with, and
    the artefacts the fleet holds by version."""

    def __init__(
        self, trusted: dict[str, bytes] | None = None, root: dict[str, bytes] | None = None
    ) -> None:
        self.trusted, self.root = dict(trusted or {}), dict(root or {})
        self.gates: dict[str, Vehicle] = {}
        self.artefacts: dict[str, bytes] = {}
        self.reports = 0

    def provision(self, trusted: dict[str, bytes], root: dict[str, bytes] | None = None) -> None:
        """Keys every vehicle trusts (at the factory): update keys, and root keys."""
        self.trusted, self.root = dict(trusted), dict(root or {})
        for gate in self.gates.values():
            gate.trusted_keys, gate.root_keys = dict(self.trusted), dict(self.root)

    def gate(self, revision: str) -> Vehicle:
        """The verifier of ``revision``'s vehicles (provisioned when first seen)."""
        if revision not in self.gates:
            self.gates[revision] = Vehicle(
                dict(self.trusted), revision, 0, root_keys=dict(self.root)
            )
        return self.gates[revision]

    def take(
        self,
        action: SoftwareRollout | KeyRotation,
        revisions: list[str],
        vehicles: list[int],
        *,
        now: float,
    ) -> tuple[list[str], list[dict[str, Any]]]:
        """Verify ``action`` on each revision's vehicles (``now``: seconds since 1970);
        the revisions that took it, and a report row per revision (one refusal when no
        vehicle is in the field yet: nobody could take it)."""
        signed: dict[str, Any] = {}
        reasons: list[str | None]
        if not revisions:
            revisions, vehicles, reasons = ["none"], [0], ["no vehicles"]
        elif isinstance(action, KeyRotation):
            reasons = [self.gate(r).rotate(action.root, now=now) for r in revisions]
            if any(reason is None for reason in reasons):
                self.trusted = dict(
                    next(
                        self.gates[r].trusted_keys
                        for r, why in zip(revisions, reasons, strict=True)
                        if why is None
                    )
                )
        else:
            signed = (action.manifest or {}).get("signed") or {}
            artefact = action.artefact or self.artefacts.get(action.software_version, b"")
            problem = _mismatch(action, signed)
            reasons = [
                problem or self.gate(r).install(action.manifest or {}, artefact, now=now)
                for r in revisions
            ]
            if action.artefact and any(reason is None for reason in reasons):
                self.artefacts[action.software_version] = action.artefact
        rows = []
        for revision, count, reason in zip(revisions, vehicles, reasons, strict=True):
            self.reports += 1
            rows.append(
                {
                    "report_id": f"OTA-{self.reports:09d}",
                    "instruction": action.kind,
                    "model_version": getattr(action, "software_version", None),
                    "stage": getattr(action, "stage", None),
                    "sequence": signed.get("sequence")
                    if isinstance(signed.get("sequence"), int)
                    else None,
                    "hardware_revision": revision,
                    "vehicles": int(count),
                    "result": "refused" if reason else "installed",
                    "reason": reason,
                }
            )
        return [r for r, why in zip(revisions, reasons, strict=True) if why is None], rows


def _mismatch(action: SoftwareRollout, signed: dict[str, Any]) -> str | None:
    """``"mismatch"`` when a signed manifest names another version, stage or share than
    the instruction it came with (a signature lifted from another instruction)."""
    if not signed or action.manifest is None or "signatures" not in action.manifest:
        return None  # the verifier says what is missing
    said = (action.software_version, action.stage, float(action.fleet_fraction))
    meant = (signed.get("model_version"), signed.get("stage"), signed.get("fraction"))
    return None if said == meant else "mismatch"


def enact(
    fleet: Any, due: list[Any], *, now: float
) -> tuple[list[tuple[Any, np.ndarray | None]], list[dict[str, Any]]]:
    """The fleet's due actions with the hardware revision codes that took each OTA one
    (None for other actions); the day's report rows. Refused OTA actions are left out."""
    codes = fleet.info.view("sensor_rev")[: fleet.vehicles.n]
    counts = np.bincount(codes, minlength=len(fleet.revisions)) if len(codes) else np.zeros(0)
    present = [
        (r, int(counts[i])) for i, r in enumerate(fleet.revisions) if len(codes) and counts[i]
    ]
    names, vehicles = [r for r, _ in present], [n for _, n in present]
    kept: list[tuple[Any, np.ndarray | None]] = []
    rows: list[dict[str, Any]] = []
    for action in due:
        if not isinstance(action, SoftwareRollout | KeyRotation):
            kept.append((action, None))
            continue
        took, reports = fleet.updates.take(action, names, vehicles, now=now)
        rows += reports
        if took and isinstance(action, SoftwareRollout):
            kept.append((action, np.array([fleet.revisions.index(r) for r in took], np.int8)))
    return kept, rows
