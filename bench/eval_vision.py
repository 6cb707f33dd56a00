"""Held-out AUROC of the ONNX PatchCore on rendered twin images, per defect family.

For each inspection point: fit with the inspection module's settings on good images of one
seed, score the ONNX export on good and defective images of another seed; image AUROC
(good vs. that family) and pixel AUROC (the family's images and the good ones, every pixel
against the twin's mask).
One JSON line per figure.

    PYTHONPATH=src python bench/eval_vision.py [--train 400] [--test-good 100] [--per-defect 30]
        [--stride 2] [--dims 32]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from sklearn.metrics import roc_auc_score

from gigaloop.factory.inspection.module import InspectionConfig
from gigaloop.factory.inspection.patchcore import PatchCore, torch
from gigaloop.factory.inspection.runtime import OnnxDetector
from gigaloop.twin.images import DEFECTS, image_set, render_inspection


def evaluate(point: str, train: int, test_good: int, per_defect: int,
             stride: int = 1, dims: int | None = None) -> list[dict]:
    good = np.stack([shot.image for shot in image_set(point, train, seed=1)])
    started = time.perf_counter()
    settings = {**InspectionConfig().model_settings(), "stride": stride, "dims": dims}
    detector = OnnxDetector(PatchCore(**settings).fit(good).to_onnx())
    fit_s = time.perf_counter() - started
    clean = image_set(point, test_good, seed=2)
    heat_good, score_good = detector.score(np.stack([s.image for s in clean]))
    rows = []
    for k, defect in enumerate(DEFECTS[point]):
        shots = [render_inspection(3_000_000 + 1000 * k + i, point, defect=defect)
                 for i in range(per_defect)]
        heat_bad, score_bad = detector.score(np.stack([s.image for s in shots]))
        labels = np.r_[np.zeros(test_good), np.ones(per_defect)]
        masks = np.r_[np.zeros((test_good, *heat_good.shape[1:]), bool),
                      np.stack([s.mask for s in shots])]
        image_auroc = roc_auc_score(labels, np.r_[score_good, score_bad])
        rows.append({"figure": "vision_auroc", "point": point, "defect": defect,
                     "image_auroc": round(float(image_auroc), 4),
                     "pixel_auroc": round(float(roc_auc_score(
                         masks.ravel(), np.r_[heat_good, heat_bad].ravel())), 4),
                     "train_good": train, "test_good": test_good, "test_defective": per_defect,
                     "stride": stride, "dims": dims, "fit_s": round(fit_s, 1)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=400)
    parser.add_argument("--test-good", type=int, default=100)
    parser.add_argument("--per-defect", type=int, default=30)
    parser.add_argument("--stride", type=int, default=2,
                        help="query every stride-th patch (the loop's module uses 2)")
    parser.add_argument("--dims", type=int, default=InspectionConfig.dims,
                        help="principal axes the search runs on (the module's 32); 0: all")
    args = parser.parse_args()
    torch.set_num_threads(2)
    for point in DEFECTS:
        for row in evaluate(point, args.train, args.test_good, args.per_defect, args.stride,
                            args.dims or None):
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
