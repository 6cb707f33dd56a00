"""Days of a source through a broker: it publishes as a plant does, the connector writes.

:class:`MqttTransport` is what ``gigaloop run --transport mqtt`` puts between the twin and
the store. Each day's batches go out the way a plant and its vehicles send them:

* ``process_readings`` as Sparkplug B DDATA, group = site, an edge node per line, a device
  per station; ``machine_readings`` the same way, as ``machine/<machine_id>/<column>``
  metrics (:mod:`gigaloop.ingest.sparkplug`); each edge node is born (NBIRTH) once;
* rows of the fleet tables as JSON, a vehicle's rows of a table batched in a message
  (``gigaloop/{site}/fleet/{vin}/{table}``, :mod:`gigaloop.ingest.fleet_json`), numbered
  as one source ``{site}/fleet`` — the telematics backend that relays the vehicles, as
  fleets usually reach a plant; one source per vehicle would cost the connector one
  store write per vehicle and batch (about 1 ms each);
* every other table as the same JSON on the generic topic ``gigaloop/{site}/table/{table}``.

The :class:`~gigaloop.ingest.mqtt.MqttConnector` writes what arrives, stamped with the
day's end. A day ends at a barrier: the broker acknowledged every message (PUBACK), and
the connector decoded and wrote them all (its per-source message counts reached what was
published to each source), so the day's decision cycle sees the day whole.

    with MqttTransport(store, port=broker.port) as transport:
        results = transport.deliver(TwinDay(twin, day), twin.day_end(day))
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa

from gigaloop.errors import IngestError
from gigaloop.ingest import Source
from gigaloop.ingest.fleet_json import FLEET_TABLES
from gigaloop.ingest.mqtt import MqttConnector
from gigaloop.ingest.mqtt_publish import EdgeNode, Publisher
from gigaloop.store.result import WriteResult


class MqttTransport:
    """Publishes each day's batches through a broker; a connector writes them to ``store``."""

    def __init__(self, store: Any, host: str = "127.0.0.1", port: int = 1883, *,
                 timeout_s: float = 120.0) -> None:
        self.timeout_s = timeout_s
        self._now = datetime.min
        tag = uuid.uuid4().hex[:8]  # fresh sessions: nothing queued from an earlier run
        self.connector = MqttConnector(store, host, port, client_id=f"gigaloop-run-{tag}",
                                       clock=lambda: self._now)
        self.publisher = Publisher(host, port, client_id=f"gigaloop-twin-{tag}",
                                   keep_rows=False)
        self.site = "plant"
        self._line_of_station: dict[str, str] = {}
        self._station_of_machine: dict[str, str] = {}
        self._nodes: dict[str, EdgeNode] = {}
        self._counted = 0  # messages of publisher.sent already in _published
        self._published: Counter[str] = Counter()

    def start(self, connect_timeout_s: float = 10.0) -> MqttTransport:
        """Connect the publisher (an :class:`IngestError` when no broker answers within
        ``connect_timeout_s``), then the connector, subscribed before anything is sent."""
        try:
            self.publisher.connect(connect_timeout_s)
        except IngestError:
            self.publisher.close()
            raise
        self.connector.start()
        if not self.connector.ready.wait(self.timeout_s):
            self.close()
            raise IngestError(f"the connector could not subscribe at {self.connector.host}:"
                              f"{self.connector.port} within {self.timeout_s} s")
        return self

    def close(self) -> None:
        self.publisher.close()
        self.connector.stop()

    def __enter__(self) -> MqttTransport:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def deliver(self, source: Source, now: datetime) -> dict[str, WriteResult]:
        """Publish every batch of ``source``, wait until the connector wrote them all
        (stamped ``now``); the rows received, written, unchanged and quarantined (rows of
        messages the connector rejected included), as one result ``"mqtt"``."""
        self._now = now
        before = self.connector.stats.total()
        for table, rows in source.batches():
            self._publish(table, rows)
        if not self.publisher.wait(self.timeout_s):
            raise IngestError(f"the broker did not acknowledge every message within "
                              f"{self.timeout_s} s")
        for sent in self.publisher.sent[self._counted:]:
            self._published[sent.source] += 1
        self._counted = len(self.publisher.sent)
        expected = dict(self._published)

        def written(stats: Any) -> bool:
            return all(name in stats.sources and stats.sources[name].messages >= n
                       for name, n in expected.items())

        if not self.connector.wait_until(written, self.timeout_s):
            raise IngestError(f"the connector did not write every message of {now} within "
                              f"{self.timeout_s} s; its counts: {self.connector.stats.total()}")
        after = self.connector.stats.total()
        return {"mqtt": WriteResult(
            "mqtt", after.rows_received - before.rows_received, after.written - before.written,
            after.unchanged - before.unchanged,
            after.quarantined + after.rejected - before.quarantined - before.rejected,
            dict(Counter(after.reasons) - Counter(before.reasons)))}

    def _publish(self, table: str, rows: pa.Table) -> None:
        if rows.num_rows == 0:
            return
        self._learn(table, rows)
        if table == "process_readings":
            for station, part in _groups(rows, "station_id"):
                self.publisher.process_readings(self._node(self._line_of_station.get(station)),
                                                station, part)
        elif table == "machine_readings":
            for machine, part in _groups(rows, "machine_id"):
                station = self._station_of_machine.get(machine, "machines")
                self.publisher.machine_readings(
                    self._node(self._line_of_station.get(station)), station, part)
        elif table in FLEET_TABLES:
            for vin, part in _groups(rows, "vin"):
                self.publisher.fleet_rows(self.site, vin, table, part,
                                          source=f"{self.site}/fleet")
        else:
            self.publisher.table_rows(self.site, table, rows)

    def _learn(self, table: str, rows: pa.Table) -> None:
        """Site, lines and stations from the dimension rows the source sends first."""
        if table == "sites":
            self.site = str(rows["site_id"][0])
        elif table == "stations":
            self._line_of_station.update(zip(rows["station_id"].to_pylist(),
                                             rows["line_id"].to_pylist(), strict=True))
        elif table == "machines":
            self._station_of_machine.update(zip(rows["machine_id"].to_pylist(),
                                                rows["station_id"].to_pylist(), strict=True))

    def _node(self, line: str | None) -> EdgeNode:
        """The edge node of a line, born on first use."""
        edge = line or "plant"
        node = self._nodes.get(edge)
        if node is None:
            node = self._nodes[edge] = EdgeNode(self.site, edge)
            self.publisher.birth(node, {})
        return node


def _groups(rows: pa.Table, column: str) -> list[tuple[str, pa.Table]]:
    """Rows by a column's value (first-seen order; rows keep their order in each part)."""
    values = np.asarray(rows[column].to_pylist(), dtype=object)
    keys, first, inverse = np.unique(values.astype(str), return_index=True,
                                     return_inverse=True)
    out = []
    for position in np.argsort(first):
        picked = np.flatnonzero(inverse == position)
        out.append((str(keys[position]), rows.take(pa.array(picked))))
    return out


__all__ = ["MqttTransport"]
