"""The OPC UA address-space convention gigaloop reads, and the browse that finds it.

A plant's server exposes its stations under a root folder (``Objects`` by default)::

    Objects/
      <site>/                     any Object or Folder (e.g. FRE)
        <line>/                   any Object or Folder (e.g. FRE-BIW)
          <station>/              an Object with a ``current_vin`` variable is a station
            current_vin           String: the VIN of the unit at the station now
            <parameter>           number → one process_readings row per unit
              unit                property (String): kA, ms, N·m … (a reading without
                                  one is quarantined: "unit: missing")
              machine_id          property (String), optional: the machine doing the work
              setpoint            property or variable (Double), optional: the setpoint in force
            machines/             Object or Folder, optional
              <machine_id>/       Object: one machine
                <column>          number → a machine_readings column (vibration_rms, …)

The browse names are the ids: ``station_id`` is the station's browse name, ``machine_id``
the machine's. A reading's VIN is the ``current_vin`` in force at its source timestamp,
so a PLC writes ``current_vin`` first, then the unit's parameters. Variables under a
machine whose name is not a ``machine_readings`` column are bound too, and every value
they send is quarantined ("unknown machine_readings column").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from gigaloop.errors import IngestError
from gigaloop.schema import get_table

CURRENT_VIN = "current_vin"
MACHINES = "machines"
PROPERTIES = frozenset({"unit", "machine_id", "setpoint"})
MACHINE_COLUMNS = frozenset(c.name for c in get_table("machine_readings").columns
                            if c.name != "machine_id")
MAX_DEPTH = 8

Kind = Literal["vin", "parameter", "setpoint", "machine", "unknown"]


@dataclass(frozen=True)
class Binding:
    """What one subscribed variable means: its kind, station and name.

    ``path`` is ``site/line/station`` (the connector's per-source counts use it);
    ``name`` is the parameter, the machine column or the unknown variable's name.
    """

    kind: Kind
    path: str
    station_id: str
    name: str = ""
    machine_id: str | None = None
    unit: str | None = None

    @property
    def source(self) -> str:
        return f"opcua:{self.path}"


@dataclass
class AddressSpace:
    """What a browse found: variables to subscribe (node id → binding), and each machine's
    columns (to know when a snapshot is complete)."""

    bindings: dict[Any, Binding] = field(default_factory=dict)
    machine_columns: dict[str, set[str]] = field(default_factory=dict)

    @property
    def stations(self) -> set[str]:
        return {b.path for b in self.bindings.values()}


async def browse(root: Any, max_depth: int = MAX_DEPTH) -> AddressSpace:
    """Every station under ``root`` (an asyncua ``Node``), per the module's convention."""
    space = AddressSpace()
    await _walk(root, [], space, max_depth)
    return space


async def find(objects: Any, path: tuple[str, ...]) -> Any:
    """The node at browse ``path`` (names, any namespace) below ``objects``."""
    node = objects
    for name in path:
        match = [child for child_name, child, _ in await _children(node) if child_name == name]
        if not match:
            raise IngestError(f"no node {name!r} below {'/'.join(('Objects', *path))}",
                              path="/".join(path))
        node = match[0]
    return node


async def _children(node: Any) -> list[tuple[str, Any, str]]:
    """(browse name, node, node class name) of ``node``'s hierarchical children."""
    from asyncua import Node, ua

    found = []
    for ref in await node.get_children_descriptions():
        if ref.BrowseName.NamespaceIndex == 0:  # the standard's own nodes (Server, …)
            continue
        found.append((ref.BrowseName.Name, Node(node.session, ref.NodeId),
                      ua.NodeClass(ref.NodeClass).name))
    return found


async def _walk(node: Any, path: list[str], space: AddressSpace, depth: int) -> None:
    children = await _children(node)
    names = {name: (child, kind) for name, child, kind in children}
    if CURRENT_VIN in names and names[CURRENT_VIN][1] == "Variable" and path:
        await _station(node, path, children, space)
        return
    if depth <= 0:
        return
    for name, child, kind in children:
        if kind == "Object":
            await _walk(child, [*path, name], space, depth - 1)


async def _station(node: Any, path: list[str], children: list[tuple[str, Any, str]],
                   space: AddressSpace) -> None:
    station = path[-1]
    where = "/".join(path)
    for name, child, kind in children:
        if kind == "Variable" and name == CURRENT_VIN:
            space.bindings[child.nodeid] = Binding("vin", where, station, name)
        elif kind == "Variable":
            properties = {n: (c, k) for n, c, k in await _children(child)}
            unit = await _read_text(properties.get("unit"))
            machine = await _read_text(properties.get("machine_id"))
            space.bindings[child.nodeid] = Binding("parameter", where, station, name, machine,
                                                   unit)
            if "setpoint" in properties:
                space.bindings[properties["setpoint"][0].nodeid] = Binding(
                    "setpoint", where, station, name, machine, unit)
        elif kind == "Object" and name == MACHINES:
            for machine_id, machine, machine_kind in await _children(child):
                if machine_kind != "Object":
                    continue
                columns = space.machine_columns.setdefault(machine_id, set())
                for column, variable, variable_kind in await _children(machine):
                    if variable_kind != "Variable":
                        continue
                    known = column in MACHINE_COLUMNS
                    if known:
                        columns.add(column)
                    space.bindings[variable.nodeid] = Binding(
                        "machine" if known else "unknown", where, station, column, machine_id)


async def _read_text(found: tuple[Any, str] | None) -> str | None:
    if found is None:
        return None
    value = await found[0].read_value()
    return None if value is None else str(value)
