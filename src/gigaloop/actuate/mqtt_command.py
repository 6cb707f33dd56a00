"""Actions to a plant over MQTT: Sparkplug B device commands (DCMD), at QoS 1.

The topics are the MQTT connector's (group = site, edge node = line, device =
station): a :class:`~gigaloop.actuate.SetpointChange` for a station becomes a ``DCMD``
on ``spBv1.0/{site}/DCMD/{line}/{station}`` with one metric, named as the parameter,
``Double``, valued the new setpoint: what a Sparkplug edge node writes to its tag. Other
actions go to one configured device (``actions_device``, by default
``spBv1.0/gigaloop/DCMD/loop/actions``) as one ``String`` metric ``action/{kind}`` that
holds :meth:`Action.to_json`. Every metric carries an ``action_id`` property (the
webhook's idempotency key), so an edge node can apply a command delivered twice once.

The payloads are Eclipse Tahu's, through ``tahutils`` (the ``gigaloop[service]`` extra),
as the MQTT connector reads them. A receipt is ``accepted`` once the broker acknowledged
the command (PUBACK): the edge node confirms by reporting the new value in its DDATA.
A command that raised (the broker away) may still be sent by paho when the connection
returns; its ``action_id`` lets the edge node apply it once.

    with MqttCommandActuator({"FRE-BIW-10": ("FRE", "FRE-BIW")}, port=1883) as actuator:
        actuator.apply(SetpointChange(day=3, station_id="FRE-BIW-10",
                                      parameter="weld_current", setpoint=11.0))
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any

from gigaloop.actuate import Action, Receipt, SetpointChange
from gigaloop.actuate.webhook import action_id
from gigaloop.errors import ActuationError, require

NAMESPACE = "spBv1.0"
DOUBLE, STRING = 10, 12  # Sparkplug B datatypes


def command_topic(group: str, edge: str, device: str) -> str:
    """``spBv1.0/{group}/DCMD/{edge}/{device}``.

    >>> command_topic("FRE", "FRE-BIW", "FRE-BIW-10")
    'spBv1.0/FRE/DCMD/FRE-BIW/FRE-BIW-10'
    """
    return f"{NAMESPACE}/{group}/DCMD/{edge}/{device}"


class MqttCommandActuator:
    """Publishes actions as DCMDs; ``stations`` maps a station to its (site, line).

    Connects on construction (or raises :class:`ActuationError` after ``timeout_s``),
    then keeps reconnecting as paho does; :meth:`apply` waits up to ``timeout_s`` for
    the broker's acknowledgement.
    """

    def __init__(self, stations: Mapping[str, tuple[str, str]], host: str = "127.0.0.1",
                 port: int = 1883, *, actions_device: tuple[str, str, str] = (
                     "gigaloop", "loop", "actions"), client_id: str | None = None,
                 username: str | None = None, password: str | None = None,
                 timeout_s: float = 10.0) -> None:
        mqtt = require("paho.mqtt.client", "service")
        self._spb = require("tahutils.tahu.sparkplug_b", "service")
        self.stations, self.actions_device = dict(stations), actions_device
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self._connected = threading.Event()
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                   client_id=client_id or f"gigaloop-cmd-{uuid.uuid4().hex[:8]}")
        if username is not None:
            self._client.username_pw_set(username, password)
        self._client.reconnect_delay_set(min_delay=1, max_delay=5)
        self._client.on_connect = lambda *args: self._connected.set()
        self._client.on_disconnect = lambda *args: self._connected.clear()
        self._client.connect_async(host, port)
        self._client.loop_start()
        if not self._connected.wait(timeout_s):
            self.close()
            raise ActuationError(f"no MQTT broker at {host}:{port}", host=host, port=port)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def __enter__(self) -> MqttCommandActuator:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def command(self, action: Action) -> tuple[str, bytes]:
        """The topic and Sparkplug B payload ``action`` is sent as."""
        payload = self._spb.Payload()
        payload.timestamp = int(time.time() * 1000)
        key = action_id(action)
        if isinstance(action, SetpointChange):
            if action.station_id not in self.stations:
                raise ActuationError(f"station {action.station_id!r} has no (site, line) "
                                     "to address its DCMD to", station=action.station_id)
            site, line = self.stations[action.station_id]
            topic = command_topic(site, line, action.station_id)
            metric = self._spb.addMetric(payload, action.parameter, None, DOUBLE,
                                         float(action.setpoint))
        else:
            topic = command_topic(*self.actions_device)
            metric = self._spb.addMetric(payload, f"action/{action.kind}", None, STRING,
                                         action.to_json())
        metric.properties.keys.append("action_id")
        holder = metric.properties.values.add()
        holder.type, holder.string_value = STRING, key
        return topic, payload.SerializeToString()

    def apply(self, action: Action) -> Receipt:
        """Publish ``action`` at QoS 1 and wait for the broker's acknowledgement."""
        topic, payload = self.command(action)
        info = self._client.publish(topic, payload, qos=1)
        try:
            info.wait_for_publish(self.timeout_s)
        except (RuntimeError, ValueError) as exc:  # paho: not connected / queue full
            raise ActuationError(f"DCMD to {topic} not sent: {exc}", topic=topic) from exc
        if not info.is_published():
            raise ActuationError(f"the broker did not acknowledge the DCMD to {topic} within "
                                 f"{self.timeout_s} s", topic=topic)
        return Receipt(True, f"PUBACK for {topic}")
