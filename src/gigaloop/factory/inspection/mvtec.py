"""Read a dataset in the MVTec AD folder layout.

``<root>/train/good/*.png`` are the good training images; ``<root>/test/<defect>/*.png``
the test images (``good`` among them); ``<root>/ground_truth/<defect>/<name>_mask.png``
each defective test image's pixel mask. Images are read as grayscale in [0, 1] and
resized to ``size`` × ``size``.

>>> import tempfile, numpy as np
>>> from PIL import Image
>>> root = Path(tempfile.mkdtemp())
>>> for folder in ("train/good", "test/good", "test/scratch", "ground_truth/scratch"):
...     (root / folder).mkdir(parents=True)
>>> Image.fromarray(np.full((8, 8), 128, np.uint8)).save(root / "train/good/000.png")
>>> Image.fromarray(np.zeros((8, 8), np.uint8)).save(root / "test/scratch/000.png")
>>> Image.fromarray(np.full((8, 8), 255, np.uint8)).save(
...     root / "ground_truth/scratch/000_mask.png")
>>> data = load_mvtec(root, size=4)
>>> data.train.shape, data.test_defects, bool(data.test_masks[0].all())
((1, 4, 4), ['scratch'], True)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gigaloop.errors import require


@dataclass(frozen=True)
class MvtecSet:
    """Good training images; test images with their defect ("good" or a kind) and masks."""

    train: np.ndarray
    test: np.ndarray
    test_defects: list[str]
    test_masks: np.ndarray


def load_mvtec(root: str | Path, size: int = 64) -> MvtecSet:
    """Load ``root`` (one MVTec AD category); a defective image without its mask raises."""
    image_module = require("PIL.Image", "vision")
    root = Path(root)

    def read(path: Path) -> np.ndarray:
        with image_module.open(path) as image:
            gray = image.convert("L").resize((size, size), image_module.Resampling.BILINEAR)
            return np.asarray(gray, np.float32) / 255.0

    train_files = sorted((root / "train" / "good").glob("*.png"))
    if not train_files:
        raise FileNotFoundError(f"no good training images under {root / 'train' / 'good'}")
    test, defects, masks = [], [], []
    for folder in sorted(p for p in (root / "test").iterdir() if p.is_dir()):
        for path in sorted(folder.glob("*.png")):
            test.append(read(path))
            defects.append(folder.name)
            if folder.name == "good":
                masks.append(np.zeros((size, size), bool))
                continue
            mask_path = root / "ground_truth" / folder.name / f"{path.stem}_mask.png"
            if not mask_path.exists():
                raise FileNotFoundError(f"{path} has no mask at {mask_path}")
            masks.append(read(mask_path) > 0.5)
    empty = np.zeros((0, size, size), np.float32)
    return MvtecSet(np.stack([read(p) for p in train_files]),
                    np.stack(test) if test else empty, defects,
                    np.stack(masks) if masks else empty.astype(bool))
