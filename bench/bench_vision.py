"""Inspection throughput on CPU: images per second, torch vs. the ONNX export, one run.

Fits PatchCore on good weld-seam images with the inspection module's settings
(:class:`~gigaloop.factory.inspection.module.InspectionConfig`: stride 2, 32 principal
axes), then scores the same images with torch and with onnxruntime (2 threads each); one
JSON line per figure. ``--dims 0`` searches on every feature (the full search).

    PYTHONPATH=src python bench/bench_vision.py [--train 400] [--images 256] [--batch 32]
        [--dims 32] [--stride 2]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from gigaloop.factory.inspection.module import InspectionConfig
from gigaloop.factory.inspection.patchcore import PatchCore, torch
from gigaloop.factory.inspection.runtime import OnnxDetector
from gigaloop.twin.images import SIZE, image_set


def rate(score, images: np.ndarray, batch: int) -> tuple[float, float]:
    """Images per second (wall) and CPU milliseconds per image (all threads: steadier than
    the wall clock on a shared machine)."""
    score(images[:batch])  # warm-up
    started, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(images), batch):
        score(images[start:start + batch])
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    return len(images) / wall, 1000 * cpu / len(images)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=400)
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--dims", type=int, default=InspectionConfig.dims,
                        help="principal axes the search runs on; 0: every feature")
    parser.add_argument("--stride", type=int, default=InspectionConfig.stride)
    args = parser.parse_args()
    settings = {**InspectionConfig().model_settings(), "dims": args.dims or None,
                "stride": args.stride}
    torch.set_num_threads(2)
    good = np.stack([s.image for s in image_set("weld_seam", args.train, seed=1)])
    images = np.stack([s.image for s in image_set("weld_seam", args.images, seed=2,
                                                  defect_share=0.2)])
    model = PatchCore(**settings).fit(good)
    onnx = OnnxDetector(model.to_onnx(), threads=2)
    for engine, score in (("torch", model.score), ("onnxruntime", onnx.score)):
        per_s, cpu_ms = rate(score, images, args.batch)
        print(json.dumps({"figure": "vision_images_per_s", "engine": engine,
                          "value": round(per_s, 1), "cpu_ms_per_image": round(cpu_ms, 2),
                          "resolution": SIZE, "batch": args.batch, "threads": 2,
                          "bank": int(model.bank_.shape[0]), "stride": args.stride,
                          "dims": settings["dims"]}), flush=True)


if __name__ == "__main__":
    main()
