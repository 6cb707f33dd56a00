"""Rendered inspection images: weld seams and paint panels, with defects and their masks.

Each image is 64×64 grayscale (float32 in [0, 1]) drawn from a seed, so the image of a
unit at an inspection point is regenerated on demand from the unit's seed. The defect
mask is the twin's own knowledge of what it drew; analytics see only the image.

A station's ``drift`` (0 nominal, ≈ 1–3 faulty: a drifting weld robot, a cold oven)
raises the defect rate and size and tilts the mix towards that fault's defects
(porosity at the weld, thin and rough coats at the paint oven).

>>> shot = render_inspection(seed=7, point="weld_seam", drift=0.0, defect="crack")
>>> shot.image.shape, shot.defect, bool(shot.mask.any())
((64, 64), 'crack', True)
>>> float(render_inspection(7, "weld_seam").image.mean()) == float(
...     render_inspection(7, "weld_seam").image.mean())
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter

SIZE = 64
DEFECTS: dict[str, tuple[str, ...]] = {
    "weld_seam": ("porosity", "crack", "spatter", "undercut"),
    "paint_panel": ("run", "orange_peel", "crater", "thin_coat"),
}
#: Defect rate of a nominal station, and the defect a drifting station makes more of.
BASE_RATE = 0.03
DRIFT_DEFECT = {"weld_seam": "porosity", "paint_panel": "thin_coat"}


@dataclass(frozen=True)
class InspectionImage:
    """One rendered image, its defect ("" when good) and the defect's pixel mask."""

    image: np.ndarray
    mask: np.ndarray
    defect: str


def defect_odds(point: str, drift: float) -> dict[str, float]:
    """Probability of each defect at ``point`` for a station drifted by ``drift``.

    >>> round(float(sum(defect_odds("weld_seam", 0.0).values())), 3)
    0.03
    >>> bool(defect_odds("weld_seam", 2.0)["porosity"] > defect_odds("weld_seam", 0.0)["porosity"])
    True
    """
    kinds = DEFECTS[point]
    weights = np.array([1.0 + (2.0 * drift if k == DRIFT_DEFECT[point] else 0.0) for k in kinds])
    rate = min(BASE_RATE * (1.0 + 1.5 * drift), 0.6)
    return dict(zip(kinds, rate * weights / weights.sum(), strict=True))


def render_inspection(seed: int, point: str, drift: float = 0.0,
                      defect: str | None = None) -> InspectionImage:
    """The image of the unit seeded ``seed`` at ``point``; ``defect`` forces one ("" = good)."""
    if point not in DEFECTS:
        raise ValueError(f"unknown inspection point {point!r}; known: {sorted(DEFECTS)}")
    rng = np.random.default_rng([seed, list(DEFECTS).index(point)])
    if defect is None:
        odds = defect_odds(point, drift)
        pick = rng.random()
        cumulative = np.cumsum(list(odds.values()))
        chosen = int(np.searchsorted(cumulative, pick, side="right"))
        defect = list(odds)[chosen] if chosen < len(odds) else ""
    elif defect and defect not in DEFECTS[point]:
        raise ValueError(f"{defect!r} is not a {point} defect; known: {DEFECTS[point]}")
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) / SIZE
    base, geometry = (_weld if point == "weld_seam" else _paint)(rng, yy, xx)
    # lighting: a random linear gradient and an overall gain
    angle = rng.uniform(0, 2 * np.pi)
    tilt = (xx - 0.5) * np.cos(angle) + (yy - 0.5) * np.sin(angle)
    light = rng.uniform(0.85, 1.1) + 0.12 * tilt
    image = base * light
    mask = np.zeros((SIZE, SIZE), bool)
    if defect:
        scale = 1.0 + 0.3 * drift
        delta = _DRAW[defect](rng, yy, xx, geometry, scale)
        image = image + delta
        mask = np.abs(delta) > 0.04
    image = image + rng.normal(0, 0.01, image.shape)
    return InspectionImage(np.clip(image, 0, 1).astype(np.float32), mask, defect)


def image_set(point: str, n: int, seed: int, defect_share: float = 0.0,
              drift: float = 0.0) -> list[InspectionImage]:
    """``n`` images at ``point``; a ``defect_share`` of them carry a defect, families in turn.

    >>> shots = image_set("paint_panel", 8, seed=1, defect_share=0.5)
    >>> sorted({s.defect for s in shots})
    ['', 'crater', 'orange_peel', 'run', 'thin_coat']
    """
    kinds = DEFECTS[point]
    bad = round(n * defect_share)
    return [render_inspection(seed * 1_000_003 + i, point, drift,
                              defect=kinds[i % len(kinds)] if i < bad else "")
            for i in range(n)]


def _weld(rng, yy, xx):
    """Brushed steel with a rippled bead across it, at a random offset and tilt."""
    brushed = gaussian_filter(rng.normal(0, 1, (SIZE, SIZE)), (0.6, 4.0))
    centre = 0.5 + rng.uniform(-0.1, 0.1) + rng.uniform(-0.12, 0.12) * (xx - 0.5)
    width = rng.uniform(0.1, 0.14)
    across = (yy - centre) / width
    bead = np.exp(-across**2 * 2.5)
    ripple = 0.5 + 0.5 * np.cos(2 * np.pi * (xx * rng.uniform(9, 12) + 0.8 * np.abs(across)))
    image = 0.35 + 0.04 * brushed + bead * (0.25 + 0.08 * ripple)
    return image, {"centre": centre, "width": width, "across": across}


def _paint(rng, yy, xx):
    """A glossy panel: smooth fine texture and a soft highlight."""
    fine = gaussian_filter(rng.normal(0, 1, (SIZE, SIZE)), 1.2)
    hy, hx = rng.uniform(0.2, 0.8, 2)
    highlight = 0.15 * np.exp(-((yy - hy) ** 2 + (xx - hx) ** 2) / 0.08)
    return 0.5 + 0.03 * fine + highlight, {}


def _blob(yy, xx, cy, cx, r):
    return np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))


def _porosity(rng, yy, xx, g, scale):
    delta = np.zeros_like(yy)
    for _ in range(rng.integers(2, 6)):
        cx = rng.uniform(0.1, 0.9)
        cy = g["centre"][0, min(int(cx * SIZE), SIZE - 1)] + rng.uniform(-0.5, 0.5) * g["width"]
        delta -= 0.3 * _blob(yy, xx, cy, cx, rng.uniform(0.012, 0.022) * scale)
    return delta


def _crack(rng, yy, xx, g, scale):
    delta = np.zeros_like(yy)
    y, x = rng.uniform(0.35, 0.65), rng.uniform(0.1, 0.4)
    heading = rng.uniform(-0.4, 0.4)
    for _ in range(int(40 * scale)):
        heading += rng.normal(0, 0.25)
        y, x = y + 0.012 * np.sin(heading), x + 0.012 * np.cos(heading)
        delta = np.minimum(delta, -0.3 * _blob(yy, xx, y, x, 0.008))
    return delta


def _spatter(rng, yy, xx, g, scale):
    delta = np.zeros_like(yy)
    for _ in range(rng.integers(3, 8)):
        cy = rng.choice([-1, 1]) * rng.uniform(0.15, 0.3) + 0.5
        delta += 0.35 * _blob(yy, xx, cy, rng.uniform(0.1, 0.9), rng.uniform(0.01, 0.018) * scale)
    return delta


def _undercut(rng, yy, xx, g, scale):
    side = rng.choice([-1.0, 1.0])
    start = rng.uniform(0.0, 0.4)
    along = (xx > start) & (xx < start + 0.35 * scale)
    groove = np.exp(-((g["across"] - side * 1.1) ** 2) / 0.05)
    return -0.25 * groove * along


def _run(rng, yy, xx, g, scale):
    cx, top = rng.uniform(0.2, 0.8), rng.uniform(0.1, 0.4)
    length, half = 0.3 * scale, rng.uniform(0.03, 0.05) * scale
    t = np.clip((yy - top) / length, 0, 1)
    inside = (np.abs(xx - cx) < half * (0.4 + t)) & (yy > top) & (yy < top + length)
    return 0.15 * inside * (0.5 + t) - 0.15 * (inside & (t > 0.85))


def _orange_peel(rng, yy, xx, g, scale):
    bumps = gaussian_filter(rng.normal(0, 1, (SIZE, SIZE)), 0.8)
    patch = _blob(yy, xx, *rng.uniform(0.3, 0.7, 2), 0.13 * scale)
    return 0.12 * bumps / bumps.std() * (patch > 0.3)


def _crater(rng, yy, xx, g, scale):
    cy, cx = rng.uniform(0.2, 0.8, 2)
    r = rng.uniform(0.04, 0.06) * scale
    return 0.3 * _blob(yy, xx, cy, cx, r) - 0.45 * _blob(yy, xx, cy, cx, r * 0.5)


def _thin_coat(rng, yy, xx, g, scale):
    substrate = gaussian_filter(rng.normal(0, 1, (SIZE, SIZE)), (0.5, 3.0))
    patch = _blob(yy, xx, *rng.uniform(0.3, 0.7, 2), 0.12 * scale) > 0.35
    return patch * (-0.12 + 0.05 * substrate)


_DRAW = {"porosity": _porosity, "crack": _crack, "spatter": _spatter, "undercut": _undercut,
         "run": _run, "orange_peel": _orange_peel, "crater": _crater, "thin_coat": _thin_coat}
