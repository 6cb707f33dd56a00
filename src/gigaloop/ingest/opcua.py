"""The OPC UA connector: station and machine variables of a plant's server into the store.

It connects to an OPC UA server (``opc.tcp://…``, with asyncua, part of the
``gigaloop[service]`` extra), browses it for stations laid out as
:mod:`gigaloop.ingest.opcua_space` describes, and subscribes to their variables (data
change notifications, a queue per monitored item so that no change between two publish
responses is lost). Each publish response is assembled into rows whole
(:mod:`gigaloop.ingest.opcua_rows`) and written by one writer thread, several responses
per :meth:`Store.write`, one write per table and station.

Readings that cannot become rows (a bad status, no ``current_vin``, an unknown machine
column) are kept in the store's ``quarantine`` table with the reason and counted as
*rejected*; rows with bad values (text in a number, an unknown VIN) are quarantined by the
store. Per station, ``rows_received == written + unchanged + quarantined + rejected``.

When the server goes away (the session's watchdog notices), the connector reconnects with
back-off, browses again (the address space may have changed) and subscribes again; the
server then sends each variable's current value, which the store's keys make *unchanged*.
Changes made while no session existed are not replayed: OPC UA keeps them nowhere.

    with OpcUaConnector(store, "opc.tcp://plc.fre:4840") as connector:
        ...                                        # runs until the block ends
    python -m gigaloop.ingest.opcua --store data --url opc.tcp://plc.fre:4840   # a process
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from gigaloop.errors import IngestError, require
from gigaloop.ingest.connector import StoreSink, StreamConnector, counted, refused
from gigaloop.ingest.messages import RejectedMessage, quarantine_row
from gigaloop.ingest.opcua_rows import Assembled, Notification, RowAssembler
from gigaloop.ingest.opcua_space import AddressSpace, browse, find
from gigaloop.ingest.sequence import ConnectorStats
from gigaloop.schema import write_order

log = logging.getLogger(__name__)
QUARANTINE = "quarantine"


class OpcUaConnector(StreamConnector):
    """Writes what an OPC UA server's stations report into ``store``; see the module.

    ``root`` is the browse path below ``Objects`` where sites begin (``()``: Objects
    itself). ``publishing_ms`` is the subscription's publishing interval, ``queue_size``
    the server-side queue per variable (changes per interval it can hold). The writer
    takes up to ``max_batch`` publish responses per write, waiting ``linger_s`` for more.
    ``username`` / ``password`` log in; ``security`` is asyncua's security string,
    ``"Policy,Mode,client certificate,client key[,server certificate]"``, e.g.
    ``"Basic256Sha256,SignAndEncrypt,gigaloop.der,gigaloop.pem"`` (none: an open session).
    :attr:`stats` counts per station; :attr:`error` holds what stopped the writer.
    """

    def __init__(self, store: StoreSink, url: str, *, root: tuple[str, ...] = (),
                 publishing_ms: float = 100.0, queue_size: int = 1000,
                 max_batch: int = 200, linger_s: float = 0.05, watchdog_s: float = 1.0,
                 reconnect_max_s: float = 5.0, timeout_s: float = 4.0,
                 username: str | None = None, password: str | None = None,
                 security: str | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._asyncua = require("asyncua", "service")
        self.store, self.url, self.root = store, url, tuple(root)
        self.publishing_ms, self.queue_size = publishing_ms, queue_size
        self.max_batch, self.linger_s = max_batch, linger_s
        self.watchdog_s, self.reconnect_max_s, self.timeout_s = (watchdog_s, reconnect_max_s,
                                                                 timeout_s)
        self.clock = clock
        self._username, self._password, self._security = username, password, security
        self.error: BaseException | None = None
        self.ready = threading.Event()  # set while subscribed
        self.sessions = 0  # sessions opened (1 + reconnects)
        self._space = AddressSpace()
        self._rows = RowAssembler({})
        self._stats = ConnectorStats()
        self._lock = threading.Lock()
        self._queue: queue.Queue[list[Notification]] = queue.Queue()
        self._publish: list[Notification] = []
        self._stopping = threading.Event()  # the writer: drain the queue and end
        self._stop_requested = threading.Event()  # the reader: close the session and end
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_async: asyncio.Event | None = None
        self._reader = threading.Thread(target=self._read, name="gigaloop-opcua-reader",
                                        daemon=True)
        self._writer = threading.Thread(target=self._write_loop, name="gigaloop-opcua-writer",
                                        daemon=True)

    # ---- life cycle ----------------------------------------------------------------------
    def start(self) -> OpcUaConnector:
        """Connect (retrying while the server is away) and start writing."""
        self._writer.start()
        self._reader.start()
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        """Close the session, then write what has arrived (open machine snapshots too)."""
        self._stop_requested.set()
        if self._loop is not None and self._stop_async is not None:
            self._loop.call_soon_threadsafe(self._stop_async.set)
        self._reader.join(timeout_s)
        self._stopping.set()
        self._writer.join(timeout_s)

    # ---- reader: the session, on its own event loop ---------------------------------------
    def _read(self) -> None:
        asyncio.run(self._supervise())

    async def _supervise(self) -> None:
        self._stop_async = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        if self._stop_requested.is_set():  # stop() came before the loop existed
            return
        delay = 0.2
        while not self._stop_async.is_set():
            lost = asyncio.Event()
            try:
                await self._session(lost)
                delay = 0.2
            except Exception as exc:  # the server away, refusing, or laid out otherwise
                log.warning("OPC UA server %s: %s: %s; retrying in %.1f s", self.url,
                            type(exc).__name__, exc, delay)
            self.ready.clear()
            if not self._stop_async.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop_async.wait(), delay)
                delay = min(delay * 2, self.reconnect_max_s)

    async def _session(self, lost: asyncio.Event) -> None:
        ua = self._asyncua.ua
        client = self._asyncua.Client(self.url, timeout=self.timeout_s,
                                      watchdog_intervall=self.watchdog_s)

        async def on_lost(exc: Exception) -> None:
            log.warning("lost the OPC UA server %s (%s); reconnecting", self.url, exc)
            lost.set()

        client.connection_lost_callback = on_lost
        if self._username is not None:
            client.set_user(self._username)
            client.set_password(self._password or "")
        if self._security is not None:
            await client.set_security_string(self._security)
        await client.connect()
        try:
            space = await browse(await find(client.nodes.objects, self.root))
            with self._lock:
                self._space = space
                self._rows.machine_columns = space.machine_columns
            if not space.bindings:
                raise IngestError(f"no station (an Object with a current_vin variable) below "
                                  f"{'/'.join(('Objects', *self.root))} on {self.url}")
            subscription = await client.create_subscription(self.publishing_ms, self,
                                                            queue_maxsize=0)
            handles = await subscription.create_monitored_items(
                [self._monitor(ua, node_id, handle) for handle, node_id
                 in enumerate(space.bindings, start=1)])
            for node_id, handle in zip(space.bindings, handles, strict=True):
                if isinstance(handle, ua.StatusCode):
                    log.warning("cannot monitor %s on %s: %s", node_id, self.url, handle.name)
            self.sessions += 1
            self.ready.set()
            stopped = asyncio.ensure_future(self._stop_async.wait())  # type: ignore[union-attr]
            gone = asyncio.ensure_future(lost.wait())
            await asyncio.wait([stopped, gone], return_when=asyncio.FIRST_COMPLETED)
            for waiter in (stopped, gone):
                waiter.cancel()
        finally:
            self.ready.clear()
            try:
                await asyncio.wait_for(client.disconnect(), self.timeout_s)
            except (OSError, TimeoutError, ua.UaError, ConnectionError) as exc:
                log.debug("disconnect from %s: %s", self.url, exc)

    def _monitor(self, ua: Any, node_id: Any, handle: int) -> Any:
        """A monitored item that reports every write, an equal value again included (a
        reading per unit, not per change), keeping ``queue_size`` changes between publishes."""
        parameters = ua.MonitoringParameters(
            ClientHandle=handle, SamplingInterval=0.0, QueueSize=self.queue_size,
            DiscardOldest=True,
            Filter=ua.DataChangeFilter(Trigger=ua.DataChangeTrigger.StatusValueTimestamp))
        return ua.MonitoredItemCreateRequest(
            ItemToMonitor=ua.ReadValueId(NodeId=node_id, AttributeId=ua.AttributeIds.Value),
            MonitoringMode=ua.MonitoringMode.Reporting, RequestedParameters=parameters)

    # asyncua calls this (a task per notification, in order) for each data change
    def datachange_notification(self, node: Any, value: Any, data: Any) -> None:
        binding = self._space.bindings.get(node.nodeid)
        item = data.monitored_item.Value
        if binding is None or item is None:
            return
        status = item.StatusCode
        if value is None and (status is None or status.is_good()):
            return  # a variable with no value yet: not a reading
        stamp = item.SourceTimestamp or item.ServerTimestamp or datetime.now(UTC)
        note = Notification(binding, value, _naive_utc(stamp),
                            None if status is None or status.is_good() else status.name)
        if not self._publish:
            # asyncua makes a task per notification of a publish response, all at once;
            # a callback scheduled now runs after all of them (asyncio runs in FIFO order),
            # so the writer gets publish responses whole: a reading with its VIN change.
            asyncio.get_running_loop().call_soon(self._hand_over)
        self._publish.append(note)

    def status_change_notification(self, status: Any) -> None:
        log.warning("OPC UA subscription status: %s", status)

    def _hand_over(self) -> None:
        publish, self._publish = self._publish, []
        self._queue.put(publish)

    # ---- writer thread ----------------------------------------------------------------------
    def _write_loop(self) -> None:
        while not (self._stopping.is_set() and self._queue.empty()):
            batch = self._take()
            try:
                with self._lock:
                    assembled = self._rows.assemble(batch)
                self._write(assembled)
            except BaseException as exc:  # a store that cannot write: stop reading
                log.exception("writing OPC UA readings failed; the connector stops")
                self.error = exc
                if self._loop is not None and self._stop_async is not None:
                    self._loop.call_soon_threadsafe(self._stop_async.set)
                return
        with self._lock:
            rest = self._rows.flush()
        self._write(rest)

    def _take(self) -> list[Notification]:
        try:
            batch = list(self._queue.get(timeout=0.1))
        except queue.Empty:
            return []
        deadline = time.monotonic() + self.linger_s
        for _ in range(self.max_batch - 1):
            try:
                batch.extend(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        return batch

    def _write(self, assembled: Assembled) -> None:
        now = self.clock()
        updates: list[Callable[[ConnectorStats], None]] = []
        for source, count in assembled.notifications.items():
            updates.append(_seen(source, count))
        if assembled.rejected:
            rows = [quarantine_row(f"{self.url}/{reading['station']}/{reading['variable']}",
                                   reading, RejectedMessage(reason, table=table), now, source)
                    for source, table, reason, reading in assembled.rejected]
            self.store.write(QUARANTINE, rows, ingested_at=now, source="opcua")
            for source, _, reason, _ in assembled.rejected:
                updates.append(refused(source, reason))
        order = {name: i for i, name in enumerate(write_order({t for _, t in assembled.tables}))}
        for source, table in sorted(assembled.tables, key=lambda k: (order[k[1]], k[0])):
            rows = assembled.tables[source, table]
            result = self.store.write(table, rows, ingested_at=now, source=source)
            updates.append(counted(source, result, len(rows)))
        with self._lock:
            for update in updates:
                update(self._stats)


def _naive_utc(stamp: datetime) -> datetime:
    return stamp.astimezone(UTC).replace(tzinfo=None) if stamp.tzinfo else stamp


def _seen(source: str, count: int) -> Callable[[ConnectorStats], None]:
    def update(stats: ConnectorStats) -> None:
        stats.source(source).messages += count
    return update


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m gigaloop.ingest.opcua --store DIR --url opc.tcp://HOST:PORT``: run until
    SIGTERM / Ctrl-C; print ``{"ready": true}`` once subscribed, then the counts as one
    JSON line every ``--every`` seconds."""
    from gigaloop.store import Store

    parser = argparse.ArgumentParser(prog="python -m gigaloop.ingest.opcua",
                                     description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--store", required=True, help="store folder")
    parser.add_argument("--url", required=True, help="opc.tcp://host:port[/path]")
    parser.add_argument("--root", default="", help="browse path below Objects, a/b/c")
    parser.add_argument("--username")
    parser.add_argument("--password")
    parser.add_argument("--security", help="Policy,Mode,cert,key (asyncua's string)")
    parser.add_argument("--publishing-ms", type=float, default=100.0)
    parser.add_argument("--every", type=float, default=5.0, help="seconds between counts")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    store = Store(args.store)
    connector = OpcUaConnector(store, args.url, root=tuple(p for p in args.root.split("/") if p),
                               publishing_ms=args.publishing_ms, username=args.username,
                               password=args.password, security=args.security).start()
    try:
        while not (connector.ready.wait(0.05) or stop.is_set()):
            pass
        print(json.dumps({"ready": True}), flush=True)
        while not stop.wait(args.every) and connector.error is None:
            print(json.dumps({"sessions": connector.sessions,
                              **connector.stats.as_dict()["total"]}), flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        connector.stop()
        store.close()


if __name__ == "__main__":
    main()
