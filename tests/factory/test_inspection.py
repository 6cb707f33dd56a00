"""PatchCore on twin images: trained on good only, ONNX agrees with torch, finds defects."""

import sys

import numpy as np
import pytest

from gigaloop.errors import MissingExtraError
from gigaloop.twin.images import image_set, render_inspection

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from gigaloop.factory.inspection.mvtec import load_mvtec
from gigaloop.factory.inspection.patchcore import Encoder, PatchCore, Scorer, torch
from gigaloop.factory.inspection.runtime import OnnxDetector


@pytest.fixture(scope="module")
def fitted() -> PatchCore:
    good = np.stack([s.image for s in image_set("weld_seam", 40, seed=1)])
    return PatchCore(epochs=2, bank_size=512, coreset_pool=8000, seed=0).fit(good)


@pytest.mark.slow  # fits a model: ≈ 5–10 s on 2 shared cores
def test_onnx_matches_torch_and_ranks_defects_above_good(fitted: PatchCore) -> None:
    good = [s.image for s in image_set("weld_seam", 8, seed=2)]
    bad = [render_inspection(900 + i, "weld_seam", defect="undercut") for i in range(8)]
    images = np.stack([*good, *[s.image for s in bad]])
    heat_t, score_t = fitted.score(images)
    heat_o, score_o = OnnxDetector(fitted.to_onnx()).score(images)
    np.testing.assert_allclose(score_o, score_t, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(heat_o, heat_t, rtol=1e-3, atol=1e-4)
    assert np.median(score_o[8:]) > np.max(np.median(score_o[:8]))
    inside = np.mean([h[s.mask].mean() for h, s in zip(heat_o[8:], bad, strict=True)])
    outside = np.mean([h[~s.mask].mean() for h, s in zip(heat_o[8:], bad, strict=True)])
    assert inside > outside


def test_strided_patches_are_every_patch_pooled_then_sliced() -> None:
    torch.manual_seed(0)
    encoder = Encoder(stem_features=True).eval()
    images = torch.rand(2, 1, 64, 64)
    with torch.no_grad():
        every = encoder.patches(images)
        for stride in (2, 3):
            torch.testing.assert_close(encoder.patches(images, stride),
                                       every[:, :, ::stride, ::stride])


def test_principal_axes_search_is_a_lower_bound_exact_with_every_axis() -> None:
    torch.manual_seed(0)
    encoder = Encoder(stem_features=True).eval()
    images = torch.rand(4, 1, 64, 64)
    with torch.no_grad():
        flat = encoder.patches(images[:2]).permute(0, 2, 3, 1).reshape(-1, 64)
        bank = flat[torch.randperm(len(flat))[:256]]
        full = Scorer(encoder, bank, stride=2)(images[2:])
        every_axis = Scorer(encoder, bank, dims=64, stride=2)(images[2:])
        few_axes = Scorer(encoder, bank, dims=8, stride=2)(images[2:])
    torch.testing.assert_close(every_axis[0], full[0], rtol=1e-3, atol=1e-3)
    assert (few_axes[0] <= full[0] + 1e-4).all() and (few_axes[1] <= full[1] + 1e-4).all()
    assert (few_axes[1] < full[1]).any()  # a bound, not the same search


def test_the_scan_rewrite_refuses_a_graph_without_the_search() -> None:
    import onnx

    from gigaloop.factory.inspection.graph import scan_nearest

    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Relu", ["x"], ["y"])], "g",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [2])])
    model = onnx.helper.make_model(graph).SerializeToString()
    with pytest.raises(ValueError, match="no MatMul against 'bank_affine'"):
        scan_nearest(model, "bank_affine", 4)


def test_unfitted_model_says_so() -> None:
    with pytest.raises(ValueError, match="not fitted"):
        PatchCore().score(np.zeros((1, 64, 64), np.float32))


def test_mvtec_layout_loads_masks_and_refuses_a_missing_one(tmp_path) -> None:
    from PIL import Image

    for folder in ("train/good", "test/good", "test/crack", "ground_truth/crack"):
        (tmp_path / folder).mkdir(parents=True)
    shot = render_inspection(4, "weld_seam", defect="crack")
    for i in range(3):
        Image.fromarray(np.uint8(image_set("weld_seam", 3, 9)[i].image * 255)).save(
            tmp_path / f"train/good/{i:03d}.png")
    Image.fromarray(np.uint8(shot.image * 255)).save(tmp_path / "test/crack/000.png")
    Image.fromarray(np.uint8(shot.mask * 255)).save(tmp_path / "ground_truth/crack/000_mask.png")
    Image.fromarray(np.uint8(shot.image * 255)).save(tmp_path / "test/good/000.png")
    data = load_mvtec(tmp_path, size=64)
    assert data.train.shape == (3, 64, 64)
    assert data.test_defects == ["crack", "good"]
    assert np.array_equal(data.test_masks[0], shot.mask) and not data.test_masks[1].any()
    Image.fromarray(np.uint8(shot.image * 255)).save(tmp_path / "test/crack/001.png")
    with pytest.raises(FileNotFoundError, match="no mask"):
        load_mvtec(tmp_path)


def test_a_missing_extra_names_the_pip_install(monkeypatch) -> None:
    from gigaloop.factory.inspection.module import InspectionModule

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # what an absent package looks like
    with pytest.raises(MissingExtraError, match=r"pip install 'gigaloop\[vision\]'"):
        OnnxDetector(b"")
    monkeypatch.undo()
    monkeypatch.setitem(sys.modules, "torch", None)  # the module checks torch, no import
    with pytest.raises(MissingExtraError, match=r"torch is not installed"):
        InspectionModule()
