"""Tables the platform itself keeps: the quarantine of rejected rows."""

from gigaloop.schema.table import Table, col

QUARANTINE = Table(
    "quarantine", "system", "A row that failed validation, kept whole with its reason.",
    key=("table_name", "row_hash", "reason"), partition_by="event_time", columns=(
        col("table_name", "string", "table the row was meant for"),
        col("row_hash", "string", "hash of the row as received"),
        col("reason", "string", "why it was rejected (column and rule)"),
        col("row_json", "string", "the row as received, JSON"),
        col("source", "string", "who sent it (connector / batch id)", nullable=True),
        col("event_time", "timestamp", "when it was received"),
    ))

TABLES = (QUARANTINE,)
