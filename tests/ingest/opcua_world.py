"""An asyncua server that plays a station of the MQTT tests' plant, on its own thread.

Laid out as :mod:`gigaloop.ingest.opcua_space` says: ``Objects/FRE/FRE-BIW/<station>``
with ``current_vin``, the weld parameters (a ``unit`` property each, ``setpoint`` on
weld_current), a ``machines/<machine>`` object with the machine_readings columns, an
unknown machine variable ``spindle_speed`` and a ``label`` parameter typed as text (a
misconfigured tag: what it sends is not a float).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from typing import Any

import pytest

pytest.importorskip("asyncua")

from asyncua import Server, ua
from mqtt_world import LINE, MACHINES, PARAMETERS, SITE, STATIONS

from gigaloop.ingest.broker import free_port

STATION, MACHINE = STATIONS[0], MACHINES[0]
COLUMNS = ("vibration_rms", "kurtosis", "crest_factor", "band_energy_low",
           "band_energy_bearing", "band_energy_high", "temperature_c")
DOUBLE = ua.NodeId(ua.ObjectIds.Double)
STRING = ua.NodeId(ua.ObjectIds.String)


class StationServer:
    """``start()`` / ``stop()`` the server; ``unit(vin, values, at)`` plays one unit."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"opc.tcp://127.0.0.1:{self.port}/gigaloop-test"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: Server | None = None
        self.nodes: dict[str, Any] = {}

    def start(self) -> StationServer:
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self._start())
            ready.set()
            self._loop.run_forever()
            self._loop.close()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        assert ready.wait(20), "the OPC UA server did not start"
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        self.call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        assert self._thread is not None
        self._thread.join(10)
        self._loop = None

    def __enter__(self) -> StationServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    async def _shutdown(self) -> None:
        """Stop the server and end what it leaves running (sessions of clients still there)."""
        await self._server.stop()  # type: ignore[union-attr]
        rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in rest:
            task.cancel()
        await asyncio.gather(*rest, return_exceptions=True)

    def call(self, coroutine: Any) -> Any:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    async def _start(self) -> None:
        server = self._server = Server()
        await server.init()
        server.set_endpoint(self.url)
        idx = await server.register_namespace("urn:gigaloop:test-plant")
        site = await server.nodes.objects.add_folder(idx, SITE)
        line = await site.add_folder(idx, LINE)
        station = await line.add_object(idx, STATION)
        self.nodes["current_vin"] = await station.add_variable(
            idx, "current_vin", ua.Variant(), datatype=STRING)
        for name, unit in PARAMETERS.items():
            node = self.nodes[name] = await station.add_variable(idx, name, ua.Variant(),
                                                                 datatype=DOUBLE)
            await node.add_property(idx, "unit", unit)
            if name == "weld_current":
                self.nodes["setpoint"] = await node.add_property(idx, "setpoint", 10.0)
        self.nodes["label"] = await station.add_variable(idx, "label", ua.Variant(),
                                                         datatype=STRING)
        machines = await station.add_folder(idx, "machines")
        machine = await machines.add_object(idx, MACHINE)
        for column in (*COLUMNS, "spindle_speed"):
            self.nodes[column] = await machine.add_variable(idx, column, ua.Variant(),
                                                            datatype=DOUBLE)
        await server.start()

    def write(self, values: dict[str, Any], at: dt.datetime) -> None:
        """Write ``values`` (variable name → value) with source timestamp ``at`` (UTC)."""
        async def write_all() -> None:
            for name, value in values.items():
                kind = ua.VariantType.String if isinstance(value, str) else ua.VariantType.Double
                await self.nodes[name].write_value(ua.DataValue(
                    ua.Variant(value, kind), SourceTimestamp=at.replace(tzinfo=dt.UTC)))
        self.call(write_all())

    def fail(self, name: str, status: str, at: dt.datetime) -> None:
        """The variable ``name`` reports a Bad status (``BadSensorFailure`` …), no value."""
        code = ua.StatusCode(getattr(ua.StatusCodes, status))
        self.call(self.nodes[name].write_value(ua.DataValue(
            ua.Variant(0.0, ua.VariantType.Double), StatusCode=code,
            SourceTimestamp=at.replace(tzinfo=dt.UTC))))

    def set_unit(self, name: str, unit: str) -> None:
        """Change the ``unit`` property of the parameter ``name`` (a PLC reconfigured)."""
        async def change() -> None:
            for prop in await self.nodes[name].get_properties():
                if (await prop.read_browse_name()).Name == "unit":
                    await prop.write_value(unit)
        self.call(change())

    def unit(self, vin: str, values: dict[str, float], at: dt.datetime) -> None:
        """A unit arrives (``current_vin``) and its readings follow, a millisecond apart."""
        self.write({"current_vin": vin}, at)
        for k, (name, value) in enumerate(values.items()):
            self.write({name: value}, at + dt.timedelta(milliseconds=1 + k))
