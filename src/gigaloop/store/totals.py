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

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

FileId = tuple[Path, int, int]  # path, size, modification time (ns)


def column_sums(rows: pa.Table, columns: Iterable[str]) -> dict[str, float]:
    """Sum of each column (nulls skipped; 0 for none)."""
    return {c: float(pc.sum(rows[c]).as_py() or 0.0) for c in columns}


class FileSums:
    """Sums of numeric columns per data file (optionally per value of a grouping column),
    read once per file, grouping and column."""

    def __init__(self) -> None:
        self._sums: dict[tuple[FileId, str | None], pd.DataFrame] = {}
        self.files_read = 0  # files opened so far (what a total cost)

    def total(self, files: list[Path], columns: list[str]) -> dict[str, float]:
        """Each column's sum over ``files``; forgets the files no longer given."""
        sums = self.by_group(files, columns, None)
        return {c: float(sums[c].sum()) for c in columns}

    def by_group(self, files: list[Path], columns: list[str], by: str | None) -> pd.DataFrame:
        """Each column's sum over ``files`` per value of ``by`` (one row when None): a
        frame indexed by the group; forgets the files no longer given."""
        ids = [_identify(path) for path in files]
        parts = []
        for file_id in ids:
            kept = self._sums.get((file_id, by))
            missing = columns if kept is None else [c for c in columns if c not in kept]
            if missing:
                read = pq.read_table(file_id[0], columns=[*missing, *([by] if by else [])])
                fresh = grouped_sums(read, missing, by)
                kept = fresh if kept is None else kept.join(fresh, how="outer").fillna(0.0)
                self._sums[(file_id, by)] = kept
                self.files_read += 1
            assert kept is not None  # read above when the file had no sums yet
            parts.append(kept[columns])
        live = set(ids)
        for gone in [key for key in self._sums if key[0] not in live]:
            del self._sums[gone]
        if not parts:
            return pd.DataFrame(columns=columns, dtype=float)
        return pd.concat(parts).groupby(level=0, dropna=False).sum()


def grouped_sums(rows: pa.Table, columns: list[str], by: str | None) -> pd.DataFrame:
    """Sums of ``columns`` of ``rows`` per value of ``by`` (one row, index None, if None)."""
    if by is None:
        return pd.DataFrame([column_sums(rows, columns)], index=pd.Index([None]))
    sums = rows.group_by(by).aggregate([(c, "sum") for c in columns]).to_pandas()
    sums = sums.rename(columns={f"{c}_sum": c for c in columns}).set_index(by)
    return sums[columns].astype(float).fillna(0.0)


def _identify(path: Path) -> FileId:
    status = path.stat()
    return path, status.st_size, status.st_mtime_ns
