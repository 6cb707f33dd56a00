"""A unit's identity on the line: its model and trim, its VIN, and which of each station's
parallel machines takes it.

>>> vins_of(np.array([1]), "tx1", np.array([7])).to_pylist()
['7GLYRTX0000000007']
>>> station_machines(np.arange(3)).shape == (3, len(STATIONS))
True
"""

from __future__ import annotations

import zlib

import numpy as np
import pyarrow as pa

from gigaloop.twin.layout import STATIONS

#: The line's trims: name, VIN letter and share of the build.
TRIMS = (("LR-AWD", "L", 0.50), ("RWD", "R", 0.35), ("Performance", "P", 0.15))
MODEL = "GL-Y"
VIN_LENGTH = 17
TRIM_LETTERS = np.frombuffer("".join(t[1] for t in TRIMS).encode(), np.uint8)
#: Line-wide index of each station's first machine.
MACHINE_FIRST = np.cumsum([0] + [len(st.machine_ids) for st in STATIONS])[:-1]


def machine_of(serials: np.ndarray, station_id: str, n_machines: int) -> np.ndarray:
    """Which of a station's parallel machines takes each unit: whichever is free when it
    arrives — a hash of the serial and the station, so the choice is reproducible but
    independent across stations (one robot's units are not the next station's robot's).

    >>> a, b = machine_of(np.arange(10_000), "BW-030", 2), machine_of(np.arange(10_000),
    ...                                                              "BW-010", 2)
    >>> round(float((a == b).mean()), 1), round(float(a.mean()), 1)
    (0.5, 0.5)
    """
    z = serials.astype(np.uint64) ^ (np.uint64(zlib.crc32(station_id.encode())) << np.uint64(32))
    with np.errstate(over="ignore"):  # splitmix64's finaliser: wrapping is the point
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return (z % np.uint64(n_machines)).astype(np.int64)


def station_machines(serials: np.ndarray) -> np.ndarray:
    """Line-wide machine index (into :data:`MACHINE_NAMES`) of the machine at each station
    that takes each unit: an array of units × stations."""
    out = np.empty((len(serials), len(STATIONS)), np.int64)
    for k, st in enumerate(STATIONS):
        out[:, k] = MACHINE_FIRST[k] + machine_of(serials, st.station_id, len(st.machine_ids))
    return out


def vins_of(trim: np.ndarray, site_id: str, serials: np.ndarray) -> pa.Array:
    """VINs ``7GLY``, the trim letter, two letters of the site and the ten-digit serial,
    laid out as bytes (no per-unit Python strings).

    >>> vins_of(np.array([2, 0]), "tx1", np.array([42, 5_000_000_001])).to_pylist()
    ['7GLYPTX0000000042', '7GLYLTX5000000001']
    """
    serials = np.asarray(serials, dtype=np.int64)
    n = len(serials)
    if n and (serials.min() < 0 or serials.max() >= 10**10):
        raise ValueError("serials must have at most ten digits")
    head = np.frombuffer(b"7GLY_" + (site_id + "XX")[:2].upper().encode(), np.uint8)
    text = np.empty((n, VIN_LENGTH), np.uint8)
    text[:, :7] = head
    text[:, 4] = TRIM_LETTERS[trim]
    text[:, 7:] = serials[:, None] // 10 ** np.arange(9, -1, -1, dtype=np.int64) % 10 + ord("0")
    offsets = np.arange(0, (n + 1) * VIN_LENGTH, VIN_LENGTH, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(text))
