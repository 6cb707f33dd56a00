"""Visual inspection in the loop: verdicts, rework, a threshold from costs, a p-chart.

Each day the module scores the images the vision stations published (``inspection_images``:
the weld seam at BW-040, the paint panel at PT-030) with a PatchCore model run by
onnxruntime, one batch per point, and writes a verdict row per unit to
``inspection_results``. Failed units go to rework (:class:`~gigaloop.actuate.Rework`), and a
small random audit of passed ones too; the repair bay's findings (``rework_results``) come
back as labels.

* **Model**: fitted on the commissioning set's good samples (the first
  :attr:`InspectionConfig.train` of them) and cached as ONNX, keyed by the hash of those
  images and the settings, so a rerun (of any folder) loads it instead.
* **Threshold**: the least expected cost of an escape against a false reject
  (:func:`~gigaloop.factory.inspection.threshold.cost_threshold`), first on the held-out
  commissioning samples (good ones and limit samples of each defect), then every
  :attr:`InspectionConfig.retune_days` on production labels (audits weighted by 1/share).
* **p-chart** per station on the daily share of units over the commissioning threshold
  (fixed, so retuning moves no limit): Phase I over the first
  :attr:`InspectionConfig.phase_one_days` days; an alarm is an ``spc_alarms`` row (parameter
  ``defect_rate:<point>``) and a decision; when one upstream machine's units are over the
  threshold more than its station's others (Fisher exact test,
  :mod:`~gigaloop.factory.inspection.localise`), the decision orders its
  :class:`~gigaloop.actuate.Calibration` from the next day.

Needs the ``vision`` extra: building the module without it raises
:class:`~gigaloop.errors.MissingExtraError` (``gigaloop run`` then skips it).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from gigaloop.actuate import Calibration, PublishImages, Rework
from gigaloop.errors import MissingExtraError, require
from gigaloop.factory.inspection.localise import suspect_machine, upstream_work
from gigaloop.factory.inspection.runtime import GRAPH_VERSION
from gigaloop.factory.inspection.threshold import OperatingPoint, cost_threshold
from gigaloop.loop.contract import DayContext, Decision
from gigaloop.ml.spc import PChart

IMAGE_COLUMNS = ["image_id", "vin", "station_id", "inspection", "image_uri", "label",
                 "event_time"]
LABEL_COLUMNS = ["vin", "inspection", "reason", "defect_found"]


@dataclass(frozen=True)
class InspectionConfig:
    """Costs (USD), audit share, chart and model settings."""

    #: a defect in the field (claim, repair, goodwill), per point: a weld seam is structural
    c_escape: dict[str, float] = field(default_factory=lambda: {
        "weld_seam": 10_000.0, "paint_panel": 2_000.0})
    c_escape_other: float = 2_000.0
    c_rework: float = 50.0     # a good unit pulled for rework
    prevalence: float = 0.02   # prior share of defective units, until labels say
    audit_share: float = 0.02  # passed units sampled for the repair bay
    retune_days: int = 7
    min_defects: float = 20.0  # weighted production defects before retuning on them
    phase_one_days: int = 14
    calibration_cooldown_days: int = 14  # between two alarm calibrations of one machine
    train: int = 400           # commissioning good samples to fit on; the rest held out
    epochs: int = 8
    bank_size: int = 2048
    stride: int = 2            # PatchCore queries every 2nd patch: 4× less search
    stem_features: bool = True  # full-resolution stem features: small pores stand out
    sigma: float = 3.0         # heat-map smoothing (px)
    #: search on the bank's first 32 principal axes and the rest's norm: 20 % less CPU
    #: per image, image scores within 0.5 % of the full search's (docs/vision.md)
    dims: int | None = 32
    coreset_pool: int = 500_000  # all patches of 400 training images
    threads: int = 2
    seed: int = 0
    #: where fitted scorers are kept, by the hash of their training images and settings;
    #: None: ``$GIGALOOP_CACHE`` or ``~/.cache/gigaloop``, under ``inspection/``
    cache_dir: Path | None = None

    def model_settings(self) -> dict[str, Any]:
        """The :class:`~gigaloop.factory.inspection.patchcore.PatchCore` arguments (the
        benches fit with these too)."""
        return {k: getattr(self, k) for k in ("epochs", "bank_size", "stride", "dims",
                                               "coreset_pool", "stem_features", "sigma", "seed")}


@dataclass
class _Point:
    """One inspection point's model, operating point, chart and labels."""

    station: str
    camera: str  # the station's machine, which an alarm names
    detector: Any
    model_version: str
    operating: OperatingPoint
    chart_threshold: float
    chart: PChart = field(default_factory=PChart)
    charted_days: int = 0
    scores: dict[str, float] = field(default_factory=dict)
    labels: list[tuple[float, bool, float]] = field(default_factory=list)
    held_out: list[tuple[float, bool]] = field(default_factory=list)


class InspectionModule:
    """Daily: score the day's images, verdicts to the store, failed units to rework."""

    name = "inspection"
    depends_on: tuple[str, ...] = ()
    every_days = 1

    def __init__(self, config: InspectionConfig | None = None) -> None:
        require("onnxruntime", "vision")
        # torch only fits the model (a cached one needs none): checked, not imported (≈ 4 s)
        if importlib.util.find_spec("torch") is None:
            raise MissingExtraError("vision", "torch")
        self.config = config or InspectionConfig()
        self.points: dict[str, _Point] = {}
        self.operating_points: list[dict[str, Any]] = []  # every (re)tune, for the report
        self._cursor: datetime | None = None
        self._rng = np.random.default_rng(self.config.seed)
        self._calibrated: dict[str, int] = {}  # machine → day an alarm calibrated it

    def setup(self) -> list[Decision]:
        """Before day 0: ask the vision stations for images (the verdicts become ours)."""
        return [Decision(0, self.name, "vision stations: publish images, the verdicts and "
                         "rework orders are the inspection module's",
                         action=PublishImages(day=0, reason="PatchCore inspection"))]

    def decide(self, ctx: DayContext) -> list[Decision]:
        images = ctx.view.ingested_since("inspection_images", self._cursor, IMAGE_COLUMNS)
        labels = ctx.view.ingested_since("rework_results", self._cursor, LABEL_COLUMNS)
        self._cursor = ctx.view.cutoff
        decisions: list[Decision] = []
        samples = images.filter(images["label"].is_valid())
        if samples.num_rows:
            decisions += self._commission(ctx, samples)
        self._learn_labels(labels)
        if ctx.day % self.config.retune_days == 0:
            decisions += self._retune(ctx)
        units = images.filter(images["vin"].is_valid()).to_pandas()
        rows: list[dict[str, Any]] = []
        alarms: list[dict[str, Any]] = []
        for point, batch in units.groupby("inspection", sort=True):
            state = self.points.get(str(point))
            if state is None:
                continue
            decisions += self._inspect(ctx, str(point), state, batch, rows, alarms)
        if rows:
            ctx.emit("inspection_results", rows)
        if alarms:
            ctx.emit("spc_alarms", alarms)
        return decisions

    def _commission(self, ctx: DayContext, samples: pa.Table) -> list[Decision]:
        from gigaloop.factory.inspection.runtime import OnnxDetector

        config, decisions = self.config, []
        frame = samples.to_pandas()
        for point, rows in frame.groupby("inspection", sort=True):
            good = rows[rows.label == "good"]
            train, held = good.iloc[:config.train], good.iloc[config.train:]
            if not len(held) or (rows.label == "good").all():
                continue
            model, version = self._model(load_images(train.image_uri))
            detector = OnnxDetector(model, threads=config.threads)
            tested = rows[~rows.index.isin(train.index)]
            _, score = detector.score(load_images(tested.image_uri))
            bad = (tested.label != "good").to_numpy()
            operating = cost_threshold(score, bad, c_escape=self._c_escape(str(point)),
                                       c_rework=config.c_rework, prevalence=config.prevalence)
            station = str(rows.station_id.iloc[0])
            state = _Point(station, _camera(ctx, station), detector, version, operating,
                           operating.threshold)
            # the held-out samples stay labels: production's only see misses by audit
            state.held_out = [(float(v), bool(b)) for v, b in zip(score, bad, strict=True)]
            self.points[str(point)] = state
            self._note(ctx, str(point), operating, "commissioning samples")
            decisions.append(Decision(
                ctx.day, self.name, f"{point}: model {version} fitted on {len(train)} good "
                f"samples; threshold {operating.threshold:.4g} (false rejects "
                f"{operating.false_reject_rate:.1%}, misses {operating.miss_rate:.1%} on "
                f"{len(tested)} held-out samples)", inputs=operating.record()))
        return decisions

    def _model(self, train: np.ndarray) -> tuple[bytes, str]:
        """The ONNX scorer for ``train``: from the cache, else fitted (and cached)."""
        config = self.config
        settings = config.model_settings()
        # the exported graph's version too: a faster graph of the same fit is a new file
        key = hashlib.sha256(train.tobytes() + repr((settings, GRAPH_VERSION)).encode()
                             ).hexdigest()[:12]
        folder = config.cache_dir or Path(os.environ.get(
            "GIGALOOP_CACHE", Path.home() / ".cache" / "gigaloop")) / "inspection"
        cache = Path(folder) / f"patchcore-{key}.onnx"
        if cache.exists():
            return cache.read_bytes(), key
        from gigaloop.factory.inspection.patchcore import PatchCore

        model = PatchCore(**settings).fit(train).to_onnx()
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_bytes(model)
        return model, key

    def _inspect(self, ctx: DayContext, point: str, state: _Point, batch: Any,
                 rows: list[dict[str, Any]], alarms: list[dict[str, Any]]) -> list[Decision]:
        _, score = state.detector.score(load_images(batch.image_uri))
        vins = batch.vin.to_numpy()
        failed = score >= state.operating.threshold
        state.scores.update(zip(vins, score.astype(float), strict=True))
        rows += [{"vin": v, "station_id": state.station, "inspection": point,
                  "passed": not f, "defect": "anomaly" if f else None, "score": float(s),
                  "image_uri": uri, "event_time": t}
                 for v, f, s, uri, t in zip(vins, failed, score, batch.image_uri,
                                            batch.event_time, strict=True)]
        audit = ~failed & (self._rng.random(len(vins)) < self.config.audit_share)
        decisions = [Decision(ctx.day, self.name, f"{point}: {int(which.sum())} of {len(vins)} "
                              f"units to the repair bay ({reason})",
                              action=Rework(day=ctx.day, station_id=state.station,
                                            inspection=point, vins=tuple(vins[which]),
                                            reason=reason),
                              inputs={"threshold": state.operating.threshold,
                                      "model_version": state.model_version})
                     for which, reason in ((failed, "flagged"), (audit, "audit")) if which.any()]
        over = int((score >= state.chart_threshold).sum())
        state.charted_days += 1
        if state.charted_days <= self.config.phase_one_days:
            state.chart.learn_one(over, len(vins))
            return decisions
        share = state.chart.update(over, len(vins))
        if state.chart.alarm:
            alarms.append({"machine_id": state.camera, "station_id": state.station,
                           "parameter": f"defect_rate:{point}", "rule": "p_upper",
                           "statistic": share, "limit": state.chart.limit,
                           "first_vin": str(vins[np.argmax(score)]), "event_time": ctx.now})
            decisions.append(self._alarm(ctx, point, state, share, vins,
                                         score >= state.chart_threshold))
        return decisions

    def _alarm(self, ctx: DayContext, point: str, state: _Point, share: float,
               vins: np.ndarray, over: np.ndarray) -> Decision:
        """The alarm's decision: a calibration of the upstream machine whose units are over
        the reference threshold most (:mod:`~gigaloop.factory.inspection.localise`), if one
        stands out and was not calibrated for this within the cooldown."""
        summary = (f"{point} at {state.station}: {share:.1%} of units over the reference "
                   f"threshold (limit {state.chart.limit:.1%}, usual {state.chart.p_bar:.1%})")
        inputs: dict[str, Any] = {"units": len(vins), "over": int(over.sum())}
        work = upstream_work(ctx.view, state.station, [str(v) for v in vins])
        suspect = suspect_machine(work, {str(v) for v in vins[over]})
        if suspect is None:
            return Decision(ctx.day, self.name, summary + "; no upstream machine stands out",
                            inputs=inputs)
        inputs["suspect"] = asdict(suspect)
        last = self._calibrated.get(suspect.machine_id)
        if last is not None and ctx.day - last < self.config.calibration_cooldown_days:
            return Decision(ctx.day, self.name, f"{summary}; {suspect.machine_id} calibrated "
                            f"on day {last}", inputs=inputs)
        self._calibrated[suspect.machine_id] = ctx.day
        return Decision(
            ctx.day, self.name, f"{summary}; calibrate {suspect.machine_id} ({suspect.share:.0%} "
            f"of its units over, {suspect.others:.0%} of its station's others)",
            action=Calibration(day=ctx.day + 1, machine_id=suspect.machine_id,
                               reason=f"inspection: defect_rate:{point} p-chart alarm"),
            inputs=inputs)

    def _learn_labels(self, labels: pa.Table) -> None:
        weight = {"flagged": 1.0, "audit": 1.0 / self.config.audit_share}
        for row in labels.to_pylist():
            state = self.points.get(row["inspection"])
            if state is not None and row["vin"] in state.scores:
                state.labels.append((state.scores[row["vin"]], bool(row["defect_found"]),
                                     weight[row["reason"]]))

    def _retune(self, ctx: DayContext) -> list[Decision]:
        decisions = []
        for point, state in self.points.items():
            if not state.labels:
                continue
            score, bad, weight = (np.array(x) for x in zip(*state.labels, strict=True))
            if weight[bad].sum() < self.config.min_defects or bad.all():
                continue
            prevalence = float(weight[bad].sum() / weight.sum())
            # production labels (audits weighted 1/share) see a pass's defect only by audit,
            # rarely: the limit samples, one each, keep the scores below the threshold known
            limit = np.array([v for v, b in state.held_out if b])
            score, bad = np.r_[score, limit], np.r_[bad, np.ones(len(limit), bool)]
            weight = np.r_[weight, np.ones(len(limit))]
            operating = cost_threshold(score, bad, c_escape=self._c_escape(point),
                                       c_rework=self.config.c_rework, prevalence=prevalence,
                                       weights=weight)
            if operating.threshold == state.operating.threshold:
                continue
            state.operating = operating
            self._note(ctx, point, operating, "production labels")
            decisions.append(Decision(
                ctx.day, self.name, f"{point}: threshold {operating.threshold:.4g} from "
                f"{len(score)} rework labels (false rejects {operating.false_reject_rate:.1%}, "
                f"misses {operating.miss_rate:.1%}, defect share {prevalence:.1%})",
                inputs=operating.record()))
        return decisions

    def _c_escape(self, point: str) -> float:
        return self.config.c_escape.get(point, self.config.c_escape_other)

    def _note(self, ctx: DayContext, point: str, operating: OperatingPoint, source: str) -> None:
        self.operating_points.append({"day": ctx.day, "point": point, "source": source,
                                      **operating.record()})


def load_images(uris: Any) -> np.ndarray:
    """Images (N, H, W) in [0, 1] from ``file#index`` URIs (one read per file)."""
    uris = list(uris)
    parts = [u.rsplit("#", 1) for u in uris]
    out: list[Any] = [None] * len(uris)
    for path in dict.fromkeys(p for p, _ in parts):
        stack = np.load(path, mmap_mode="r")
        for i, (p, index) in enumerate(parts):
            if p == path:
                out[i] = stack[int(index)]
    return np.stack(out).astype(np.float32) / 255.0


def _camera(ctx: DayContext, station: str) -> str:
    """The station's (first) machine: the camera an inspection alarm names."""
    machines = ctx.view.table("machines")
    ids = machines.filter(machines.station_id == station).machine_id.to_pyarrow().to_pylist()
    return min(ids) if ids else station
