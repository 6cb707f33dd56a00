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

#: The exported scorer graph's version (:meth:`PatchCore.to_onnx`): part of the module's
#: cache key, so a cached export of an older graph is rebuilt. 2: the pooling window steps
#: by the query stride (instead of pooling every patch and slicing); ``dims`` searches on
#: the bank's principal axes plus the norm of the rest. 3: the search runs as a ``Scan``
#: over the images (:mod:`~gigaloop.factory.inspection.graph`).
GRAPH_VERSION = 3


class OnnxDetector:
    """Heat maps and image anomaly scores from an ONNX PatchCore, ``threads`` CPU threads."""

    def __init__(self, model: bytes, threads: int = 2) -> None:
        ort = require("onnxruntime", "vision")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # idle threads sleep instead of spinning: the loop shares the cores with the twin
        # (and, here, with other jobs); spinning cost ≈ 5 % more CPU per image, no speed
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])

    def score(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Images (N, H, W) in [0, 1] → heat maps (N, H, W), image scores (N,)."""
        batch = np.ascontiguousarray(images, dtype=np.float32)[:, None]
        heat, score = self.session.run(["heat", "score"], {"images": batch})
        return heat, score
