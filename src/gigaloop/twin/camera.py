"""The vision stations: the weld seam at BW-040 and the paint panel at PT-030.

Each unit gets, per point, the defect it truly has ("" = none): at the weld seam the
seam flaw the weld current causes (:mod:`gigaloop.twin.build`), its kind tilted towards
porosity as the current drifts; at the paint panel a visible paint defect (2 % of units).
What the station reports depends on the plant's set-up:

* **legacy** (the default, and every ``--no-loop`` run): a rule-based camera whose score
  is drawn (defect 0.72, good 0.12, σ 0.18; pass below 0.5: it misses ≈ 11 % and rejects
  ≈ 1.7 % of good units); its rejects go to the repair bay without any loop decision;
* **images** (:meth:`Camera.publish_images`, when the loop's inspection module asks for
  them with a :class:`~gigaloop.actuate.PublishImages` action): the camera writes each
  unit's rendered image (:func:`gigaloop.twin.images.render_batch`) to its image folder
  and an ``inspection_images`` row; the verdict and the rework order are the loop's. On its
  first day of images it also publishes a commissioning set: good samples and limit samples
  of each defect, labelled. Images older than :data:`RETENTION_DAYS` are deleted.

The repair bay (:meth:`Camera.rework`) repairs what it finds and reports it the next day in
``rework_results``. The truth (:meth:`Camera.truth`) counts every defect that left unflagged
and unrepaired: an escape.

>>> camera = Camera([1, 2, 3, 4])
>>> vins = np.array(["V1", "V2"], dtype=object)
>>> noon = lambda s: np.full(len(s), np.datetime64("2025-01-06T12:00", "us"))
>>> tables = camera.inspect(0, vins, np.zeros((2, 2)), np.array([True, False]),
...                         np.array([True, True]), np.ones(2), noon)
>>> sorted(tables), camera.truth()["weld_seam"]["escaped"]
(['inspection_results'], 1)
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from gigaloop.actuate import Rework
from gigaloop.twin.images import DEFECTS, defect_odds, render_batch
from gigaloop.twin.tables import arrow_table

POINTS = {"weld_seam": "BW-040", "paint_panel": "PT-030"}
PAINT_DEFECT_RATE = 0.02
LEGACY_SCORE = (0.12, 0.72, 0.18)  # good mean, defect mean, noise σ; pass below 0.5
RETENTION_DAYS = 14
GOOD_SAMPLES, LIMIT_SAMPLES = 500, 10  # commissioning: good, and per defect class


class Camera:
    """Defects per unit and point, the stations' reports, the repair bay and the truth."""

    def __init__(self, entropy: list[int]) -> None:
        self._entropy = entropy
        self.folder: Path | None = None
        self.units = dict.fromkeys(POINTS, 0)
        self.defects: dict[str, dict[str, str]] = {p: {} for p in POINTS}
        self.flagged: dict[str, set[str]] = {p: set() for p in POINTS}
        self.repaired: dict[str, set[str]] = {p: set() for p in POINTS}
        self._reports: list[dict[str, Any]] = []
        self._commissioned = False

    def publish_images(self) -> None:
        """Switch to images from the next day: the loop's model gives the verdicts. The
        images go to a temporary folder removed with the camera."""
        folder = tempfile.mkdtemp(prefix="gigaloop-camera-")
        weakref.finalize(self, shutil.rmtree, folder, ignore_errors=True)
        self.folder = Path(folder)

    def inspect(self, day: int, vins: np.ndarray, times: np.ndarray, seam_flaw: np.ndarray,
                seam_pass: np.ndarray, seam_defect: np.ndarray,
                to_utc: Callable[[np.ndarray], Any]) -> dict[str, pa.Table]:
        """The day's defects and reports; ``times`` (units × 2) when each unit passed the
        weld and paint stations; ``seam_pass`` the legacy weld verdict (already written)."""
        rng = np.random.default_rng([*self._entropy, zlib.crc32(b"camera"), day])
        n = len(vins)
        drift = np.minimum(3.0, np.log(np.maximum(seam_defect, 1.0)) / 2)
        weld = np.full(n, "", dtype=object)
        for i in np.flatnonzero(seam_flaw):
            odds = np.array(list(defect_odds("weld_seam", drift[i]).values()))
            weld[i] = DEFECTS["weld_seam"][rng.choice(4, p=odds / odds.sum())]
        paint = np.full(n, "", dtype=object)
        painted = rng.random(n) < PAINT_DEFECT_RATE
        paint[painted] = np.array(DEFECTS["paint_panel"], dtype=object)[
            rng.integers(0, 4, int(painted.sum()))]
        seeds = rng.integers(0, 2**31, (2, n))
        legacy_noise = rng.standard_normal(n)
        tables: dict[str, pa.Table] = {}
        for point, kinds in (("weld_seam", weld), ("paint_panel", paint)):
            self.units[point] += n
            self.defects[point].update(zip(vins[kinds != ""], kinds[kinds != ""], strict=True))
        if self.folder is None:
            good, bad, sigma = LEGACY_SCORE
            score = np.clip(np.where(paint != "", bad, good) + sigma * legacy_noise, 0, 1)
            paint_pass = score < 0.5
            for point, passed in (("weld_seam", seam_pass), ("paint_panel", paint_pass)):
                failed = vins[~passed]
                self.flagged[point].update(failed)
                self.repaired[point].update(v for v in failed if v in self.defects[point])
            tables["inspection_results"] = arrow_table("inspection_results", {
                "vin": pa.array(vins, pa.string()), "station_id": POINTS["paint_panel"],
                "inspection": "paint_panel", "passed": paint_pass,
                "defect": [None if ok else "paint_panel_flaw" for ok in paint_pass],
                "score": score,
                "image_uri": None, "event_time": to_utc(times[:, 1])})
            return tables
        if not self._commissioned:  # the first day of images
            self._commissioned = True
            tables["inspection_images"] = self._commissioning(to_utc(np.array([86_400.0 * day]))[0])
        rows = [self._images(day, point, vins, kinds, seeds[k], drift if k == 0 else 0 * drift,
                             to_utc(times[:, k]))
                for k, (point, kinds) in enumerate((("weld_seam", weld), ("paint_panel", paint)))]
        tables["inspection_images"] = pa.concat_tables(
            [*([tables["inspection_images"]] if "inspection_images" in tables else []), *rows])
        self._forget(day - RETENTION_DAYS)
        return tables

    def _images(self, day: int, point: str, vins: np.ndarray, kinds: np.ndarray,
                seeds: np.ndarray, drift: np.ndarray, when: Any) -> pa.Table:
        station = POINTS[point]
        images = render_batch(seeds, point, drift, kinds)
        path = self._save(station, f"d{day:04d}", images)
        return arrow_table("inspection_images", {
            "image_id": [f"{station}-{v}" for v in vins], "vin": pa.array(vins, pa.string()),
            "station_id": station, "inspection": point,
            "image_uri": [f"{path}#{i}" for i in range(len(vins))], "label": None,
            "event_time": when})

    def _commissioning(self, when: Any) -> pa.Table:
        """Good samples and limit samples of each defect, labelled, at both points."""
        parts = []
        for k, (point, station) in enumerate(POINTS.items()):
            labels = [""] * GOOD_SAMPLES + [d for d in DEFECTS[point] for _ in range(LIMIT_SAMPLES)]
            seeds = np.random.default_rng([*self._entropy, zlib.crc32(b"golden"), k]).integers(
                0, 2**31, len(labels))
            images = render_batch(seeds, point, np.zeros(len(labels)), labels)
            path = self._save(station, "commissioning", images)
            parts.append(arrow_table("inspection_images", {
                "image_id": [f"{station}-C{i:04d}" for i in range(len(labels))], "vin": None,
                "station_id": station, "inspection": point,
                "image_uri": [f"{path}#{i}" for i in range(len(labels))],
                "label": [d or "good" for d in labels], "event_time": when}))
        return pa.concat_tables(parts)

    def _save(self, station: str, name: str, images: np.ndarray) -> Path:
        assert self.folder is not None
        folder = self.folder / station
        folder.mkdir(parents=True, exist_ok=True)
        path = (folder / f"{name}.npy").resolve()
        np.save(path, np.round(images * 255).astype(np.uint8))
        return path

    def _forget(self, day: int) -> None:
        """The camera keeps :data:`RETENTION_DAYS` days of images."""
        if self.folder is not None and day >= 0:
            for station in POINTS.values():
                (self.folder / station / f"d{day:04d}.npy").unlink(missing_ok=True)

    def rework(self, action: Rework) -> list[str]:
        """The repair bay examines ``action.vins``; what it finds it repairs. Returns the
        VINs repaired (their defect gone); the findings are reported the next day."""
        point = action.inspection
        defects, repaired = self.defects[point], []
        for vin in action.vins:
            kind = defects.get(vin)
            found = kind is not None and vin not in self.repaired[point]
            if action.reason == "flagged":
                self.flagged[point].add(vin)
            if found:
                self.repaired[point].add(vin)
                repaired.append(vin)
            self._reports.append({"vin": vin, "station_id": POINTS[point], "inspection": point,
                                  "reason": action.reason, "defect_found": found,
                                  "defect": kind if found else None})
        return repaired

    def reports(self, when: Any) -> dict[str, pa.Table]:
        """The repair bay's reports since the last call, stamped ``when``."""
        rows, self._reports = self._reports, []
        if not rows:
            return {}
        return {"rework_results": arrow_table(
            "rework_results", {**{k: [r[k] for r in rows] for k in rows[0]}, "event_time": when})}

    def truth(self) -> dict[str, Any]:
        """Per point: units, defective, flagged, false rejects, repaired and escaped."""
        out: dict[str, Any] = {"mode": "legacy" if self.folder is None else "images"}
        for point in POINTS:
            defective = set(self.defects[point])
            flagged = self.flagged[point]
            good = self.units[point] - len(defective)
            false_rejects = len(flagged - defective)
            escaped = len(defective - self.repaired[point])
            out[point] = {
                "units": self.units[point], "defective": len(defective),
                "flagged": len(flagged), "false_rejects": false_rejects,
                "repaired": len(self.repaired[point]), "escaped": escaped,
                "false_reject_rate": round(false_rejects / good, 5) if good else None,
                "escape_rate": round(escaped / len(defective), 5) if defective else None}
        return out
