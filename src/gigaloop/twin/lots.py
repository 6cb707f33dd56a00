"""Supply: lots of each part, consumed in sequence, from suppliers in a fixed mix.

Suppliers take turns by smooth weighted round-robin over their shares, so the lot ids a
scenario produces (``CELL-SUPB-0008`` is supplier SUPB's 8th cell lot) depend only on the
scenario and the order units are built, never on a random draw.

>>> from gigaloop.twin.scenario import load_scenario
>>> supply = Supply(load_scenario().parts, units_per_day=80)
>>> lots, new = supply.assign(5)
>>> lots["BAT-CELL-4680"][:2].tolist(), new[0].lot_id, new[0].quantity
(['CELL-SUPA-0001', 'CELL-SUPA-0001'], 'CELL-SUPA-0001', 120)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gigaloop.twin.scenario import Part


@dataclass(frozen=True)
class Lot:
    lot_id: str
    part_number: str
    supplier_id: str
    quantity: int
    first_unit: int  # position, in this call's units, of the first unit that used it


class _PartSupply:
    def __init__(self, part: Part, units_per_day: int) -> None:
        self.part = part
        self.quantity = max(1, round(part.lot_size_days * units_per_day))
        self.shares = dict(part.shares)
        self.credit = dict.fromkeys(part.shares, 0.0)
        self.count = dict.fromkeys(part.shares, 0)
        self.revisions = dict(part.revisions)
        self.lot_id = ""
        self.supplier = ""
        self.left = 0

    def next_lot(self, contained: set[str]) -> None:
        while True:
            total = sum(self.shares.values())
            for supplier, share in self.shares.items():
                self.credit[supplier] += share
            supplier = max(self.shares, key=lambda s: self.credit[s])
            self.credit[supplier] -= total
            self.count[supplier] += 1
            lot_id = f"{self.part.lot_prefix}-{supplier}-{self.count[supplier]:04d}"
            if lot_id not in contained:
                self.lot_id, self.supplier, self.left = lot_id, supplier, self.quantity
                return


class Supply:
    """Hands out one lot of every part to each unit, in build order."""

    def __init__(self, parts: list[Part], *, units_per_day: int) -> None:
        self._parts = {p.part_number: _PartSupply(p, units_per_day) for p in parts}
        self.contained: set[str] = set()
        self.scrapped = 0  # parts of lots in use when they were contained or dropped

    @property
    def part_numbers(self) -> list[str]:
        return list(self._parts)

    def assign(self, n_units: int) -> tuple[dict[str, np.ndarray], list[Lot]]:
        """Lots (by part number) for the next ``n_units`` units, and lots opened for them."""
        assigned: dict[str, np.ndarray] = {}
        opened: list[Lot] = []
        for number, supply in self._parts.items():
            ids = np.empty(n_units, dtype=object)
            done = 0
            while done < n_units:
                if supply.left == 0:
                    supply.next_lot(self.contained)
                    opened.append(Lot(supply.lot_id, number, supply.supplier, supply.quantity,
                                      done))
                take = min(supply.left, n_units - done)
                ids[done:done + take] = supply.lot_id
                supply.left -= take
                done += take
            assigned[number] = ids
        return assigned, opened

    def revision_of(self, lot_ids: np.ndarray) -> np.ndarray:
        """Hardware revision of each unit from the lot of the part that carries revisions."""
        for supply in self._parts.values():
            if supply.revisions:
                suppliers = np.array([lot.split("-")[1] for lot in lot_ids], dtype=object)
                return np.array([supply.revisions[s] for s in suppliers], dtype=object)
        return np.full(len(lot_ids), "HW-1", dtype=object)

    @property
    def revision_part(self) -> str | None:
        for number, supply in self._parts.items():
            if supply.revisions:
                return number
        return None

    def contain(self, lot_id: str) -> str:
        """Stop using ``lot_id``: if it is in use, its remaining units are not used."""
        self.contained.add(lot_id)
        for supply in self._parts.values():
            if supply.lot_id == lot_id:
                self.scrapped += supply.left
                left, supply.left = supply.left, 0
                return f"in use: its remaining {left} units scrapped"
        return "not in use: it will be skipped"

    def drop_supplier(self, supplier_id: str) -> list[str]:
        """Stop ordering from a supplier (where another supplier can take its share)."""
        dropped = []
        for number, supply in self._parts.items():
            if supplier_id in supply.shares and len(supply.shares) > 1:
                del supply.shares[supplier_id]
                del supply.credit[supplier_id]
                if supply.supplier == supplier_id:
                    self.scrapped += supply.left
                    supply.left = 0
                dropped.append(number)
        return dropped

    def retire_revision(self, revision: str, successor: str) -> bool:
        """From now on, lots that carried ``revision`` carry ``successor``."""
        for supply in self._parts.values():
            for supplier, rev in supply.revisions.items():
                if rev == revision:
                    supply.revisions[supplier] = successor
                    return True
        return False
