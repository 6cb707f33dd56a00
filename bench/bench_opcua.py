"""OPC UA ingest: a station's readings from an asyncua server into a store.

An asyncua server on a free loopback port plays one station (``current_vin`` and
``--parameters`` Double variables, as docs/connectors.md lays out) and writes ``--units``
units as fast as it can: ``current_vin``, then one value per parameter, each with its
source timestamp. Timed: from the first write until the connector has written every
reading to the store (publishing interval 50 ms, a queue of 10 000 per variable).

The baseline, on the same server and writes: a plain asyncua subscription that only
counts the notifications (no rows, no store). Figures, one JSON line each:
``opcua_readings_per_s`` (with the baseline's and the ratio) and ``opcua_loss``
(readings written − readings sent: must be 0).

    .venv/bin/python bench/bench_opcua.py [--units 2000] [--parameters 5]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from asyncua import Client, Server, ua

from gigaloop.ingest.opcua import OpcUaConnector
from gigaloop.store import Store

SITE, LINE, STATION = "FRE", "FRE-BIW", "FRE-BIW-10"
BUILT = dt.datetime(2024, 3, 1, 6, tzinfo=dt.UTC)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def seed(root: Path, units: int) -> list[str]:
    vins = [f"5YJ3E1EA0PF{i:06d}" for i in range(units)]
    store = Store(root)
    store.write_many({
        "sites": [{"site_id": SITE, "name": "Fremont", "region": "CAISO", "timezone": "UTC"}],
        "lines": [{"line_id": LINE, "site_id": SITE, "name": "Body in white"}],
        "stations": [{"station_id": STATION, "line_id": LINE, "process": "body_weld",
                      "sequence": 10}],
        "vehicles": [{"vin": v, "build_date": BUILT.date(), "site_id": SITE, "line_id": LINE,
                      "shift": "A", "model": "Model 3", "trim": "LR", "hardware_revision": "HW4",
                      "design_revision": "B", "event_time": BUILT.replace(tzinfo=None)}
                     for v in vins],
    }, ingested_at=BUILT.replace(tzinfo=None))
    store.close()
    return vins


class Station:
    """The server, on its own thread and event loop."""

    def __init__(self, parameters: int) -> None:
        self.url = f"opc.tcp://127.0.0.1:{free_port()}/bench"
        self.parameters = parameters
        self.loop = asyncio.new_event_loop()
        self.nodes: dict[str, Any] = {}
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.server = self.call(self._start())

    def call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(600)

    async def _start(self) -> Server:
        server = Server()
        await server.init()
        server.set_endpoint(self.url)
        idx = await server.register_namespace("urn:gigaloop:bench")
        line = await (await server.nodes.objects.add_folder(idx, SITE)).add_folder(idx, LINE)
        station = await line.add_object(idx, STATION)
        self.nodes["current_vin"] = await station.add_variable(
            idx, "current_vin", ua.Variant(), datatype=ua.NodeId(ua.ObjectIds.String))
        for k in range(self.parameters):
            self.nodes[f"p{k}"] = await station.add_variable(
                idx, f"p{k}", ua.Variant(), datatype=ua.NodeId(ua.ObjectIds.Double))
            await self.nodes[f"p{k}"].add_property(idx, "unit", "kA")
        await server.start()
        return server

    async def _play(self, vins: list[str]) -> None:
        for i, vin in enumerate(vins):
            at = BUILT + dt.timedelta(seconds=i)
            await self.nodes["current_vin"].write_value(
                ua.DataValue(ua.Variant(vin, ua.VariantType.String), SourceTimestamp=at))
            for k in range(self.parameters):
                await self.nodes[f"p{k}"].write_value(ua.DataValue(
                    ua.Variant(float(i + k), ua.VariantType.Double),
                    SourceTimestamp=at + dt.timedelta(milliseconds=k + 1)))

    def play(self, vins: list[str]) -> None:
        self.call(self._play(vins))

    async def _shutdown(self) -> None:
        await self.server.stop()
        rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in rest:
            task.cancel()
        await asyncio.gather(*rest, return_exceptions=True)

    def stop(self) -> None:
        self.call(self._shutdown())
        self.loop.call_soon_threadsafe(self.loop.stop)


def through_store(vins: list[str], parameters: int, root: Path, timeout: float) -> dict:
    station, store = Station(parameters), Store(root)
    readings = len(vins) * parameters
    try:
        with OpcUaConnector(store, station.url, publishing_ms=50, queue_size=10_000) as c:
            assert c.ready.wait(30)
            started = time.perf_counter()
            station.play(vins)
            c.wait_until(lambda s: s.total().written + s.total().quarantined
                         + s.total().rejected >= readings, timeout)
            seconds = time.perf_counter() - started
        total = c.stats.total()
    finally:
        station.stop()
        store.close()
    return {"seconds": seconds, "written": total.written, "quarantined": total.quarantined,
            "rejected": total.rejected, "reasons": total.reasons}


def count_only(vins: list[str], parameters: int, timeout: float) -> float:
    station = Station(parameters)
    expected = len(vins) * (parameters + 1)

    async def run() -> float:
        async with Client(station.url) as client:
            subscription = await client.create_subscription(50, None, queue_maxsize=0)
            items = []
            for handle, node in enumerate(station.nodes.values(), start=1):
                parameters_ = ua.MonitoringParameters(
                    ClientHandle=handle, SamplingInterval=0.0, QueueSize=10_000,
                    DiscardOldest=True, Filter=ua.DataChangeFilter(
                        Trigger=ua.DataChangeTrigger.StatusValueTimestamp))
                items.append(ua.MonitoredItemCreateRequest(
                    ItemToMonitor=ua.ReadValueId(NodeId=node.nodeid,
                                                 AttributeId=ua.AttributeIds.Value),
                    MonitoringMode=ua.MonitoringMode.Reporting,
                    RequestedParameters=parameters_))
            await subscription.create_monitored_items(items)
            await asyncio.sleep(0.3)  # the initial (null) values
            started = time.perf_counter()
            player = asyncio.get_running_loop().run_in_executor(None, station.play, vins)
            async def count() -> None:
                seen = 0
                async for event in subscription:
                    seen += getattr(event, "value", None) is not None
                    if seen >= expected:
                        return

            await asyncio.wait_for(count(), timeout)
            await player
            return time.perf_counter() - started

    try:
        return asyncio.run(run())
    finally:
        station.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=2000)
    parser.add_argument("--parameters", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "store"
        vins = seed(root, args.units)
        readings = args.units * args.parameters
        ran = through_store(vins, args.parameters, root, args.timeout)
        raw_s = count_only(vins, args.parameters, args.timeout)
    print(json.dumps({
        "figure": "opcua_readings_per_s", "value": round(readings / ran["seconds"]),
        "readings": readings, "units": args.units, "parameters": args.parameters,
        "baseline_readings_per_s": round(readings / raw_s),
        "ratio_to_baseline": round(raw_s / ran["seconds"], 3)}), flush=True)
    print(json.dumps({
        "figure": "opcua_loss", "value": readings - ran["written"],
        "rejected": ran["rejected"], "quarantined": ran["quarantined"],
        "reasons": ran["reasons"]}), flush=True)


if __name__ == "__main__":
    main()
