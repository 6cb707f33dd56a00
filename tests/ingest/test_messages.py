"""Messages kept in the quarantine: the same message twice is kept once."""

from __future__ import annotations

import datetime as dt

from gigaloop.ingest.messages import RejectedMessage, quarantine_row
from gigaloop.store import Store


def test_a_message_quarantined_again_later_is_unchanged(tmp_path) -> None:
    store = Store(tmp_path)
    rejected = RejectedMessage("bad JSON: oops", table="telemetry_daily")
    for day in (1, 2):  # redelivered a day later: another received time, the same rejection
        moment = dt.datetime(2024, 3, day)
        row = quarantine_row("gigaloop/FRE/fleet/V1/telemetry_daily", b"{oops", rejected, moment,
                             "mqtt:FRE/V1")
        result = store.write("quarantine", [row], ingested_at=moment)
    assert (result.written, result.unchanged, result.quarantined) == (0, 1, 0)
    assert store.count("quarantine") == 1
    store.close()
