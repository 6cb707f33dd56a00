"""The MQTT connector: plant (Sparkplug B) and fleet (JSON) messages into the store.

It subscribes at QoS 1 with a persistent session (clean session off, a fixed client id),
so the broker keeps what arrives while it is away. Messages are decoded and written on
one writer thread (the store has one writer), several messages per :meth:`Store.write`,
one write per table and source; a message is acknowledged (paho's manual ack) only
after the write holding its rows returned, i.e. when they are in the store's
write-ahead log. A crash before that leaves the message unacknowledged, and the broker
sends it again: the store's keys make the second copy *unchanged*.

Loss is detected from each source's sequence numbers (:mod:`gigaloop.ingest.sequence`).
With an ``offsets`` book (the app state's, :class:`gigaloop.appstate.AppState`, which the
process below uses) the last number written per fleet JSON source is kept there after
each batch, and a restarted connector continues from it, so messages lost while it was
away count as a gap too. (Sparkplug B numbers wrap at 256 and restart with each NBIRTH:
they are checked within a session only.) Messages that cannot be read are kept in the
store's ``quarantine`` table (topic and payload in ``row_json``, the reason beside) and
counted, never dropped silently.

    store = Store("data")
    with MqttConnector(store, host="broker.plant", client_id="gigaloop-ingest"):
        ...                                      # runs until the block ends
    python -m gigaloop.ingest.mqtt --store data --host broker.plant   # the same, as a process
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import logging
import queue
import signal
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import pyarrow as pa

from gigaloop.errors import require
from gigaloop.ingest import fleet_json, sparkplug
from gigaloop.ingest.connector import StoreSink, StreamConnector, counted, refused
from gigaloop.ingest.messages import Decoded, RejectedMessage, concat, quarantine_row
from gigaloop.ingest.sequence import ConnectorStats, SequenceTracker
from gigaloop.schema import write_order

log = logging.getLogger(__name__)
QUARANTINE = "quarantine"
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # as the API's GIGALOOP_MAX_INGEST_BYTES
KEPT_WHOLE = 64 * 1024  # a refused payload up to this size is quarantined whole
KEPT_HEAD = 1024  # of a larger one, this much is kept, with its size and digest


@dataclass(frozen=True)
class _Message:
    session: int  # connection it arrived on: an ack is only valid there
    mid: int
    qos: int
    topic: str
    payload: bytes


class OffsetBook(Protocol):
    """Where the last sequence number written per source is kept (e.g.
    :class:`gigaloop.appstate.operations.Offsets`)."""

    def get(self, source_id: str) -> int | None: ...

    def acknowledge(self, source_id: str, sequence: int) -> int: ...


class MqttConnector(StreamConnector):
    """Writes what a broker delivers into ``store``; see the module docstring.

    ``max_batch`` messages at most per batch; the writer waits ``linger_s`` for more once
    a batch has begun. A payload over ``max_payload_bytes`` is refused (quarantined with
    its size, digest and first KiB). :attr:`stats` counts per source; :attr:`error` holds
    what stopped the writer (a store that cannot write), after which nothing more is acknowledged.
    """

    def __init__(self, store: StoreSink, host: str = "127.0.0.1", port: int = 1883, *,
                 client_id: str = "gigaloop-ingest",
                 topics: Sequence[str] = (sparkplug.TOPIC_FILTER, fleet_json.TOPIC_FILTER,
                                          fleet_json.TABLE_TOPIC_FILTER),
                 max_batch: int = 1000, linger_s: float = 0.02, keepalive_s: int = 30,
                 max_payload_bytes: int = MAX_PAYLOAD_BYTES,
                 username: str | None = None, password: str | None = None,
                 offsets: OffsetBook | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        mqtt = require("paho.mqtt.client", "service")
        self.store, self.host, self.port, self.topics = store, host, port, tuple(topics)
        self.max_batch, self.linger_s, self.keepalive_s = max_batch, linger_s, keepalive_s
        self.clock, self.max_payload_bytes, self.offsets = clock, max_payload_bytes, offsets
        self.error: BaseException | None = None
        self.ready = threading.Event()  # set once subscribed
        self._sparkplug = sparkplug.SparkplugDecoder()
        self._stats = ConnectorStats()
        self._trackers: dict[str, SequenceTracker] = {}
        self._queue: queue.Queue[_Message] = queue.Queue()
        self._lock = threading.Lock()  # session number, acks, stats
        self._session = 0
        self._stopping = threading.Event()
        self._writer = threading.Thread(target=self._write_loop, name="gigaloop-mqtt-writer",
                                        daemon=True)
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                                   clean_session=False, manual_ack=True)
        if username is not None:
            self._client.username_pw_set(username, password)
        self._client.reconnect_delay_set(min_delay=1, max_delay=5)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_subscribe = lambda *args: self.ready.set()

    # ---- life cycle ----------------------------------------------------------------------
    def start(self) -> MqttConnector:
        """Connect (retrying while the broker is away) and start writing."""
        self._writer.start()
        self._client.connect_async(self.host, self.port, keepalive=self.keepalive_s)
        self._client.loop_start()
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        """Write and acknowledge what has arrived, then disconnect."""
        self._stopping.set()
        self._writer.join(timeout_s)
        self._client.disconnect()
        self._client.loop_stop()

    # ---- paho callbacks (network thread) ---------------------------------------------------
    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any,
                    properties: Any) -> None:
        if reason.is_failure:
            log.warning("broker %s:%s refused the connection: %s", self.host, self.port, reason)
            return
        with self._lock:
            self._session += 1
        client.subscribe([(t, 1) for t in self.topics])

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any,
                       properties: Any) -> None:
        with self._lock:
            self._session += 1  # acks of what arrived before are void: it comes again
        if not self._stopping.is_set():
            log.warning("lost the broker %s:%s (%s); reconnecting", self.host, self.port, reason)

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        self._queue.put(_Message(self._session, message.mid, message.qos, message.topic,
                                 bytes(message.payload)))

    # ---- writer thread ------------------------------------------------------------------------
    def _write_loop(self) -> None:
        while not (self._stopping.is_set() and self._queue.empty()):
            batch = self._take()
            if not batch:
                continue
            try:
                self._write(batch)
            except BaseException as exc:  # a store that cannot write: acknowledge nothing more
                log.exception("writing %d messages failed; the connector stops", len(batch))
                self.error = exc
                self._client.disconnect()
                return
            with self._lock:
                for message in batch:
                    if message.session == self._session and message.qos > 0:
                        self._client.ack(message.mid, message.qos)

    def _take(self) -> list[_Message]:
        try:
            batch = [self._queue.get(timeout=0.1)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + self.linger_s
        while len(batch) < self.max_batch:
            try:
                batch.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        return batch

    def _write(self, batch: list[_Message]) -> None:
        now = self.clock()
        groups: dict[tuple[str, str], list[pa.Table]] = defaultdict(list)
        rejected_rows: list[dict[str, Any]] = []
        updates: list[Callable[[ConnectorStats], None]] = []
        written_upto: dict[str, int] = {}  # per source, the newest sequence number written
        for message in batch:
            try:
                decoded = self._decode(message.topic, message.payload)
            except RejectedMessage as exc:
                source = exc.source or message.topic
                rejected_rows.append(quarantine_row(message.topic, _kept(message.payload),
                                                    exc, now, f"mqtt:{source}"))
                updates.append(refused(source, exc.reason, whole_message=True))
                continue
            updates.append(self._track(decoded))
            if decoded.seq is not None and decoded.modulus is None:
                written_upto[decoded.source] = max(decoded.seq,
                                                   written_upto.get(decoded.source, decoded.seq))
            for table, reason, reading in decoded.rejected:
                rejected_rows.append(quarantine_row(
                    message.topic, reading, RejectedMessage(reason, table=table), now,
                    f"mqtt:{decoded.source}"))
            for table, rows in decoded.tables.items():
                groups[(table, decoded.source)].append(rows)
        if rejected_rows:
            self.store.write(QUARANTINE, rejected_rows, ingested_at=now, source="mqtt")
        order = {name: i for i, name in enumerate(write_order({t for t, _ in groups}))}
        for table, source in sorted(groups, key=lambda pair: (order[pair[0]], pair[1])):
            result = self.store.write(table, concat(groups[(table, source)]), ingested_at=now,
                                      source=f"mqtt:{source}")
            updates.append(counted(source, result))
        if self.offsets is not None:  # the rows are durable: their numbers may be kept
            for source, seq in written_upto.items():
                self.offsets.acknowledge(source, seq)
        with self._lock:
            for update in updates:
                update(self._stats)

    def _decode(self, topic: str, payload: bytes) -> Decoded:
        if len(payload) > self.max_payload_bytes:
            raise RejectedMessage(f"a payload of {len(payload):,} bytes is over the "
                                  f"{self.max_payload_bytes:,}-byte limit; send smaller "
                                  "messages", source=sparkplug.source_of(topic)
                                  or fleet_json.default_source(topic))
        if topic.startswith(sparkplug.NAMESPACE + "/"):
            return self._sparkplug.decode(topic, payload)
        if topic.startswith(fleet_json.PREFIX + "/"):
            return fleet_json.decode(topic, payload)
        raise RejectedMessage(f"no decoder for topic {topic!r}")

    def _track(self, decoded: Decoded) -> Callable[[ConnectorStats], None]:
        """Sequence bookkeeping of one readable message; its stats update, to apply later."""
        source = decoded.source
        tracker = self._trackers.get(source)
        if tracker is None:
            tracker = self._trackers[source] = SequenceTracker(decoded.modulus)
            kept = None if self.offsets is None or decoded.modulus is not None \
                else self.offsets.get(source)
            if kept is not None:
                tracker.resume(kept)
        if decoded.restart:
            tracker.restart()
        if decoded.seq is not None and tracker.see(decoded.seq) == "gap":
            log.warning("%s: messages missing before seq %d (%d missing in all)",
                        source, decoded.seq, tracker.missing)
        gaps, missing, duplicates = tracker.gaps, tracker.missing, tracker.duplicates
        rejected: dict[str, int] = defaultdict(int)
        for _, reason, _ in decoded.rejected:
            rejected[reason] += 1
        rows = decoded.rows

        def update(stats: ConnectorStats) -> None:
            one = stats.source(source)
            one.messages += 1
            one.rows_received += rows + sum(rejected.values())
            one.gaps, one.missing, one.duplicates = gaps, missing, duplicates
            for reason, n in rejected.items():
                one.rejected += n
                one.count_reason(reason, n)
        return update



def _kept(payload: bytes) -> bytes | dict[str, Any]:
    """What the quarantine keeps of a refused payload: all of it, or past ``KEPT_WHOLE``
    its size, SHA-256 and first KiB (a 10 MB message is not copied into a row)."""
    if len(payload) <= KEPT_WHOLE:
        return payload
    return {"bytes": len(payload), "sha256": hashlib.sha256(payload).hexdigest(),
            "head_base64": base64.b64encode(payload[:KEPT_HEAD]).decode("ascii")}

def main(argv: Sequence[str] | None = None) -> None:
    """``python -m gigaloop.ingest.mqtt --store DIR [--host H] [--port P]``: run until
    SIGTERM / Ctrl-C, printing the counts as one JSON line every ``--every`` seconds."""
    from gigaloop.appstate import AppState
    from gigaloop.store import Store

    parser = argparse.ArgumentParser(prog="python -m gigaloop.ingest.mqtt",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True, help="store folder")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--client-id", default="gigaloop-ingest")
    parser.add_argument("--fsync", action="store_true", help="force every write to the disk")
    parser.add_argument("--every", type=float, default=5.0, help="seconds between counts")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    store = Store(args.store, fsync=args.fsync)
    state = AppState.beside(args.store)  # the sequence numbers written, across restarts
    connector = MqttConnector(store, args.host, args.port, client_id=args.client_id,
                              offsets=state.offsets).start()
    try:
        while not (connector.ready.wait(0.05) or stop.is_set()):
            pass
        print(json.dumps({"ready": True}), flush=True)
        while not stop.wait(args.every) and connector.error is None:
            print(json.dumps(connector.stats.as_dict()["total"]), flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        connector.stop()
        store.close()
        state.close()


if __name__ == "__main__":
    main()
