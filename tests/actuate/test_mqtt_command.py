"""The MQTT command actuator through a real Mosquitto: a subscriber decodes the DCMDs."""

from __future__ import annotations

import json
import queue
import time

import pytest

pytest.importorskip("tahutils")

from gigaloop.actuate import MaintenanceOrder, SetpointChange
from gigaloop.actuate.mqtt_command import MqttCommandActuator
from gigaloop.actuate.webhook import action_id
from gigaloop.errors import ActuationError

pytestmark = pytest.mark.service
STATIONS = {"FRE-BIW-10": ("FRE", "FRE-BIW")}


class Edge:
    """A subscriber to every DCMD, as an edge node would be: decoded (topic, metrics)."""

    def __init__(self, port: int) -> None:
        import paho.mqtt.client as mqtt
        from tahutils.tahu import sparkplug_b_pb2

        self.received: queue.Queue[tuple[str, list[dict]]] = queue.Queue()
        self._payload = sparkplug_b_pb2.Payload
        self._subscribed = queue.Queue()
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self._client.on_connect = lambda c, *a: c.subscribe("spBv1.0/+/DCMD/#", qos=1)
        self._client.on_subscribe = lambda *a: self._subscribed.put(True)
        self._client.on_message = self._on_message
        self._client.connect("127.0.0.1", port)
        self._client.loop_start()
        self._subscribed.get(timeout=5)

    def _on_message(self, client, userdata, message) -> None:
        payload = self._payload()
        payload.ParseFromString(message.payload)
        metrics = [{"name": m.name, "datatype": m.datatype,
                    "value": m.double_value if m.datatype == 10 else m.string_value,
                    **dict(zip(m.properties.keys, (v.string_value for v in
                                                   m.properties.values), strict=True))}
                   for m in payload.metrics]
        self.received.put((message.topic, metrics))

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def test_a_setpoint_change_is_a_dcmd_to_its_station(broker) -> None:
    edge = Edge(broker.port)
    change = SetpointChange(day=3, station_id="FRE-BIW-10", parameter="weld_current",
                            setpoint=11.5, reason="run-to-run")
    order = MaintenanceOrder(day=12, machine_id="FRE-BIW-10-M1", reason="RUL < 5 d")
    try:
        with MqttCommandActuator(STATIONS, port=broker.port) as actuator:
            assert actuator.apply(change).accepted
            assert actuator.apply(order).accepted
        topic, metrics = edge.received.get(timeout=5)
        assert topic == "spBv1.0/FRE/DCMD/FRE-BIW/FRE-BIW-10"
        assert metrics == [{"name": "weld_current", "datatype": 10, "value": 11.5,
                            "action_id": action_id(change)}]
        topic, (metric,) = edge.received.get(timeout=5)
        assert topic == "spBv1.0/gigaloop/DCMD/loop/actions"
        assert metric["name"] == "action/maintenance_order" and metric["datatype"] == 12
        assert json.loads(metric["value"])["machine_id"] == "FRE-BIW-10-M1"
        assert metric["action_id"] == action_id(order)
    finally:
        edge.close()


def test_an_unknown_station_or_a_broker_away_is_an_actuation_error(broker) -> None:
    change = SetpointChange(day=1, station_id="FRE-BIW-10", parameter="x", setpoint=1)
    with MqttCommandActuator(STATIONS, port=broker.port, timeout_s=1.0) as actuator:
        with pytest.raises(ActuationError, match="ST-99"):
            actuator.apply(SetpointChange(day=1, station_id="ST-99", parameter="x", setpoint=1))
        broker.stop()  # the broker goes away after the connection was made
        with pytest.raises(ActuationError, match="FRE-BIW-10"):
            actuator.apply(change)
    started = time.monotonic()
    with pytest.raises(ActuationError, match="no MQTT broker"):
        MqttCommandActuator(STATIONS, port=broker.port, timeout_s=0.5)
    assert time.monotonic() - started < 3
