"""Column sums kept per Parquet file: a whole-table total that costs only what is new.

A data file never changes once it is in place (a compaction writes a new file and deletes
the old ones), so the sums of its columns are read once and kept, keyed by the file's
path, size and modification time. A total is then the kept sums of the files there now
plus the sums of the rows still in memory: a query over a year of telemetry reads only
the files written since the last one.

>>> import tempfile
>>> from pathlib import Path
>>> import pyarrow as pa, pyarrow.parquet as pq
>>> folder = Path(tempfile.mkdtemp())
>>> pq.write_table(pa.table({"miles": [1.0, 2.5, None]}), folder / "part-a.parquet")
>>> sums = FileSums()
>>> sums.total(sorted(folder.glob("part-*.parquet")), ["miles"])
{'miles': 3.5}
>>> sums.files_read
1
>>> sums.total(sorted(folder.glob("part-*.parquet")), ["miles"]), sums.files_read
({'miles': 3.5}, 1)
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

FileId = tuple[Path, int, int]  # path, size, modification time (ns)


def column_sums(rows: pa.Table, columns: Iterable[str]) -> dict[str, float]:
    """Sum of each column (nulls skipped; 0 for none)."""
    return {c: float(pc.sum(rows[c]).as_py() or 0.0) for c in columns}


class FileSums:
    """Sums of numeric columns per data file, read once per file and column."""

    def __init__(self) -> None:
        self._sums: dict[FileId, dict[str, float]] = {}
        self.files_read = 0  # files opened so far (what a total cost)

    def total(self, files: list[Path], columns: list[str]) -> dict[str, float]:
        """Each column's sum over ``files``; forgets the files no longer given."""
        ids = [_identify(path) for path in files]
        out = dict.fromkeys(columns, 0.0)
        for file_id in ids:
            kept = self._sums.setdefault(file_id, {})
            missing = [c for c in columns if c not in kept]
            if missing:
                kept.update(column_sums(pq.read_table(file_id[0], columns=missing), missing))
                self.files_read += 1
            for column in columns:
                out[column] += kept[column]
        live = set(ids)
        for gone in [file_id for file_id in self._sums if file_id not in live]:
            del self._sums[gone]
        return out


def _identify(path: Path) -> FileId:
    status = path.stat()
    return path, status.st_size, status.st_mtime_ns
