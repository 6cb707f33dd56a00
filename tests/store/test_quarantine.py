"""A rejected row is kept as it was received: its JSON reads back to the row, its hash is
the hash of that text, and a large flood keeps every row beside its own reason."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math

import numpy as np
import pyarrow as pa

from gigaloop.schema import get_table
from gigaloop.store.quarantine import HASH_CHARS, quarantine_rows, row_texts
from gigaloop.store.validate import Rejections


def test_a_flood_keeps_each_row_with_its_own_reason_and_hash() -> None:
    n = 60_000  # thirty of DuckDB's 2,048-row vectors: order must hold across them
    rng = np.random.default_rng(3)
    rows = pa.table({
        "vin": [f"V{i:07d}" for i in range(n)],
        "miles": rng.normal(40, 10, n),
        "day": pa.array(np.datetime64("2025-01-06") + np.arange(n) % 30, pa.timestamp("us")),
        "ingested_at": pa.array([dt.datetime(2025, 1, 1)] * n, pa.timestamp("us")),
    })
    rejected = Rejections(n)
    odd = np.arange(n) % 2 == 1
    rejected.add("vin: unknown vehicles.vin", odd)
    rejected.add("miles: below min 0", np.arange(n) % 3 == 0)
    kept = quarantine_rows(get_table("telemetry_daily"), rows, rejected,
                           dt.datetime(2025, 2, 1), "flood").to_pydict()

    positions = np.flatnonzero(rejected.mask)
    assert len(kept["row_json"]) == len(positions)
    for at, text, digest, reason in zip(positions, kept["row_json"], kept["row_hash"],
                                        kept["reason"], strict=True):
        row = json.loads(text)
        assert row["vin"] == f"V{at:07d}" and math.isclose(row["miles"],
                                                           rows["miles"][at].as_py())
        assert "ingested_at" not in row  # re-sent later, the same row is the same text
        assert digest == hashlib.sha256(text.encode()).hexdigest()[:HASH_CHARS]
        assert ("vin: unknown" in reason) == bool(odd[at])


def test_every_type_reads_back_and_the_same_rows_give_the_same_text() -> None:
    rows = pa.table({
        "value": [float("nan"), float("inf"), None, 1e-7],
        "at_utc": pa.array([dt.datetime(2025, 1, 1, 1, 2, 3, 456)] * 4,
                           pa.timestamp("us", tz="UTC")),
        "on": pa.array([dt.date(2025, 1, 1)] * 4),
        "ok": [True, False, None, True],
        "note": ['a"b\\c\n', "é", None, ""],
        "it's \"odd\"": [1, 2, 3, 4],
    })
    texts, hashes = row_texts(rows)
    again, hashed_again = row_texts(rows)
    assert texts.equals(again) and hashes.equals(hashed_again)
    first = json.loads(texts[0].as_py())
    assert list(first) == sorted(rows.column_names)
    assert math.isnan(first["value"]) and first["at_utc"].startswith("2025-01-01 01:02:03")
    assert [json.loads(t)["note"] for t in texts.to_pylist()] == rows["note"].to_pylist()


def test_rows_duckdb_cannot_take_are_written_row_by_row() -> None:
    half = pa.array([1.5], pa.float32()).cast(pa.float16())  # DuckDB reads no float16
    texts, hashes = row_texts(pa.table({"half": half, "vin": ["V1"]}))
    assert json.loads(texts[0].as_py()) == {"half": 1.5, "vin": "V1"}
    assert hashes[0].as_py() == hashlib.sha256(texts[0].as_py().encode()).hexdigest()[:32]
    alike = pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["a", "a"])
    assert row_texts(alike)[0].to_pylist() == ['{"a":2}']  # two columns named alike


def test_threads_writing_at_once_each_get_their_own_rows() -> None:
    from concurrent.futures import ThreadPoolExecutor

    batches = [pa.table({"vin": [f"T{t}-{i}" for i in range(5_000)], "n": list(range(5_000))})
               for t in range(4)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(row_texts, batches * 3))
    for batch, (texts, _) in zip(batches * 3, results, strict=True):
        assert [json.loads(t)["vin"] for t in texts.to_pylist()] == batch["vin"].to_pylist()
