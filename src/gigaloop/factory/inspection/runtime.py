"""Inspection inference with onnxruntime on CPU: the ONNX export of a fitted PatchCore.

>>> import numpy as np
>>> from gigaloop.factory.inspection.patchcore import PatchCore
>>> good = np.random.default_rng(0).random((16, 64, 64), dtype=np.float32)
>>> detector = OnnxDetector(PatchCore(epochs=1, bank_size=32).fit(good).to_onnx())
>>> heat, score = detector.score(good[:3])
>>> heat.shape, score.shape
((3, 64, 64), (3,))
"""

from __future__ import annotations

import numpy as np

from gigaloop.errors import require


class OnnxDetector:
    """Heat maps and image anomaly scores from an ONNX PatchCore, ``threads`` CPU threads."""

    def __init__(self, model: bytes, threads: int = 2) -> None:
        ort = require("onnxruntime", "vision")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])

    def score(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Images (N, H, W) in [0, 1] → heat maps (N, H, W), image scores (N,)."""
        batch = np.ascontiguousarray(images, dtype=np.float32)[:, None]
        heat, score = self.session.run(["heat", "score"], {"images": batch})
        return heat, score
