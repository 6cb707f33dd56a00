"""Driving scenes: what the driver-assistance model decides on, with a hidden true hazard.

Each day a sample of the consenting vehicles that drove meets scenes: rows of
:data:`~gigaloop.actuate.driving_model.FEATURES` drawn from the day's rain in the
vehicle's region, its driver's night share, road, speed, lead gap, road works and its
camera revision. A hidden logistic hazard model (:func:`hazard_probability`, with
interactions: night × road works, rain × speed, night × city, and the vehicle's own rain
perception, which no feature shows) says how likely a scene needs a take-over; whether it
does is drawn from that. The model the vehicle runs flags scenes; a hazardous scene it
does not flag is a *miss*, which the driver usually catches (a disengagement, often a hard
brake) and otherwise risks a crash.

A version's quality multipliers (:class:`~gigaloop.twin.software.SoftwareQuality`) come
from what its model does on a fixed reference sample of scenes, relative to the starting
rule: Autopilot crashes scale with its expected misses, disengagements with its misses
plus a tenth of its false alarms, rain with its misses in rain.

Uploads: per vehicle and day, scenes matching the loop's trigger campaigns up to a budget
in MB, and as many MB of scenes drawn at random (arm ``random``); each lands in
``scenes`` with its label in hindsight, and each campaign upload is a ``trigger_events``
row whose ``clip_uri`` is ``scene://<scene_id>``.

>>> rng = np.random.default_rng(0)
>>> world = Scenes(rng)
>>> q = world.register("better", starting_rule().with_cut(-10.0).to_bytes())
>>> q.crash < 0.2 and q.disengagement > q.crash   # flags all: few misses, many alarms
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gigaloop.actuate.driving_model import (
    CONDITIONS,
    FEATURES,
    TreeModel,
    starting_rule,
    where_mask,
)
from gigaloop.twin.software import STARTING_VERSION, SoftwareQuality

SCENES_PER_VEHICLE = 5          # scenes met per sampled vehicle-day (moments worth a decision)
SAMPLE_VEHICLES = 1500          # vehicles whose scenes are simulated each day
MB_PER_SCENE = 5.0              # a scene's clip and signals, when no campaign says otherwise
REFERENCE_SCENES = 100_000
DRIVER_CATCHES = 0.8            # share of misses the driver takes over from
FALSE_ALARM_WEIGHT = 0.1        # a false alarm's weight against a miss in disengagements
ROAD_SHARE = (0.5, 0.35, 0.15)  # highway, urban, rural
F = {name: i for i, name in enumerate(FEATURES)}


def draw_features(rng: np.random.Generator, rain_p: np.ndarray, night_p: np.ndarray,
                  sensor_rev: np.ndarray) -> np.ndarray:
    """One scene per element of the per-scene probabilities and revision.

    >>> x = draw_features(np.random.default_rng(0), np.zeros(3), np.ones(3), np.zeros(3))
    >>> x.shape, x[:, FEATURES.index("night")].tolist()
    ((3, 8), [1.0, 1.0, 1.0])
    """
    n = len(rain_p)
    x = np.zeros((n, len(FEATURES)))
    x[:, F["rain"]] = rng.random(n) < rain_p
    x[:, F["night"]] = rng.random(n) < night_p
    road = rng.choice(3, n, p=ROAD_SHARE)
    x[:, F["road"]] = road
    mean_speed = np.array([68.0, 32.0, 50.0])[road]
    x[:, F["speed_mph"]] = np.clip(rng.normal(mean_speed, 9.0), 5.0, 95.0)
    no_lead = rng.random(n) < 0.3
    x[:, F["no_lead"]] = no_lead
    x[:, F["lead_gap_s"]] = np.where(no_lead, 10.0,
                                     np.clip(rng.lognormal(np.log(2.0), 0.5, n), 0.3, 8.0))
    x[:, F["construction"]] = rng.random(n) < np.where(road == 0, 0.1, 0.06)
    x[:, F["sensor_rev"]] = sensor_rev
    return x


def hazard_probability(x: np.ndarray, rain_perception: np.ndarray,
                       latent: np.ndarray) -> np.ndarray:
    """The hidden chance each scene needs a take-over (``latent``: what no feature sees)."""
    c = {name: x[:, i] for name, i in F.items()}
    rain, night, works = c["rain"], c["night"], c["construction"]
    z = (-4.6 + 2.8 / (1.0 + np.exp(4.0 * (c["lead_gap_s"] - 1.1)))
         + 0.5 * rain + 0.06 * rain * np.maximum(c["speed_mph"] - 45.0, 0.0)
         + 0.4 * night + 1.2 * works + 1.8 * night * works
         + 0.9 * night * (c["road"] == 1) + 0.5 * (c["speed_mph"] > 80)
         + 2.0 * rain * (rain_perception - 1.0) + latent)
    return 1.0 / (1.0 + np.exp(-z))


@dataclass
class Scenes:
    """The scene world: the reference sample, each learned version's model, the shadow
    candidate, and the campaigns the loop asked for (none until it asks)."""

    rng: np.random.Generator
    models: dict[str, TreeModel] = field(default_factory=dict)
    campaigns: tuple[dict[str, Any], ...] = ()
    budget_mb: float = 10.0
    random_budget_mb: float = 10.0
    shadow: tuple[str, float] | None = None  # version, share of the fleet
    serial: int = 0
    truth: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ref = np.random.default_rng(20_250_106)  # the same reference in every world
        n = REFERENCE_SCENES
        self._ref_x = draw_features(ref, np.full(n, 0.1), np.full(n, 0.2), np.zeros(n))
        self._ref_p = hazard_probability(self._ref_x, np.ones(n), ref.normal(0, 0.7, n))
        self.models.setdefault(STARTING_VERSION, starting_rule())
        self._start = self._errors(self.models[STARTING_VERSION])
        self.truth[STARTING_VERSION] = self._record(self.models[STARTING_VERSION])

    def model_of(self, version: str) -> TreeModel:
        """The model a version runs (scenario releases run the starting rule)."""
        return self.models.get(version, self.models[STARTING_VERSION])

    def register(self, version: str, artefact: bytes) -> SoftwareQuality:
        """Load a learned version's artefact; its quality relative to the starting rule."""
        model = TreeModel.from_bytes(artefact)
        self.models[version] = model
        self.truth[version] = self._record(model)
        misses, alarms, rain_misses = self._errors(model)
        m0, a0, r0 = self._start
        overall = max(misses / m0, 1e-3)
        disengage = (misses + FALSE_ALARM_WEIGHT * alarms) / (m0 + FALSE_ALARM_WEIGHT * a0)
        return SoftwareQuality(crash=float(overall), disengagement=float(disengage),
                               rain=float(max(rain_misses / r0, 1e-3) / overall))

    def _errors(self, model: TreeModel) -> tuple[float, float, float]:
        """Expected misses, false alarms and misses in rain on the reference sample."""
        flag, p = model.flag(self._ref_x), self._ref_p
        rain = self._ref_x[:, F["rain"]] == 1
        return (float((p * ~flag).sum()), float(((1 - p) * flag).sum()),
                float((p * ~flag)[rain].sum()))

    def _record(self, model: TreeModel) -> dict[str, Any]:
        """True recall by condition and false-alarm rate on the reference sample (truth)."""
        flag, p = model.flag(self._ref_x), self._ref_p
        columns = {name: self._ref_x[:, i] for name, i in F.items()}
        recall = {name: round(float((p * flag)[m].sum() / p[m].sum()), 4)
                  for name, where in CONDITIONS.items()
                  if (m := where_mask(where, columns)).any()}
        return {"recall": recall, "false_alarm_rate": round(float(
            ((1 - p) * flag).sum() / (1 - p).sum()), 4)}

    # ---- a day ---------------------------------------------------------------------------
    def day(self, vehicles: np.ndarray, version: np.ndarray, names: list[str],
            cohort: np.ndarray, rain_p: np.ndarray, night_p: np.ndarray,
            sensor_rev: np.ndarray, rain_perception: np.ndarray) -> dict[str, Any] | None:
        """Scenes of the sampled ``vehicles`` (field indices; the other arrays are theirs)
        and the uploads: columns of the ``scenes`` rows (``owner``: index into
        ``vehicles``), or None when nothing is uploaded."""
        if not (self.budget_mb or self.random_budget_mb) or not len(vehicles):
            return None
        rng, k = self.rng, SCENES_PER_VEHICLE
        owner = np.repeat(np.arange(len(vehicles)), k)
        x = draw_features(rng, np.repeat(rain_p, k), np.repeat(night_p, k),
                          np.repeat(sensor_rev, k))
        hazard = rng.random(len(x)) < hazard_probability(
            x, np.repeat(rain_perception, k), rng.normal(0.0, 0.7, len(x)))
        flag = np.zeros(len(x), bool)
        ran = version[owner]
        for v in np.unique(ran).tolist():
            on = ran == v
            flag[on] = self.model_of(names[v]).flag(x[on])
        u = rng.random(len(x))
        took_over = flag | (hazard & (u < DRIVER_CATCHES)) | (~hazard & (u < 0.01))
        hard_brake = ~flag & ((hazard & (u < DRIVER_CATCHES / 2)) | (~hazard & (u < 0.005)))
        columns = {name: x[:, i] for name, i in F.items()}
        columns.update(flag=flag, took_over=took_over, hard_brake=hard_brake,
                       disagree=flag != took_over, hazard=hazard)
        shadow_flag = np.zeros(len(x), bool)
        in_shadow = np.zeros(len(x), bool)
        if self.shadow is not None:
            in_shadow = cohort[owner] < self.shadow[1]
            shadow_flag[in_shadow] = self.models[self.shadow[0]].flag(x[in_shadow])
        arm, campaign, size = self._uploads(columns, owner)
        up = np.flatnonzero(arm != "")
        if not up.size:
            return None
        start, self.serial = self.serial, self.serial + len(up)
        out = {k: v[up] for k, v in columns.items() if k != "disagree"}
        out.update(owner=owner[up], arm=arm[up], campaign=campaign[up], size_mb=size[up],
                   number=np.arange(start, start + len(up)), in_shadow=in_shadow[up],
                   shadow_flag=shadow_flag[up],
                   shadow_version=self.shadow[0] if self.shadow else None)
        return out

    def _uploads(self, columns: dict[str, np.ndarray], owner: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per scene: arm (``""`` not uploaded, ``random``, or ``campaign``), campaign name
        and MB; within each vehicle's daily budgets."""
        n = len(owner)
        arm = np.full(n, "", dtype=object)
        name = np.full(n, None, dtype=object)
        size = np.full(n, MB_PER_SCENE)
        matched = np.zeros(n, bool)
        for spec in self.campaigns:
            hit = where_mask(spec["where"], columns) & ~matched
            name[hit] = spec["name"]
            size[hit] = float(spec.get("mb_per_scene", MB_PER_SCENE))
            matched |= hit
        random = _within_budget(self.rng, owner, np.ones(n, bool), np.full(n, MB_PER_SCENE),
                                self.random_budget_mb)
        chosen = _within_budget(self.rng, owner, matched & ~random, size, self.budget_mb)
        arm[chosen] = "campaign"
        arm[random], name[random], size[random] = "random", None, MB_PER_SCENE
        return arm, name, size


def _within_budget(rng: np.random.Generator, owner: np.ndarray, eligible: np.ndarray,
                   size: np.ndarray, budget: float) -> np.ndarray:
    """Eligible scenes in random order per vehicle, kept while the vehicle's MB fit.

    >>> owner = np.array([0, 0, 0, 1])
    >>> _within_budget(np.random.default_rng(0), owner, np.ones(4, bool), np.full(4, 5.0),
    ...                10.0).sum().item()
    3
    """
    keep = np.zeros(len(owner), bool)
    idx = np.flatnonzero(eligible)
    if not idx.size or budget <= 0:
        return keep
    idx = idx[np.lexsort((rng.random(idx.size), owner[idx]))]
    spent = np.cumsum(size[idx])
    first = np.r_[True, owner[idx][1:] != owner[idx][:-1]]
    before = np.maximum.accumulate(np.where(first, spent - size[idx], 0.0))
    keep[idx[spent - before <= budget + 1e-9]] = True
    return keep


__all__ = ["Scenes", "draw_features", "hazard_probability"]
