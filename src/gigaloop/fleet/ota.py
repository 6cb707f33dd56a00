"""The fleet side of a signed over-the-air instruction: what vehicles are told, signed.

Every :class:`~gigaloop.actuate.SoftwareRollout` the fleet modules send carries a manifest
signed by the run's key (:class:`~gigaloop.fleet.registry.Signer`): the version, its
artefact's digest and length (from its ``model_versions`` row), the hardware revisions it
runs on (the row's, else every revision the store has seen built), the stage and share,
and an expiry ``valid_days`` ahead. The vehicles verify it
(:mod:`gigaloop.actuate.ota`) and report installs and refusals in ``ota_reports``.

>>> from datetime import datetime
>>> from gigaloop.fleet.registry import Signer
>>> release = {"model_name": "m", "sha256": "ab", "length": 2, "hardware": ["CAM-A"]}
>>> action = signed_rollout(Signer.generate(), "m-1", release, version_number=1, day=4,
...                         now=datetime(2025, 1, 5), stage="canary", share=0.01)
>>> action.manifest["signed"]["stage"], action.manifest["signed"]["sequence"]
('canary', 1)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, cast

import pyarrow as pa

from gigaloop.actuate import SoftwareRollout
from gigaloop.actuate.ota import epoch
from gigaloop.fleet.registry import Signer

Stage = Literal["shadow", "canary", "staged", "full", "rollback"]
#: How long a signed instruction stays valid (a vehicle refuses it afterwards: freeze).
VALID_DAYS = 3


@dataclass
class Revisions:
    """Hardware revisions of the vehicles built so far (read from ``vehicles``)."""

    seen: set[str] = field(default_factory=set)
    last_read: datetime | None = None

    def read(self, view: Any, now: datetime) -> list[str]:
        rows = view.ingested_since("vehicles", self.last_read, ["hardware_revision"])
        self.last_read = now
        self.seen |= {r for r in rows["hardware_revision"].to_pylist() if r}
        return sorted(self.seen)


#: ``model_versions.model_name`` of the plant's weld-robot policies: the cell rollout's
#: (:mod:`gigaloop.fleet.cell_rollout`), never a vehicle release.
CELL_POLICY_MODEL = "weld_policy"


def release_info(rows: pa.Table) -> dict[str, dict[str, Any]]:
    """``model_versions`` rows (model_version, model_name, sha256, length, hardware) by
    version: what a manifest needs of each."""
    out = {}
    for row in rows.to_pylist():
        hardware = row.get("hardware")
        out[row["model_version"]] = {
            "model_name": row["model_name"],
            "sha256": row["sha256"],
            "length": row.get("length"),
            "hardware": hardware.split(",") if hardware else None,
        }
    return out


def signed_rollout(
    signer: Signer,
    version: str,
    release: dict[str, Any],
    *,
    version_number: int,
    day: int,
    now: datetime,
    stage: str,
    share: float,
    artefact: bytes = b"",
) -> SoftwareRollout:
    """The instruction for ``day``: ``version`` at ``stage`` on ``share`` of the fleet,
    with its signed manifest. A release with no ``length`` (registered before lengths
    were recorded) is signed with length 0, which vehicles refuse as a wrong length."""
    manifest = signer.release(
        model_name=release["model_name"],
        model_version=version,
        version_number=version_number,
        sha256=release["sha256"],
        length=int(release.get("length") or 0),
        hardware=list(release["hardware"]),
        expires=epoch(now + timedelta(days=VALID_DAYS)),
        stage=stage,
        fraction=share,
    )
    return SoftwareRollout(
        day=day,
        software_version=version,
        fleet_fraction=share,
        stage=cast(Stage, stage),
        artefact=artefact,
        manifest=manifest,
    )
