"""What marketing may see: pseudonyms instead of customer ids and VINs.

A pseudonym is a keyed hash (HMAC-SHA-256 with the server's pseudonym key, 80 bits shown),
so it is stable — the same customer always gets the same one, and marketing can join
its own tables on it — but cannot be turned back into the id without the key.

>>> pseudonyms = Pseudonyms(b"k" * 32)
>>> row = {"customer_id": "CU-0001", "vin": "5YJ3", "region": "TX"}
>>> shown = pseudonyms.present([row], Role.marketing_analyst)[0]
>>> shown["customer_id"].startswith("cu_"), shown["vin"].startswith("veh_"), shown["region"]
(True, True, 'TX')
>>> pseudonyms.present([row], Role.fleet_operations)[0] == row
True
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Iterable
from typing import Any

from gigaloop.appstate import Role

#: Roles that see pseudonyms only.
PSEUDONYMOUS_ROLES = frozenset({Role.marketing_analyst})
#: Columns hidden behind a pseudonym, and the prefix of theirs.
PSEUDONYMISED = {"customer_id": "cu_", "vin": "veh_", "first_vin": "veh_"}
LISTS = {"vins": "veh_"}


class Pseudonyms:
    """Keyed pseudonyms of customer ids and VINs, and the rows a role may see."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("a pseudonym key has at least 32 bytes")
        self._key = key

    def of(self, value: str, prefix: str = "cu_") -> str:
        """The pseudonym of ``value`` (``prefix`` says what kind of id it hides)."""
        digest = hmac.new(self._key, f"{prefix}{value}".encode(), hashlib.sha256).hexdigest()
        return prefix + digest[:20]

    def present(self, rows: Iterable[dict[str, Any]], role: Role) -> list[dict[str, Any]]:
        """``rows`` as ``role`` may see them: ids pseudonymised for marketing; NaN → None."""
        hide = role in PSEUDONYMOUS_ROLES
        return [self._row(row, hide) for row in rows]

    def _row(self, row: dict[str, Any], hide: bool) -> dict[str, Any]:
        return {key: self._value(key, value, hide) for key, value in row.items()}

    def _value(self, key: str, value: Any, hide: bool) -> Any:
        if hide and value is not None:
            if key in PSEUDONYMISED:
                return self.of(str(value), PSEUDONYMISED[key])
            if key in LISTS:
                return [self.of(str(v), LISTS[key]) for v in value]
        if isinstance(value, dict):
            return self._row(value, hide)
        if isinstance(value, list | tuple):
            return [self._row(v, hide) if isinstance(v, dict) else clean(v) for v in value]
        return clean(value)


def clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become None, inside lists and dicts too.

    >>> clean({"a": [1.0, float("nan")], "b": float("inf")})
    {'a': [1.0, None], 'b': None}
    """
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value
