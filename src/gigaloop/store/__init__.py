"""The store: every table as Parquet files, validated on the way in, read through Ibis.

Writes are validated column by column, rejected rows are kept in ``quarantine`` with
their reasons, and a row whose key is already stored is never written twice. Reads are
Ibis expressions that run unchanged on DuckDB (embedded default) or Spark.

>>> import datetime as dt, tempfile
>>> store = Store(tempfile.mkdtemp())
>>> store.table("vehicles").columns[:3]
('vin', 'build_date', 'site_id')
>>> store.as_of(dt.datetime(2024, 1, 1)).count("vehicles")
0
"""

from gigaloop.store.engines import ibis_schema
from gigaloop.store.store import Store, StoreView, WriteResult
from gigaloop.store.view import Tables

__all__ = ["Store", "StoreView", "Tables", "WriteResult", "ibis_schema"]
