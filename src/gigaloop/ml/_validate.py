"""Input checks shared by the estimators: each names the argument and what to fix."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def as_vector(name: str, values: ArrayLike, *, nonnegative: bool = False) -> NDArray[np.float64]:
    """A finite 1-D float64 array, or ValueError naming ``name``."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}")
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric, got dtype {array.dtype}")
    array = array.astype(np.float64, copy=False)
    if not np.isfinite(array).all():
        raise ValueError(f"{name} has NaN or infinite values; drop or impute them first")
    if nonnegative and array.size and array.min() < 0:
        raise ValueError(f"{name} must be >= 0, found {array.min()}")
    return array


def as_events(name: str, values: ArrayLike, size: int) -> NDArray[np.bool_]:
    """A boolean event indicator of length ``size`` (0/1 integers are accepted)."""
    array = np.asarray(values)
    if array.shape != (size,):
        raise ValueError(f"{name} must have shape ({size},), got {array.shape}")
    if array.dtype != np.bool_:
        if array.dtype.kind not in "iuf" or not np.isin(array, (0, 1)).all():
            raise ValueError(f"{name} must be boolean (or 0/1)")
        array = array.astype(np.bool_)
    return array


def as_codes(name: str, values: ArrayLike, size: int, *, allow_missing: bool = True) -> NDArray:
    """Integer level codes, shape (size, k) (a 1-D input becomes one column); -1 = missing."""
    array = np.asarray(values)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[0] != size:
        raise ValueError(f"{name} must have shape ({size}, k), got {array.shape}")
    if array.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integer level codes, got dtype {array.dtype}")
    lowest = -1 if allow_missing else 0
    if array.size and array.min() < lowest:
        hint = " (-1 marks a missing level)" if allow_missing else ""
        raise ValueError(f"{name} must be >= {lowest}{hint}, found {array.min()}")
    return array


def check_same_length(**arrays: NDArray) -> int:
    """The common length of ``arrays``, or ValueError listing each length."""
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"arrays must have the same length, got {lengths}")
    return next(iter(lengths.values()))
