"""Driving scenes: what the driver-assistance model decides on, with a hidden true hazard.

Each day a sample of the consenting vehicles that drove meets scenes: rows of
:data:`~gigaloop.actuate.driving_model.FEATURES` drawn from the day's rain in the
vehicle's region, its driver's night share, road, speed, lead gap, road works and its
camera revision. A hidden logistic hazard model (:func:`hazard_probability`: close
following, which the starting rule knows; 16 hidden pockets it does not, each three
conditions together — say rain, a country road and over 55 mph — drawn once from a fixed
seed, each in 0.02–0.5 % of scenes; the vehicle's own rain perception and a latent term, which
no feature shows) says how likely a scene needs a take-over; whether it
does is drawn from that. The model the vehicle runs flags scenes; a hazardous scene it
does not flag is a *miss*, which the driver usually catches (a disengagement, often a hard
brake) and otherwise risks a crash.

A version's quality multipliers (:class:`~gigaloop.twin.software.SoftwareQuality`) come
from what its model does on a fixed reference sample of scenes, relative to the starting
rule: Autopilot crashes scale with its expected misses, disengagements with its misses
plus a tenth of its false alarms, rain with its misses in rain.

Uploads: per vehicle and day, scenes matching the loop's trigger campaigns up to a budget
in MB, and as many MB of scenes drawn at random (arm ``random``); on vehicles running a
shadow candidate, every other scene where it and production decide differently (arm
``shadow``, a small log without the clip); each lands in
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
from typing import TYPE_CHECKING, Any

import numpy as np

from gigaloop.actuate import SoftwareRollout, TriggerCampaigns
from gigaloop.actuate.driving_model import (
    CONDITIONS,
    FEATURES,
    TreeModel,
    starting_rule,
    where_mask,
)
from gigaloop.twin.software import STARTING_VERSION, SoftwareQuality

if TYPE_CHECKING:
    from gigaloop.twin.fleet import Fleet
    from gigaloop.twin.fleet_rows import Rows
    from gigaloop.twin.telemetry import DayContext

SCENES_PER_VEHICLE = 5          # scenes met per sampled vehicle-day (moments worth a decision)
SAMPLE_VEHICLES = 1000          # vehicles whose scenes are simulated each day
MB_PER_SCENE = 5.0              # a scene's clip and signals, when no campaign says otherwise
REFERENCE_SCENES = 100_000
DRIVER_CATCHES = 0.8            # share of misses the driver takes over from
SHADOW_LOG_MB = 0.05            # a shadow disagreement: the signals and both decisions
FALSE_ALARM_WEIGHT = 0.1        # a false alarm's weight against a miss in disengagements
ROAD_SHARE = (0.5, 0.35, 0.15)  # highway, urban, rural
LATENT_SD = 0.5                 # what no feature shows (logit scale)
POCKET = 5.0                    # logit added in each hidden hazardous pocket
POCKETS, POCKET_SEED = 16, 7
EMERGE = (45, 330)              # days between which the later pockets appear
F = {name: i for i, name in enumerate(FEATURES)}


def draw_features(rng: np.random.Generator, rain_p: np.ndarray, night_p: np.ndarray,
                  sensor_rev: np.ndarray) -> np.ndarray:
    """One scene per element of the per-scene probabilities and revision.

    >>> x = draw_features(np.random.default_rng(0), np.zeros(3), np.ones(3), np.zeros(3))
    >>> x.shape, x[:, FEATURES.index("night")].tolist()
    ((3, 10), [1.0, 1.0, 1.0])
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
    x[:, F["construction"]] = rng.random(n) < np.where(road == 0, 0.04, 0.025)
    x[:, F["sensor_rev"]] = sensor_rev
    x[:, F["glare"]] = (rng.random(n) < 0.08) & (x[:, F["night"]] == 0)
    x[:, F["cut_in"]] = rng.random(n) < 0.03
    return x


#: Literals pockets are made of: (feature, threshold, side) — the feature above the
#: threshold when side is 1, at or below it when 0.
LITERALS = (("rain", 0.5, 1), ("night", 0.5, 1), ("construction", 0.5, 1), ("glare", 0.5, 1),
            ("cut_in", 0.5, 1), ("no_lead", 0.5, 1), ("road", 1.5, 1), ("road", 0.5, 0),
            ("speed_mph", 70.0, 1), ("speed_mph", 30.0, 0), ("lead_gap_s", 1.5, 0),
            ("sensor_rev", 0.5, 1))


def draw_pockets(seed: int = POCKET_SEED, n: int = POCKETS,
                 share: tuple[float, float] = (2e-4, 5e-3)
                 ) -> list[tuple[tuple[int, float, int], ...]]:
    """The hidden hazardous pockets: each three literals on different features that hold
    together in ``share`` of ordinary scenes (the same in every world: a property of
    driving, not of a scenario).

    >>> len(draw_pockets()), len(draw_pockets()[0])
    (16, 3)
    """
    rng = np.random.default_rng(seed)
    m = 50_000
    sample = draw_features(rng, np.full(m, 0.1), np.full(m, 0.2), rng.random(m) < 0.3)
    pockets: list[tuple[tuple[int, float, int], ...]] = []
    while len(pockets) < n:
        pick = sorted(rng.choice(len(LITERALS), 3, replace=False).tolist())
        pocket = tuple((F[LITERALS[i][0]], LITERALS[i][1], LITERALS[i][2]) for i in pick)
        if (len({p[0] for p in pocket}) == 3 and pocket not in pockets
                and share[0] <= in_pockets(sample, [pocket]).mean() <= share[1]):
            pockets.append(pocket)
    return pockets


def in_pockets(x: np.ndarray, pockets: list[tuple[tuple[int, float, int], ...]]
               ) -> np.ndarray:
    """How many pockets each scene is in."""
    count = np.zeros(len(x))
    for pocket in pockets:
        inside = np.ones(len(x), bool)
        for feature, threshold, side in pocket:
            inside &= (x[:, feature] > threshold) == bool(side)
        count += inside
    return count


PROFILE = draw_pockets()
#: The day each pocket appears: half are there from the start, the rest emerge through
#: the year (new road layouts, new kinds of road users), in the same order in every world.
ONSET = np.sort(np.r_[np.zeros(POCKETS // 2, int), np.random.default_rng(POCKET_SEED + 1)
                      .integers(EMERGE[0], EMERGE[1], POCKETS - POCKETS // 2)])


def hazard_probability(x: np.ndarray, rain_perception: np.ndarray,
                       latent: np.ndarray, day: int = 0) -> np.ndarray:
    """The hidden chance each scene needs a take-over on ``day`` (``latent``: what no
    feature sees)."""
    c = {name: x[:, i] for name, i in F.items()}
    z = (-5.2 + 2.6 / (1.0 + np.exp(4.0 * (c["lead_gap_s"] - 1.0)))   # close following
         + 0.3 * c["rain"] + 0.3 * c["night"] + 0.5 * c["construction"]
         + POCKET * in_pockets(x, [p for p, on in zip(PROFILE, ONSET, strict=True)
                                   if on <= day])
         + 2.0 * c["rain"] * (rain_perception - 1.0) + latent)
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
    pockets: int = -1                        # pockets there so far
    software: dict[str, SoftwareQuality] | None = None  # the fleet's quality table
    day_now: int = 0

    def __post_init__(self) -> None:
        ref = np.random.default_rng(20_250_106)  # the same reference in every world
        n = REFERENCE_SCENES
        self._ref_x = draw_features(ref, np.full(n, 0.1), np.full(n, 0.2),
                                    ref.random(n) < 0.3)
        self._ref_latent = ref.normal(0, LATENT_SD, n)
        self.models.setdefault(STARTING_VERSION, starting_rule())
        self.advance(0)
        self._start = self._errors(self.models[STARTING_VERSION])  # the day-0 yardstick
        self.truth[STARTING_VERSION] = self._record(self.models[STARTING_VERSION])

    def advance(self, day: int) -> bool:
        """Bring the hazard to ``day``; whether a pocket appeared (every version's quality
        then changes: :meth:`quality`)."""
        there, self.day_now = int((day >= ONSET).sum()), day
        if there == self.pockets:
            return False
        self.pockets = there
        n = len(self._ref_x)
        self._ref_p = hazard_probability(self._ref_x, np.ones(n), self._ref_latent, day)
        if self.software is not None and hasattr(self, "_start"):
            for version in self.models:
                if version in self.software:
                    self.software[version] = self.quality(version)
        return True

    def take(self, action: SoftwareRollout | TriggerCampaigns) -> bool:
        """Take what of ``action`` is the scenes': campaigns, a learned version's artefact
        (its quality goes to the fleet's table), a shadow; whether nothing is left."""
        if isinstance(action, TriggerCampaigns):
            self.campaigns, self.budget_mb = action.campaigns, action.budget_mb
            self.random_budget_mb = action.random_budget_mb
            return True
        version = action.software_version
        if action.artefact and version not in self.models:
            quality = self.register(version, action.artefact)
            if self.software is not None:
                self.software[version] = quality
        if action.stage == "shadow":
            self.shadow = (version, action.fleet_fraction) if action.fleet_fraction > 0 else None
            return True
        return False

    def model_of(self, version: str) -> TreeModel:
        """The model a version runs (scenario releases run the starting rule)."""
        return self.models.get(version, self.models[STARTING_VERSION])

    def register(self, version: str, artefact: bytes) -> SoftwareQuality:
        """Load a learned version's artefact; its quality relative to the starting rule."""
        model = TreeModel.from_bytes(artefact)
        self.models[version] = model
        self.truth[version] = self._record(model)
        return self.quality(version)

    def quality(self, version: str) -> SoftwareQuality:
        """A version's multipliers today: its model's expected misses (and false alarms,
        misses in rain) on the reference scenes against the starting rule's on day 0."""
        misses, alarms, rain_misses = self._errors(self.model_of(version))
        m0, a0, r0 = self._start
        overall = max(misses / m0, 1e-3)
        disengage = (misses + FALSE_ALARM_WEIGHT * alarms) / (m0 + FALSE_ALARM_WEIGHT * a0)
        return SoftwareQuality(crash=float(overall), disengagement=float(disengage),
                               rain=float(max(rain_misses / r0, 1e-3) / overall))

    def report(self) -> dict[str, Any]:
        """Truth: each learned version's true recall when it was registered and now."""
        return {v: {"registered": self.truth[v], "now": self._record(m)}
                for v, m in self.models.items()}

    def _flags(self, model: TreeModel) -> np.ndarray:
        """The model's decisions on the reference scenes (kept: they never change)."""
        cache: dict[int, tuple[TreeModel, np.ndarray]] = self.__dict__.setdefault("_cache", {})
        if id(model) not in cache:
            cache[id(model)] = (model, model.flag(self._ref_x))
        return cache[id(model)][1]

    def _errors(self, model: TreeModel) -> tuple[float, float, float]:
        """Expected misses, false alarms and misses in rain on the reference sample."""
        flag, p = self._flags(model), self._ref_p
        rain = self._ref_x[:, F["rain"]] == 1
        return (float((p * ~flag).sum()), float(((1 - p) * flag).sum()),
                float((p * ~flag)[rain].sum()))

    def _record(self, model: TreeModel) -> dict[str, Any]:
        """True recall by condition and false-alarm rate on the reference sample (truth)."""
        flag, p = self._flags(model), self._ref_p
        columns = {name: self._ref_x[:, i] for name, i in F.items()}
        recall = {name: round(float((p * flag)[m].sum() / p[m].sum()), 4)
                  for name, where in CONDITIONS.items()
                  if (m := where_mask(where, columns)).any()}
        misses = float((p * ~flag).sum()) / self._start[0] if hasattr(self, "_start") else 1.0
        return {"day": self.day_now, "pockets": self.pockets, "recall": recall,
                "miss_ratio": round(misses, 4),
                "false_alarm_rate": round(float(
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
            x, np.repeat(rain_perception, k), rng.normal(0.0, LATENT_SD, len(x)), self.day_now)
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
        log = in_shadow & (shadow_flag != flag) & (arm == "")
        arm[log], size[log] = "shadow", SHADOW_LOG_MB
        up = np.flatnonzero(arm != "")
        if not up.size:
            return None
        start, self.serial = self.serial, self.serial + len(up)
        out: dict[str, Any] = {k: v[up] for k, v in columns.items() if k != "disagree"}
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


def drive_scenes(fleet: Fleet, rows: Rows, day: int, ctx: DayContext) -> None:
    """The day's scenes of a sample of ``fleet``'s consenting vehicles that drove on
    Autopilot, and their uploads as rows."""
    n, v, info, scenes = fleet.vehicles.n, fleet.vehicles, fleet.info, fleet.scenes
    drove = np.flatnonzero(info.view("consent_telemetry")
                           & (fleet.out.view(n)["autopilot_miles"] > 0))
    if drove.size > SAMPLE_VEHICLES:
        drove = np.sort(scenes.rng.choice(drove, SAMPLE_VEHICLES, replace=False))
    region = v.view("region")[drove]
    up = scenes.day(drove, info.view("version")[drove], fleet.software.names,
                    info.view("cohort")[drove], ctx.rain_share[region],
                    0.1 + 2.0 * v.view("night_share")[drove], info.view("sensor_rev")[drove],
                    info.view("rain_perception")[drove])
    if up is not None:
        fleet.tables.scenes(rows, day, ctx, drove, up)


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


__all__ = ["Scenes", "draw_features", "drive_scenes", "hazard_probability"]
