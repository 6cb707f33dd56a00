"""A source reading CSV, Parquet and Arrow files named after their tables.

``vehicles.csv``, ``telemetry_daily_2024-03-01.parquet``, ``process_readings.arrow``: a
file belongs to the longest table name its name starts with. Files are read in write
order (referenced tables first). CSV values are read as text, so that a bad value is
quarantined by the store with a reason naming its column, instead of failing the whole
file.

>>> import pathlib, tempfile
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "vehicles_day1.csv").write_text("vin,build_date\\nV1,2024-01-02\\n")
>>> _ = (folder / "sites.csv").write_text("site_id,name\\nS1,Fremont\\n")
>>> for name, rows in FileSource(folder).batches():
...     print(name, rows.to_pylist())
sites [{'site_id': 'S1', 'name': 'Fremont'}]
vehicles [{'vin': 'V1', 'build_date': '2024-01-02'}]
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.feather as feather
import pyarrow.parquet as pq

from gigaloop.errors import IngestError
from gigaloop.schema import INGESTED_AT, TABLES, get_table, write_order
from gigaloop.store import Store, WriteResult

SUFFIXES = (".csv", ".parquet", ".arrow", ".feather", ".arrows")


class FileSource:
    """Every ``<table>*.csv|parquet|arrow|feather|arrows`` file directly in ``folder``."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)

    def files(self) -> list[tuple[str, Path]]:
        """``(table, path)`` pairs in write order, then by file name."""
        if not self.folder.is_dir():
            raise IngestError(f"no such folder: {self.folder}", path=str(self.folder))
        found = [
            (table_of(p), p)
            for p in sorted(self.folder.iterdir())
            if p.is_file() and p.suffix in SUFFIXES
        ]
        order = {name: i for i, name in enumerate(write_order({t for t, _ in found}))}
        return sorted(found, key=lambda pair: (order[pair[0]], pair[1].name))

    def batches(self) -> Iterator[tuple[str, pa.Table]]:
        for table, path in self.files():
            yield table, read_file(path)

    def __repr__(self) -> str:
        return f"FileSource({str(self.folder)!r})"


def table_of(path: Path) -> str:
    """The table a file's name starts with (the longest such name)."""
    matches = [name for name in TABLES if path.stem.startswith(name)]
    if not matches:
        raise IngestError(
            f"{path.name} does not start with a table name; rename it <table>….csv|parquet "
            f"with a table of: {', '.join(sorted(TABLES))}",
            path=str(path),
        )
    return max(matches, key=len)


def read_file(path: Path) -> pa.Table:
    """A CSV (every value as text), Parquet or Arrow IPC (file or stream) file's rows."""
    try:
        if path.suffix == ".parquet":
            return pq.read_table(path)
        if path.suffix in (".arrow", ".feather"):
            return feather.read_table(path)
        if path.suffix == ".arrows":
            with pa.OSFile(str(path), "rb") as source:
                return pa.ipc.open_stream(source).read_all()
        if path.suffix != ".csv":
            raise IngestError(f"{path.name}: not a CSV, Parquet or Arrow file (by its suffix); "
                              f"name it *{' or *'.join(SUFFIXES)}", path=str(path))
        with path.open(newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle), None)
        if not header:
            raise IngestError(f"{path.name} has no header row", path=str(path))
        return pacsv.read_csv(
            path,
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                strings_can_be_null=True,
            ),
        )
    except (OSError, UnicodeDecodeError, pa.ArrowException) as exc:
        raise IngestError(f"cannot read {path.name}: {exc}; fix or remove the file and run "
                          "again", path=str(path)) from exc


def by_arrival(rows: pa.Table) -> list[tuple[datetime, pa.Table]]:
    """Rows grouped by their own ``ingested_at`` column (when each arrived, e.g. files
    exported from another store), oldest first; a missing or unreadable stamp is an error.

    >>> rows = pa.table({"vin": ["V1", "V2", "V3"],
    ...                  "ingested_at": ["2025-01-08 06:00:00", "2025-01-07 06:00:00",
    ...                                  "2025-01-08 06:00:00"]})
    >>> [(str(at), part["vin"].to_pylist()) for at, part in by_arrival(rows)]
    [('2025-01-07 06:00:00', ['V2']), ('2025-01-08 06:00:00', ['V1', 'V3'])]
    """
    if INGESTED_AT not in rows.column_names:
        raise IngestError(f"no {INGESTED_AT} column to keep; ingest without "
                          "--keep-ingested-at, or add the column")
    try:
        stamps = pc.cast(rows[INGESTED_AT], pa.timestamp("us"))  # an aware one: UTC
    except pa.ArrowInvalid as exc:
        raise IngestError(f"{INGESTED_AT} is not a timestamp: {exc}") from exc
    if stamps.null_count:
        raise IngestError(f"{stamps.null_count} rows have no {INGESTED_AT}; give every row "
                          "one, or ingest without --keep-ingested-at")
    order = pc.sort_indices(stamps)  # stable: rows keep their order within an instant
    ordered, sorted_stamps = rows.take(order), stamps.take(order).to_numpy()
    _, starts = np.unique(sorted_stamps, return_index=True)
    ends = [*starts[1:], len(sorted_stamps)]
    return [(sorted_stamps[start].astype("datetime64[us]").item(),
             ordered.slice(start, end - start)) for start, end in zip(starts, ends, strict=True)]


def arrivals(table: str, rows: pa.Table, *, keep_ingested_at: bool,
             now: datetime) -> list[tuple[datetime, pa.Table]]:
    """``(ingested_at, rows)`` to write: all at ``now``, or (``keep_ingested_at``) as
    :func:`by_arrival` groups them; a table with no ``ingested_at`` (sites, lines, …)
    always at ``now``."""
    if keep_ingested_at and INGESTED_AT in TABLES[table].column_names:
        return by_arrival(rows)
    return [(now, rows)]


def ingest_files(paths: list[Path], store: Path, *, table: str | None = None,
                 keep_ingested_at: bool = False,
                 now: datetime | None = None) -> dict[str, WriteResult]:
    """Write files and folders of files into the store at ``store``, referenced tables
    first; every file is read before anything is written (an unreadable one writes
    nothing). ``table`` names every file's table (default: each file's name). Results per
    table; rows are stamped ``now`` (default: the wall clock) unless ``keep_ingested_at``."""
    if table is not None:
        get_table(table)
    found = [pair for path in paths for pair in (
        FileSource(path).files() if path.is_dir() else [(table or table_of(path), path)])]
    batches = [(name if table is None else table, path, read_file(path)) for name, path in found]
    order = {name: i for i, name in enumerate(write_order({t for t, _, _ in batches}))}
    stamp = now or datetime.now(UTC)
    results: dict[str, WriteResult] = {}
    opened = Store(store)
    try:
        for name, path, rows in sorted(batches, key=lambda b: order[b[0]]):
            for at, part in arrivals(name, rows, keep_ingested_at=keep_ingested_at, now=stamp):
                result = opened.write(name, part, ingested_at=at, source=f"file:{path.name}")
                results[name] = results[name] + result if name in results else result
    finally:
        opened.close()
    return results
