"""Rendered inspection images: reproducible, defects drawn where their masks say."""

import numpy as np
import pytest

from gigaloop.twin.images import (
    DEFECTS,
    defect_odds,
    image_set,
    render_batch,
    render_inspection,
)


@pytest.mark.parametrize(("point", "defect"),
                         [(p, d) for p, kinds in DEFECTS.items() for d in kinds])
def test_every_defect_changes_the_image_inside_its_mask(point: str, defect: str) -> None:
    good = render_inspection(11, point, defect="")
    bad = render_inspection(11, point, defect=defect)
    assert bad.defect == defect and not good.mask.any()
    assert 0 < bad.mask.mean() < 0.3
    change = np.abs(bad.image - good.image)
    assert change[bad.mask].mean() > 5 * change[~bad.mask].mean()


def test_same_seed_same_image_other_seed_other_pose() -> None:
    first, again = render_inspection(5, "weld_seam"), render_inspection(5, "weld_seam")
    assert np.array_equal(first.image, again.image)
    assert not np.array_equal(first.image, render_inspection(6, "weld_seam").image)


def test_a_drifting_station_makes_more_and_bigger_defects() -> None:
    nominal = [render_inspection(i, "weld_seam", drift=0.0) for i in range(600)]
    drifted = [render_inspection(i, "weld_seam", drift=2.0) for i in range(600)]
    assert sum(s.defect != "" for s in drifted) > 2 * sum(s.defect != "" for s in nominal)
    assert sum(s.defect == "porosity" for s in drifted) > sum(s.defect == "crack" for s in drifted)
    small = render_inspection(3, "paint_panel", drift=0.0, defect="thin_coat").mask.sum()
    large = render_inspection(3, "paint_panel", drift=2.0, defect="thin_coat").mask.sum()
    assert large > small
    assert defect_odds("paint_panel", 2.0)["thin_coat"] > defect_odds("paint_panel", 2.0)["run"]


def test_image_set_and_bad_names() -> None:
    shots = image_set("weld_seam", 10, seed=3, defect_share=0.4)
    assert [s.defect for s in shots[:4]] == list(DEFECTS["weld_seam"])
    assert all(s.defect == "" for s in shots[4:])
    with pytest.raises(ValueError, match="unknown inspection point"):
        render_inspection(1, "door_gap")
    with pytest.raises(ValueError, match="not a weld_seam defect"):
        render_inspection(1, "weld_seam", defect="crater")


@pytest.mark.parametrize("point", sorted(DEFECTS))
def test_a_batch_draws_each_image_bit_for_bit_as_alone(point: str) -> None:
    kinds = ["", *DEFECTS[point]]
    seeds = list(range(100, 140))  # 40: three stacks of 16, the last one short
    defects = [kinds[i % 5] if i % 3 == 0 else "" for i in range(40)]
    drift = [1.5 * (i % 2) for i in range(40)]
    batch = render_batch(seeds, point, drift, defects)
    assert batch.shape == (40, 64, 64) and batch.dtype == np.float32
    for image, seed, d, defect in zip(batch, seeds, drift, defects, strict=True):
        assert np.array_equal(image, render_inspection(seed, point, d, defect).image)
    assert render_batch([], point, [], []).shape == (0, 64, 64)
    with pytest.raises(ValueError, match="is not a"):
        render_batch([1], point, [0.0], ["dent"])
