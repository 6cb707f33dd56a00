"""PatchCore anomaly detection, built with torch and exported to ONNX.

Trained on good images only: a small convolutional autoencoder learns the twin's good
surfaces (no pretrained weights can be downloaded here). Its encoder's patch features at
½ resolution — the full-resolution stem (max-pooled), the mid stage and the deep stage
(upsampled), 64 channels, averaged over 3×3 neighbourhoods as in PatchCore — fill a
memory bank that a greedy k-centre coreset shrinks, and a patch's anomaly score is its
distance to the nearest bank entry (one GEMM against the bank). The map is upsampled to
the image and smoothed (σ = 3 px at 64 px); the image score is the mean of the map's 20
hottest pixels (steadier than PatchCore's largest patch distance on small images).
torch is used only here; inference runs the ONNX export
(:mod:`gigaloop.factory.inspection.runtime`).

>>> import numpy as np
>>> good = np.random.default_rng(0).random((16, 32, 32), dtype=np.float32) * 0.1 + 0.5
>>> model = PatchCore(epochs=1, bank_size=64, seed=0).fit(good)
>>> model.bank_.shape
(64, 64)
>>> heat, score = model.score(good[:2])
>>> heat.shape, score.shape
((2, 32, 32), (2,))
"""

from __future__ import annotations

import copy
import io
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gigaloop.errors import require
from gigaloop.factory.inspection.graph import scan_nearest

torch = require("torch", "vision")
nn = torch.nn
F = torch.nn.functional
Module: Any = nn.Module  # torch is imported at run time, so its type is not known here


class Encoder(Module):
    """Three conv stages; stages 2 (½ resolution) and 3 (¼, upsampled) give the patch features."""

    def __init__(self, width: int = 16, stem_features: bool = False, pool: int = 3) -> None:
        super().__init__()
        self.stem_features = stem_features
        self.pool = pool
        self.stem = nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.ReLU())
        self.mid = nn.Sequential(nn.Conv2d(width, width, 3, 2, 1), nn.ReLU())
        self.deep = nn.Sequential(nn.Conv2d(width, 2 * width, 3, 2, 1), nn.ReLU())

    def forward(self, x):
        mid = self.mid(self.stem(x))
        deep = self.deep(mid)
        return mid, deep

    def patches(self, x, stride: int = 1):
        """(N, C, H/2/stride, W/2/stride) locally aggregated patch features, every
        ``stride``-th patch: the pooling window steps by ``stride``, so the patches left out
        are never averaged (the same values as pooling everything and slicing)."""
        stem = self.stem(x)
        mid = self.mid(stem)
        deep = F.interpolate(self.deep(mid), scale_factor=2.0, mode="bilinear", align_corners=False)
        parts = [F.max_pool2d(stem, 2)] if self.stem_features else []
        features = torch.cat([*parts, mid, deep], 1)
        if self.pool <= 1:
            return features[:, :, ::stride, ::stride]
        return F.avg_pool2d(features, self.pool, stride, self.pool // 2, count_include_pad=False)


class Scorer(Module):
    """Image batch (N, 1, H, W) → heat map (N, H, W) and image score (N,): the exported graph.

    With ``dims``, the nearest-neighbour search runs on the bank's first ``dims`` principal
    axes plus one more coordinate, the norm of what those axes leave out: a distance there
    is a lower bound of the full one, equal when the left-out parts are parallel (at 32 of
    64 axes the image scores came within 0.5 % of the full search's; docs/vision.md)."""

    def __init__(
        self,
        encoder: Encoder,
        bank,
        sigma: float = 1.5,
        top_pixels: int = 20,
        dims: int | None = None,
        stride: int = 1,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.stride = stride
        self.register_buffer("bank", bank)
        centre = bank.mean(0)
        self.register_buffer("centre", centre)
        axes = None
        if dims is not None:
            axes = torch.linalg.svd(bank - centre, full_matrices=False)[2][:dims].T.contiguous()
        self.register_buffer("axes", axes)
        points = self.search_space(bank)
        # one GEMM gives |b|² − 2 f·b for every bank entry b; |f|² is added after the min
        self.register_buffer(
            "bank_affine",
            torch.cat([-2 * points, (points * points).sum(1, keepdim=True)], 1).T.contiguous(),
        )
        radius = int(2 * sigma)
        taps = torch.exp(-(torch.arange(-radius, radius + 1.0) ** 2) / (2 * sigma**2))
        self.register_buffer("blur", (taps / taps.sum()).view(1, 1, 1, -1))
        self.radius = radius
        self.top_pixels = top_pixels

    def search_space(self, flat):
        """Patch features (M, C) → the points the search compares: centred on the bank's
        mean, and with ``dims``, (M, dims + 1): the principal coordinates and the norm of
        the rest."""
        flat = flat - self.centre
        if self.axes is None:
            return flat
        coordinates = flat @ self.axes
        rest = ((flat * flat).sum(1, keepdim=True)
                - (coordinates * coordinates).sum(1, keepdim=True)).clamp(min=0).sqrt()
        return torch.cat([coordinates, rest], 1)

    def forward(self, images):
        n, _, h, w = images.shape
        features = self.encoder.patches(images, self.stride)
        c, fh, fw = features.shape[1:]
        flat = self.search_space(features.permute(0, 2, 3, 1).reshape(-1, c))
        augmented = torch.cat([flat, torch.ones_like(flat[:, :1])], 1)
        squared = (augmented @ self.bank_affine).min(1).values + (flat * flat).sum(1)
        nearest = squared.clamp(min=0).sqrt().reshape(n, 1, fh, fw)
        heat = F.interpolate(nearest, size=(h, w), mode="bilinear", align_corners=False)
        heat = F.pad(heat, (self.radius,) * 4, mode="replicate")
        heat = F.conv2d(F.conv2d(heat, self.blur), self.blur.transpose(2, 3))
        heat = heat[:, 0]
        return heat, heat.flatten(1).topk(self.top_pixels, 1).values.mean(1)


def greedy_coreset(features, size: int, seed: int = 0):
    """Indices of a greedy k-centre coreset of ``features`` (rows), on a 32-d projection."""
    generator = torch.Generator().manual_seed(seed)
    projection = torch.randn(features.shape[1], 32, generator=generator) / 32**0.5
    points = features @ projection
    norms = (points * points).sum(1)
    chosen = [int(torch.randint(len(points), (1,), generator=generator))]
    distance = torch.full_like(norms, float("inf"))
    for step in range(size):
        # |x − c|² = |x|² − 2 x·c + |c|²: one matrix-vector product per chosen centre
        centre = points[chosen[-1]]
        distance = torch.minimum(distance, norms - 2 * (points @ centre) + norms[chosen[-1]])
        if step < size - 1:
            chosen.append(int(distance.argmax()))
    return torch.tensor(chosen)


@dataclass
class PatchCore:
    """Fit on good images (N, H, W) in [0, 1]; score or export to ONNX."""

    width: int = 16
    epochs: int = 8
    bank_size: int = 2048
    sigma: float = 3.0
    coreset_pool: int = 500_000  # patches the coreset picks from: all of 400 images
    top_pixels: int = 20
    dims: int | None = None  # search on the bank's first principal axes (+ the rest's norm)
    stride: int = 1  # query every stride-th patch (the bank keeps every patch)
    stem_features: bool = True  # add the full-resolution stem (max-pooled to ½)
    pool: int = 3  # local aggregation window (PatchCore's 3×3)
    seed: int = 0
    scorer_: Scorer | None = field(default=None, repr=False)

    def fit(self, good: np.ndarray, encoder: Encoder | None = None) -> PatchCore:
        """Train the backbone on ``good`` (unless a trained ``encoder`` is given, which is
        copied), then fill the memory bank from ``good``'s patches."""
        images = torch.as_tensor(good, dtype=torch.float32)[:, None]
        order = torch.Generator().manual_seed(self.seed)
        encoder = self.train_encoder(images, order) if encoder is None else copy.deepcopy(encoder)
        encoder.stem_features, encoder.pool = self.stem_features, self.pool
        encoder.eval()
        with torch.no_grad():
            features = encoder.patches(images)
            flat = features.permute(0, 2, 3, 1).reshape(-1, features.shape[1])
            pool = flat[torch.randperm(len(flat), generator=order)[: self.coreset_pool]]
            threads = torch.get_num_threads()
            torch.set_num_threads(1)  # a memory-bound loop: more threads only contend
            try:
                bank = pool[greedy_coreset(pool, min(self.bank_size, len(pool)), self.seed)]
            finally:
                torch.set_num_threads(threads)
        self.scorer_ = Scorer(
            encoder, bank, self.sigma, self.top_pixels, self.dims, self.stride
        ).eval()
        return self

    def train_encoder(self, images, order) -> Encoder:
        """A convolutional autoencoder trained on ``images`` (N, 1, H, W); its encoder."""
        torch.manual_seed(self.seed)
        encoder = Encoder(self.width)
        decoder = nn.Sequential(
            nn.ConvTranspose2d(2 * self.width, self.width, 4, 2, 1),
            nn.ReLU(),
            nn.ConvTranspose2d(self.width, 1, 4, 2, 1),
        )
        optimiser = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=3e-3)
        for _ in range(self.epochs):
            for batch in torch.randperm(len(images), generator=order).split(32):
                optimiser.zero_grad()
                loss = F.mse_loss(decoder(encoder(images[batch])[1]), images[batch])
                loss.backward()
                optimiser.step()
        return encoder

    @property
    def bank_(self) -> np.ndarray:
        return self._fitted().bank.numpy()

    def score(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Heat maps (N, H, W) and image scores (N,) computed with torch."""
        with torch.no_grad():
            heat, score = self._fitted()(torch.as_tensor(images, dtype=torch.float32)[:, None])
        return heat.numpy(), score.numpy()

    def to_onnx(self) -> bytes:
        """The fitted scorer as an ONNX model (dynamic batch), input ``images`` (N, 1, 64, 64);
        its nearest-neighbour search runs one image at a time
        (:func:`~gigaloop.factory.inspection.graph.scan_nearest`)."""
        scorer = self._fitted()
        buffer = io.BytesIO()
        example = torch.zeros(2, 1, 64, 64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
            torch.onnx.export(
                scorer,
                (example,),
                buffer,
                dynamo=False,
                opset_version=17,
                input_names=["images"],
                output_names=["heat", "score"],
                dynamic_axes={"images": {0: "n"}, "heat": {0: "n"}, "score": {0: "n"}},
            )
        with torch.no_grad():
            patches = scorer.encoder.patches(example[:1], scorer.stride)[0, 0].numel()
        return scan_nearest(buffer.getvalue(), "bank_affine", patches)

    def _fitted(self) -> Scorer:
        if self.scorer_ is None:
            raise ValueError("PatchCore is not fitted: call fit(good_images) first")
        return self.scorer_
