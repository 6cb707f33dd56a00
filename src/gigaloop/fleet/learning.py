"""A driving model that learns: collect scenes → train → shadow → staged rollout.

Module ``driving_model`` (weekly). It reads the ``scenes`` the vehicles uploaded (the
store, nothing else) and runs one cycle at a time:

1. **Collect.** Trigger campaigns (:class:`~gigaloop.actuate.TriggerCampaigns`) aim the
   vehicles' upload budget at the driving conditions where the model's held-out recall is
   lowest: scenes of that condition where the driver took over and the model had not
   asked (``disagree``). A random arm at the same budget per vehicle is the baseline and
   the unbiased evaluation stream.
2. **Train.** Histogram gradient boosting (scikit-learn), exported to the NumPy tree
   artefact the vehicles run (:mod:`gigaloop.fleet.candidate`), on every uploaded scene
   before the last ``holdout_days``; the random-arm scenes of those days are held out.
   The cut is set on them so the candidate raises no more false alarms than the fleet's
   own decisions did on the same scenes. A candidate that catches significantly more of
   the same held-out hazards than production (a one-sided sign test over the hazards only
   one of them caught, ``alpha``) is registered (``model_versions``: recall by condition,
   training window, campaigns, parent, sha256, an ed25519 signature by
   :class:`~gigaloop.fleet.registry.Signer`).
3. **Shadow.** It runs beside production on ``shadow_share`` of the vehicles for
   ``shadow_days``: its decisions are logged next to production's and what happened,
   never acted on; the vehicles log every scene where the two disagree. It passes if it
   catches significantly more of those vehicles' hazards than production (the same sign
   test over the disagreements) with at most ``alarm_slack`` more false alarms (on their
   random uploads); its shadow
   ``deployments`` row is then ``completed`` (and :mod:`gigaloop.fleet.rollout` takes it
   through its waves), else ``rejected``.
4. **Rollout** is the rollout module's; the next cycle trains once the candidate reached
   the whole fleet or was rolled back, and ``train_every_days`` have passed.

>>> module = LearningModule()
>>> module.name, module.every_days, module.config.shadow_days
('driving_model', 7, 14)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gigaloop.actuate import SoftwareRollout, TriggerCampaigns
from gigaloop.actuate.driving_model import CONDITIONS, FEATURES, TreeModel
from gigaloop.fleet.candidate import cut_at, fit_trees, paired, recall, share
from gigaloop.fleet.ota import Revisions, signed_rollout
from gigaloop.fleet.registry import Registry, Signer
from gigaloop.loop.contract import DayContext, Decision

MODEL_NAME = "driving_model"
#: What trained a version: the digest of this module's source.
CODE_VERSION = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
SCENE_COLUMNS = ("arm", *FEATURES,
                 "flag", "took_over", "hazard", "shadow_version", "shadow_flag", "event_time")


@dataclass(frozen=True)
class LearningConfig:
    """Cadence, budgets and the bars a candidate must clear."""

    first_day: int = 28
    train_every_days: int = 28
    holdout_days: int = 14
    shadow_days: int = 14
    shadow_share: float = 0.25
    trees: int = 100
    leaves: int = 15
    max_train: int = 30_000
    targets: int = 2
    budget_mb: float = 10.0
    random_budget_mb: float = 10.0
    mb_per_scene: float = 5.0
    alpha: float = 0.05
    alarm_slack: float = 0.02
    min_hazards: int = 20
    seed: int = 0


@dataclass
class LearningModule:
    """Weekly; see the module docstring. State: the scenes read so far (NumPy columns, a
    batch per read, in a fixed order whatever order the store returned them in),
    the last instant read, the registry (keys in memory), the production and candidate
    versions, and a record per cycle."""

    config: LearningConfig = field(default_factory=LearningConfig)
    name: str = MODEL_NAME
    depends_on: tuple[str, ...] = ()
    every_days: int = 7
    registry: Registry = field(default_factory=lambda: Registry(Signer.generate()))
    batches: list[dict[str, np.ndarray]] = field(default_factory=list)
    last_read: datetime | None = None
    production: str | None = None
    candidate: str | None = None
    stage: str = "collect"  # collect, shadow, rollout
    since_day: int = 0
    last_trained: int | None = None
    targets: tuple[str, ...] = ()
    cycles: list[dict[str, Any]] = field(default_factory=list)
    revisions: Revisions = field(default_factory=Revisions)

    @property
    def signer(self) -> Signer:
        return self.registry.signer

    def sign_with(self, signer: Signer) -> None:
        """Sign with the run's key (the one its vehicles trust)."""
        self.registry.signer = signer

    def decide(self, ctx: DayContext) -> list[Decision]:
        since, self.last_read = self.last_read, ctx.now
        new = ctx.view.ingested_since("scenes", since, list(SCENE_COLUMNS))
        if new.num_rows:
            self.batches.append(_arrays(new))
        if self.stage == "rollout":
            self._follow_rollout(ctx)
        if self.stage == "shadow" and ctx.day - self.since_day >= self.config.shadow_days:
            return [self._judge_shadow(ctx)]
        if self.stage != "collect" or not self.batches:
            return []
        due = self.last_trained is None or (ctx.day - self.last_trained
                                            >= self.config.train_every_days)
        if ctx.day >= self.config.first_day and due:
            return self._train(ctx)
        if not self.targets and ctx.day >= self.every_days:
            scenes = self._scenes()
            random = scenes["arm"] == "random"
            production = recall({k: v[random] for k, v in scenes.items()},
                                scenes["flag"][random], self.config.min_hazards)
            if any(v is not None for k, v in production.items() if k != "all"):
                return [self._campaigns(ctx, production, "production's recall on random "
                                        "uploads")]
        return []

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the signing key (``gigaloop decide`` keeps modules between
        days): a loaded module signs with a fresh one; versions and history stay."""
        state = dict(self.__dict__)
        reg = self.registry
        state["registry"] = (reg.versions, reg.aliases, reg.history)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        versions, aliases, history = state.pop("registry")
        self.__dict__.update(state)
        self.registry = Registry(Signer.generate(), versions, aliases, history)

    def _scenes(self) -> dict[str, np.ndarray]:
        """Every scene read so far (the batches joined once, then kept as one)."""
        if len(self.batches) > 1:
            self.batches = [{k: np.concatenate([b[k] for b in self.batches])
                             for k in self.batches[0]}]
        return self.batches[0]

    # ---- train ---------------------------------------------------------------------------
    def _train(self, ctx: DayContext) -> list[Decision]:
        cfg = self.config
        self.last_trained = ctx.day
        scenes = self._scenes()
        cutoff = np.datetime64(ctx.now - timedelta(days=cfg.holdout_days), "us")
        held = (scenes["event_time"] >= cutoff) & (scenes["arm"] == "random")
        train = scenes["event_time"] < cutoff
        x, y = _matrix(scenes), scenes["hazard"]
        if min(y[train].sum(), (~y[train]).sum(), y[held].sum(), (~y[held]).sum()) == 0:
            return [Decision(ctx.day, self.name, "driving model: too few scenes to train on "
                             "and to hold out", inputs={"train": int(train.sum()),
                                                        "held_out": int(held.sum())})]
        model, weight = self._fit(x[train], y[train])
        hx, hy, hflag = x[held], y[held], scenes["flag"][held]
        alarms = float(hflag[~hy].mean()) if (~hy).any() else 0.0
        model = model.with_cut(cut_at(model.score(hx)[~hy], alarms))
        heldout = {k: v[held] for k, v in scenes.items()}
        cand = recall(heldout, model.flag(hx), cfg.min_hazards)
        prod = recall(heldout, hflag, cfg.min_hazards)
        window = [str(scenes["event_time"][train].min())[:10],
                  str(scenes["event_time"][train].max())[:10]]
        metrics: dict[str, Any] = {"candidate": cand, "production": prod, "false_alarms": {
            "candidate": float(model.flag(hx)[~hy].mean()), "production": alarms},
            "held_out": {"scenes": int(held.sum()), "hazards": int(hy.sum())},
            "train": {"scenes": int(train.sum()), "weighted": weight}}
        record: dict[str, Any] = {"day": ctx.day, "targets": list(self.targets),
                                  "window": window, **metrics}
        record["paired"] = paired(model.flag(hx), hflag, hy)
        decisions = []
        if record["paired"]["p"] >= cfg.alpha:
            record["outcome"] = "not better"
            self.cycles.append(record)
            decisions.append(Decision(ctx.day, self.name, "driving model: candidate not "
                                      "better than production on held-out scenes",
                                      inputs=record))
        else:
            decisions.append(self._register(ctx, model, record))
        decisions.append(self._campaigns(ctx, cand, "the new model's held-out recall"))
        return decisions

    def _fit(self, x: np.ndarray, y: np.ndarray) -> tuple[TreeModel, bool]:
        """Boosted trees on at most ``max_train`` scenes (every hazard kept, the rest
        sampled and weighted back up)."""
        cfg = self.config
        rng = np.random.default_rng(cfg.seed + len(self.cycles))
        weight = np.ones(len(y))
        negatives = np.flatnonzero(~y)
        room = max(cfg.max_train - int(y.sum()), 1)
        if len(negatives) > room:
            drop = rng.choice(negatives, len(negatives) - room, replace=False)
            weight[negatives] = len(negatives) / room
            weight[drop] = 0.0
        keep = weight > 0
        return fit_trees(x[keep], y[keep], weight[keep], trees=cfg.trees, leaves=cfg.leaves,
                         seed=cfg.seed), bool(len(negatives) > room)

    def _register(self, ctx: DayContext, model: TreeModel, record: dict[str, Any]
                  ) -> Decision:
        cfg = self.config
        artefact = model.to_bytes()
        version = self.registry.register(MODEL_NAME, artefact, parent=self.production,
                                         lineage={"data_window": record["window"],
                                                  "campaign": list(self.targets),
                                                  "code_version": CODE_VERSION,
                                                  "metrics": record["candidate"]})
        sha = hashlib.sha256(artefact).hexdigest()
        signed = self.registry.signer.sign({"model_version": version, "sha256": sha})
        ctx.emit("model_versions", [{
            "model_version": version, "model_name": MODEL_NAME,
            "parent_version": self.production,
            "trained_through": datetime.fromisoformat(record["window"][1]).date(),
            "metrics_json": json.dumps({**record, "campaigns": list(self.targets)},
                                       sort_keys=True),
            "sha256": sha, "signature": signed["signatures"][0]["sig"],
            "length": len(artefact), "hardware": None, "event_time": ctx.now}])
        self._deployment(ctx, version, "active", cfg.shadow_share)
        self.candidate, self.stage, self.since_day = version, "shadow", ctx.day
        record.update(version=version, outcome="shadow")
        self.cycles.append(record)
        return Decision(ctx.day, self.name, f"{version}: trained (held-out recall "
                        f"{record['production']['all']:.2f} → {record['candidate']['all']:.2f}),"
                        f" shadow on {cfg.shadow_share:.0%} of the fleet", inputs=record,
                        action=self._shadow(ctx, version, cfg.shadow_share, artefact))

    # ---- shadow and rollout --------------------------------------------------------------
    def _judge_shadow(self, ctx: DayContext) -> Decision:
        cfg, version = self.config, self.candidate
        assert version is not None
        scenes = self._scenes()
        shadowed = scenes["shadow_version"] == version
        on = shadowed & (scenes["arm"] == "random")
        y, prod, cand = scenes["hazard"][on], scenes["flag"][on], scenes["shadow_flag"][on]
        logged = shadowed & (scenes["shadow_flag"] != scenes["flag"])  # every disagreement
        seen: dict[str, Any] = {"scenes": int(on.sum()), "hazards": int(y.sum()),
                "recall": {"candidate": share(cand, y), "production": share(prod, y)},
                "false_alarms": {"candidate": share(cand, ~y), "production": share(prod, ~y)}}
        recall, alarms = seen["recall"], seen["false_alarms"]
        seen["paired"] = paired(scenes["shadow_flag"][logged], scenes["flag"][logged],
                                 scenes["hazard"][logged])
        passed = (seen["paired"]["p"] < cfg.alpha
                  and alarms["candidate"] <= alarms["production"] + cfg.alarm_slack)
        self.cycles[-1]["shadow"] = seen
        status = "completed" if passed else "rejected"
        self._deployment(ctx, version, status, 0.0)
        self.stage = "rollout" if passed else "collect"
        self.cycles[-1]["outcome"] = "rollout" if passed else "shadow rejected"
        self.since_day = ctx.day
        verdict = "passed" if passed else "failed"
        return Decision(ctx.day, self.name, f"{version}: shadow {verdict} (recall "
                        f"{recall['production']:.2f} → "
                        f"{recall['candidate']:.2f} on {seen['hazards']} hazards)",
                        inputs=seen, action=self._shadow(ctx, version, 0.0))

    def _follow_rollout(self, ctx: DayContext) -> None:
        """The rollout module's stages of the candidate: the whole fleet or rolled back
        (every row: the rollout module may write after this module's last read)."""
        rows = ctx.view.ingested_since("deployments", None, ["model_version", "stage"])
        mine = pc.equal(rows["model_version"], self.candidate)
        stages = set(rows.filter(mine)["stage"].to_pylist()) if rows.num_rows else set()
        if "full" in stages:
            self.production = self.candidate
            self.cycles[-1]["outcome"] = "production"
        elif "rolled_back" in stages:
            self.cycles[-1]["outcome"] = "rolled back"
        else:
            return
        self.cycles[-1]["resolved_day"] = ctx.day
        self.stage, self.candidate = "collect", None

    def _shadow(self, ctx: DayContext, version: str, share: float, artefact: bytes = b""
                ) -> SoftwareRollout:
        """The signed instruction to run ``version`` in shadow on ``share`` (0: stop)."""
        info = self.registry.versions[version]
        release = {"model_name": MODEL_NAME, "sha256": info["sha256"],
                   "length": info["length"], "hardware": self.revisions.read(ctx.view, ctx.now)}
        return signed_rollout(self.registry.signer, version, release,
                              version_number=info["version_number"], day=ctx.day + 1,
                              now=ctx.now, stage="shadow", share=share, artefact=artefact)

    def _deployment(self, ctx: DayContext, version: str, status: str, share: float) -> None:
        ctx.emit("deployments", [{
            "deployment_id": f"{version}/shadow/{status}/{ctx.day}", "model_version": version,
            "stage": "shadow", "fleet_fraction": share, "status": status,
            "event_time": ctx.now}])

    def _campaigns(self, ctx: DayContext, recall: dict[str, float | None], why: str
                   ) -> Decision:
        """Aim the upload budget at the conditions of lowest recall."""
        cfg = self.config
        known = {k: v for k, v in recall.items() if k in CONDITIONS and v is not None}
        self.targets = tuple(sorted(known, key=lambda k: known[k])[:cfg.targets])
        campaigns = tuple({"name": f"{name}_disagree", "where": {**CONDITIONS[name],
                                                                 "disagree": 1},
                           "mb_per_scene": cfg.mb_per_scene} for name in self.targets)
        return Decision(ctx.day, self.name, f"trigger campaigns on {', '.join(self.targets)}"
                        f" (lowest {why})", inputs={"recall": recall},
                        action=TriggerCampaigns(day=ctx.day + 1, campaigns=campaigns,
                                                budget_mb=cfg.budget_mb,
                                                random_budget_mb=cfg.random_budget_mb))


def _arrays(table: pa.Table) -> dict[str, np.ndarray]:
    """Scene columns as NumPy (booleans as bool, nulls as False or ""), rows sorted by
    event time and speed: a store need not return rows in one order, and the training
    sample must not depend on it."""
    out: dict[str, np.ndarray] = {}
    for name in table.column_names:
        column = table[name]
        if pa.types.is_boolean(column.type):
            out[name] = column.fill_null(False).to_numpy(zero_copy_only=False).astype(bool)
        elif pa.types.is_string(column.type) or pa.types.is_null(column.type):
            out[name] = column.cast(pa.string()).fill_null("").to_numpy(zero_copy_only=False)
        else:
            out[name] = column.to_numpy(zero_copy_only=False)
    order = np.lexsort((out["speed_mph"], out["event_time"]))
    return {k: v[order] for k, v in out.items()}


def _matrix(scenes: dict[str, np.ndarray]) -> np.ndarray:
    return np.column_stack([scenes[f].astype(np.float64) for f in FEATURES])


__all__ = ["LearningConfig", "LearningModule"]
