"""Driver-assistance software in the fleet: versions, their hidden quality, staged rollouts.

Each vehicle has a fixed rollout cohort ``u ∈ [0, 1)``. A rollout of version ``v`` to
fraction ``f`` puts every vehicle with ``u < f`` on ``v`` (of the hardware revisions that
took it, when the rollout names them); later rollouts take precedence;
fraction 0 rolls ``v`` back (its vehicles return to what they ran before). A version's
quality multiplies the Autopilot crash rate, every disengagement rate, and (again) the rain
disengagement and rain Autopilot crash rates. Versions the twin has not been told about get
a hidden quality drawn at first sight, usually better than the starting version.

>>> sw = SoftwareFleet(np.random.default_rng(0))
>>> cohort = np.linspace(0, 1, 10, endpoint=False)
>>> sw.rollout("2025.32.0", 0.3)
>>> [sw.names[i] for i in sw.assign(cohort)][:4]
['2025.32.0', '2025.32.0', '2025.32.0', '2025.20.1']
>>> sw.rollout("2025.32.0", 0.0)
>>> set(sw.names[i] for i in sw.assign(cohort))
{'2025.20.1'}
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import numpy as np
import pyarrow as pa

STARTING_VERSION = "2025.20.1"


@dataclass(frozen=True)
class SoftwareQuality:
    """Hidden multipliers of a version (1 = the starting version)."""

    crash: float = 1.0            # Autopilot crashes per mile
    disengagement: float = 1.0    # every driver disengagement
    rain: float = 1.0             # rain disengagements and rain Autopilot crashes, on top


#: The starting version and a known better successor. No published per-release figures:
#: Tesla's quarterly Autopilot miles per crash moved by ≈ ±15 % between quarters.
KNOWN_VERSIONS = {
    STARTING_VERSION: SoftwareQuality(),
    "2025.32.0": SoftwareQuality(crash=0.85, disengagement=0.8, rain=0.7),
}
#: Unknown versions: log-multipliers ~ Normal(mean, sd) — better on average, not always.
UNKNOWN_LOG_MEAN = {"crash": np.log(0.9), "disengagement": np.log(0.85), "rain": np.log(0.8)}
UNKNOWN_LOG_SD = 0.12


class SoftwareFleet:
    """Versions, their quality, and the active rollouts (in the order they were made)."""

    def __init__(self, rng: np.random.Generator,
                 known: dict[str, SoftwareQuality] | None = None) -> None:
        self._rng = rng
        self.quality: dict[str, SoftwareQuality] = dict(KNOWN_VERSIONS if known is None
                                                        else known)
        self.names: list[str] = [STARTING_VERSION]
        self.quality.setdefault(STARTING_VERSION, SoftwareQuality())
        self._rollouts: dict[str, tuple[float, np.ndarray | None, int]] = {}
        #: Per version the fleet ran: its largest share of the fleet and the day it was
        #: rolled back (the truth the scorer reads; analytics see ``ota_reports``).
        self.reach: dict[str, dict[str, float | int | None]] = {}

    def index(self, version: str) -> int:
        """Index of ``version`` in :attr:`names`, registering (and judging) a new one."""
        if version not in self.names:
            self.names.append(version)
        if version not in self.quality:
            draws = {k: float(np.exp(self._rng.normal(m, UNKNOWN_LOG_SD)))
                     for k, m in UNKNOWN_LOG_MEAN.items()}
            self.quality[version] = SoftwareQuality(**draws)
        return self.names.index(version)

    def rollout(self, version: str, fraction: float,
                revisions: np.ndarray | None = None, known: int = 0) -> None:
        """Put ``version`` on ``fraction`` of the fleet (0 removes it); ``revisions``: the
        hardware revision codes that took it (None: every one) of the first ``known``
        codes. A revision first delivered later leaves the factory with it installed."""
        self.index(version)
        if fraction <= 0.0:
            self._rollouts.pop(version, None)
        else:
            self._rollouts[version] = (min(fraction, 1.0), revisions, known)

    def note(self, day: int, version: np.ndarray, rolled_back: list[str]) -> None:
        """Record each version's share of the fleet on ``day`` and the rollbacks taken."""
        for name, share in self.shares(version).items():
            seen = self.reach.setdefault(name, {"peak_share": 0.0, "rolled_back_day": None})
            seen["peak_share"] = max(float(seen["peak_share"] or 0.0), share)
        for name in rolled_back:
            self.reach.setdefault(name, {"peak_share": 0.0})["rolled_back_day"] = day

    def assign(self, cohort: np.ndarray, revision: np.ndarray | None = None) -> np.ndarray:
        """Version index of each vehicle from its cohort (and hardware revision code)."""
        version = np.zeros(len(cohort), np.int16)
        for name, (fraction, took, known) in self._rollouts.items():
            on = cohort < fraction
            if took is not None and revision is not None:
                on &= np.isin(revision, took) | (revision >= known)
            version[on] = self.names.index(name)
        return version

    def multipliers(self, version: np.ndarray) -> dict[str, np.ndarray]:
        """Per-vehicle quality multipliers (float32) of version indices."""
        table = {k: np.array([getattr(self.quality[n], k) for n in self.names], np.float32)
                 for k in ("crash", "disengagement", "rain")}
        return {k: t[version] for k, t in table.items()}

    def shares(self, version: np.ndarray) -> dict[str, float]:
        """Share of vehicles on each version."""
        counts = np.bincount(version, minlength=len(self.names))
        total = max(int(counts.sum()), 1)
        return {n: float(counts[i] / total) for i, n in enumerate(self.names) if counts[i]}


class Released(Protocol):
    """What :func:`release_rows` needs of a release (a scenario's ``[[releases]]``)."""

    version: str
    day: int
    hardware: list[str] | None


def release_artefact(version: str) -> bytes:
    """What stands in for a scenario release's build: its name's bytes."""
    return version.encode()


def release_rows(releases: Sequence[Released], day: int, day_end: datetime) -> pa.Table | None:
    """The ``model_versions`` rows of the releases handed over on ``day`` (None if none):
    the engineers' build, registered an hour before the day's end; its artefact stands in
    as its name (:func:`release_artefact`).

    >>> class R:
    ...     version, day, hardware = "2025.40.0", 3, None
    >>> rows = release_rows([R()], 3, datetime(2025, 1, 4))
    >>> rows.column("model_version").to_pylist(), rows.column("event_time")[0].as_py()
    (['2025.40.0'], datetime.datetime(2025, 1, 3, 23, 0))
    >>> release_rows([R()], 4, datetime(2025, 1, 5)) is None
    True
    """
    today = [r for r in releases if r.day == day]
    if not today:
        return None
    at = day_end - timedelta(hours=1)
    return pa.table({
        "model_version": [r.version for r in today],
        "model_name": ["driver_assistance"] * len(today),
        "parent_version": pa.nulls(len(today), pa.string()),
        "trained_through": [(at - timedelta(days=1)).date()] * len(today),
        "metrics_json": ["{}"] * len(today),
        "sha256": [hashlib.sha256(release_artefact(r.version)).hexdigest() for r in today],
        "signature": pa.nulls(len(today), pa.string()),
        "length": pa.array([len(release_artefact(r.version)) for r in today], pa.int64()),
        "hardware": pa.array([",".join(r.hardware) if r.hardware else None for r in today],
                             pa.string()),
        "event_time": pa.array([at] * len(today), pa.timestamp("us")),
    })
