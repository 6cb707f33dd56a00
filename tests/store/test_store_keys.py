"""The key index: hashes find stored keys fast, exact checks keep every answer right."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sample_data import LOADED, VINS, load, sample_batches, telemetry_row

from gigaloop.errors import StoreError
from gigaloop.schema import get_table
from gigaloop.store import Store, WriteResult
from gigaloop.store import keys as keys_module
from gigaloop.store import layout as layout_module
from gigaloop.store.hashes import HashSet, ValueSet, hash_rows
from gigaloop.store.keys import key_hashes
from gigaloop.store.layout import Layout

MARCH = dt.date(2024, 3, 2)
LATER = dt.datetime(2024, 3, 3)


def test_a_hash_set_answers_like_a_python_set() -> None:
    rng = np.random.default_rng(7)
    stored: set[int] = set()
    hashes = HashSet()
    for size in [1, 3, 0, 500, 20_000, 7, 60_000, 2]:
        batch = rng.integers(0, 2**64, size, dtype=np.uint64, endpoint=False)
        hashes.add(batch)
        stored.update(batch.tolist())
        probe = np.concatenate([batch[:50], rng.integers(0, 2**64, 5_000, dtype=np.uint64)])
        assert hashes.contains(probe).tolist() == [int(h) in stored for h in probe]
    assert len(hashes) == len(stored)


def test_row_hashes_tell_apart_what_differs_and_ignore_how_it_is_held() -> None:
    texts = pa.table(
        {"a": ["ab", "a", "a", "", None, "x" * 20], "b": ["c", "bc", "bc\x00", "", "", "y"]}
    )
    hashes = hash_rows(texts).tolist()
    assert len(set(hashes)) == 6
    chunked = pa.Table.from_batches(texts.to_batches(max_chunksize=4))
    sliced = pa.concat_tables([texts.slice(0, 3), texts.slice(3)])
    large = texts.cast(pa.schema([("a", pa.large_string()), ("b", pa.large_string())]))
    assert hash_rows(chunked).tolist() == hash_rows(sliced).tolist() == hashes
    assert hash_rows(large).tolist() == hashes


def test_a_reopened_store_finds_stored_keys_of_every_type(tmp_path) -> None:
    store = Store(tmp_path)
    load(store)
    codes = [
        {"vin": vin, "code": "P0A80", "ecu": "BMS", "severity": "warning", "event_time": LATER}
        for vin in VINS[:4]
    ]
    assert store.write("diagnostic_codes", codes, ingested_at=LATER).written == 4
    store.close()

    again = Store(tmp_path).write("diagnostic_codes", codes, ingested_at=LATER)

    assert (again.written, again.unchanged) == (0, 4)


def test_key_hashes_are_the_same_in_another_process(tmp_path) -> None:
    codes = get_table("diagnostic_codes")
    rows = pa.table(
        {
            "vin": VINS[:3],
            "code": ["P0A80"] * 3,
            "event_time": pa.array([dt.datetime(2024, 3, d) for d in (1, 2, 3)]),
        }
    )
    pq.write_table(rows, tmp_path / "batch.parquet")
    script = (
        "import json, sys, pyarrow.parquet as pq; from gigaloop.schema import get_table; "
        "from gigaloop.store.keys import key_hashes; "
        "rows = pq.read_table(sys.argv[2]); "
        "print(json.dumps(key_hashes(get_table('diagnostic_codes'), rows).tolist()))"
    )
    command = [sys.executable, "-c", script, str(tmp_path), str(tmp_path / "batch.parquet")]
    there = json.loads(subprocess.check_output(command, text=True))
    here = key_hashes(codes, rows).tolist()
    assert here == there and len(set(there)) == 3


def _resends(root) -> list[dict[str, WriteResult]]:
    """Load, then send new, stored, changed and repeated rows, also after reopening."""
    store = Store(root)
    results = [store.write_many(sample_batches(), ingested_at=LOADED)]
    mixed = [
        telemetry_row(0, MARCH),
        telemetry_row(1, MARCH),
        telemetry_row(1, MARCH, miles=5.0),  # duplicate key in batch
        telemetry_row(2, dt.date(2024, 2, 27)),  # unchanged
        telemetry_row(3, dt.date(2024, 2, 27), miles=1.0),  # conflicts
    ]
    for reopen in (False, False, True):
        if reopen:
            store.close()
            store = Store(root)
        results.append(store.write_many({"telemetry_daily": mixed}, ingested_at=LATER))
        results.append(store.write_many(sample_batches(), ingested_at=LATER))
    return results


def test_colliding_hashes_change_no_answer(tmp_path, monkeypatch) -> None:
    honest = _resends(tmp_path / "honest")
    hash_rows = keys_module.hash_rows
    monkeypatch.setattr(keys_module, "hash_rows", lambda rows: hash_rows(rows) % 2)  # collide

    colliding = _resends(tmp_path / "colliding")

    assert colliding == honest
    assert honest[1]["telemetry_daily"] == WriteResult(
        "telemetry_daily",
        5,
        2,
        1,
        2,
        {"duplicate key in batch": 1, "conflicts with stored row": 1},
    )
    assert honest[3]["telemetry_daily"].unchanged == 3
    assert honest[5] == honest[3]  # reopened: stored keys hashed from the files match
    assert all(r.written == r.quarantined == 0 for r in honest[6].values())


def test_a_batch_of_new_keys_reads_no_stored_file(tmp_path) -> None:
    store = Store(tmp_path)
    load(store)
    for file in Layout(tmp_path).files("telemetry_daily"):
        file.write_bytes(b"PAR1 not really parquet")

    result = store.write("telemetry_daily", [telemetry_row(0, MARCH)], ingested_at=LATER)

    assert (result.written, result.quarantined) == (1, 0)


def test_rows_later_than_every_stored_day_skip_the_hash_lookup(tmp_path, monkeypatch) -> None:
    store = Store(tmp_path)
    load(store)
    earlier = [telemetry_row(k, MARCH) for k in range(3)]
    assert store.write("telemetry_daily", earlier, ingested_at=LATER).written == 3
    asked: list[int] = []
    contains = HashSet.contains
    monkeypatch.setattr(HashSet, "contains",
                        lambda self, hashes: asked.append(len(hashes)) or contains(self, hashes))
    later = [telemetry_row(k, MARCH + dt.timedelta(days=1)) for k in range(3)]

    result = store.write("telemetry_daily", [*later, earlier[0], {**earlier[1], "miles": 1.0}],
                         ingested_at=LATER)

    assert asked[0] == 2  # of telemetry, only the two rows of a stored day (then quarantine's)
    assert (result.written, result.unchanged, result.reasons) == (
        3, 1, {"conflicts with stored row": 1})


def test_a_flush_that_fails_half_way_loses_nothing_and_writes_nothing_twice(
    tmp_path, monkeypatch
) -> None:
    store = Store(tmp_path)
    load(store)
    rows = [telemetry_row(0, dt.date(2024, 3, 9)), telemetry_row(0, dt.date(2024, 4, 1))]
    april = dt.datetime(2024, 4, 2)
    assert store.write("telemetry_daily", rows, ingested_at=april).written == 2
    write_file = Layout._write_file

    def second_file_fails(self, final, part):
        if final.parent.name == "2024-04":
            raise OSError("disk full")
        return write_file(self, final, part)

    monkeypatch.setattr(Layout, "_write_file", second_file_fails)
    with pytest.raises(OSError, match="disk full"):
        store.flush("telemetry_daily")  # March is on disk, April not
    monkeypatch.undo()
    assert store.count("telemetry_daily") == 62  # April still read from the tail

    resent = store.write("telemetry_daily", rows, ingested_at=april)
    assert (resent.written, resent.unchanged) == (0, 2)
    store.close()  # flushes again
    assert Store(tmp_path).count("telemetry_daily") == 62


def test_the_writers_file_list_follows_the_disk(tmp_path, monkeypatch) -> None:
    store = Store(tmp_path, compact_after=2)
    load(store)
    for k in range(4):
        day = dt.date(2024, 3, 2 + k)
        store.write("telemetry_daily", [telemetry_row(1, day)], ingested_at=LATER)
        store.flush("telemetry_daily")
    writer = Layout(tmp_path, writer=True)
    for table in sample_batches():
        assert writer.files(table) == Layout(tmp_path).files(table)
    telemetry = get_table("telemetry_daily")
    rows = pa.Table.from_pylist(
        [{**telemetry_row(2, MARCH), "ingested_at": LATER}], schema=telemetry.arrow_schema()
    )
    writer.write(telemetry, rows)
    on_disk = Layout(tmp_path).files("telemetry_daily")
    assert sorted(writer.files("telemetry_daily")) == sorted(on_disk)

    monkeypatch.setattr(layout_module, "_finish_compaction", _raise)
    with pytest.raises(StoreError, match="killed"):
        writer.compact(telemetry)
    monkeypatch.undo()
    assert writer.files("telemetry_daily") == Layout(tmp_path).files("telemetry_daily")
    assert len(writer.files("telemetry_daily", ["2024-03"])) == 1


def _raise(folder) -> None:
    raise OSError("killed")


def test_a_value_set_answers_like_a_python_set() -> None:
    rng = np.random.default_rng(3)
    pool = [f"5YJ3E1EA{i:09d}" for i in range(5_000)]
    stored: set[str] = set()
    values = ValueSet(pa.array([], pa.string()))
    for size in [0, 1, 50, 3_000, 7, 2_000, 600, 1]:
        batch = [*rng.choice(pool, size).tolist(), None]
        values.add(pa.array(batch))
        stored.update(v for v in batch if v is not None)
        for probe_size in (3, 400, 4_000):  # probed in Python, and by Arrow's lookup
            probe = [*rng.choice(pool, probe_size).tolist(), None, "", "5YJ3E1EA"]
            assert values.contains(pa.array(probe)).tolist() == [v in stored for v in probe]
        assert len(values) == len(stored)


def test_remembered_values_extend_the_known_references(tmp_path) -> None:
    store = Store(tmp_path)
    load(store)
    known = store._keys.known("vehicles.vin")
    new = {**sample_batches()["vehicles"][0], "vin": "NEWVIN0000000001"}
    row = telemetry_row(0, MARCH, vin="NEWVIN0000000001")
    assert store.write("telemetry_daily", [row], ingested_at=LATER).quarantined == 1

    assert store.write("vehicles", [new], ingested_at=LATER).written == 1

    assert store._keys.known("vehicles.vin") is known and len(known) == len(VINS) + 1
    assert store.write("telemetry_daily", [row], ingested_at=LATER).written == 1
