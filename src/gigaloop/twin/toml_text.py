"""TOML text of a scenario-shaped dict (the standard library reads TOML but cannot write it).

Tables of scalars become ``[name]``, lists of tables ``[[name]]``; nested tables in an
array entry (a fault's ``finding``) follow as ``[name.key]``, other dicts are inline.
TOML has no null: a key whose value is ``None`` is left out.

>>> print(toml_text({"scenario": {"name": "x", "start_date": "2025-01-06"},
...                  "faults": [{"id": "f", "where": {"lot": "L-1"}, "effect": {"m": 2.0},
...                              "finding": {"names": {"lot": ["L-1", "L-2"]}}}]}))
[scenario]
name = "x"
start_date = 2025-01-06
<BLANKLINE>
[[faults]]
id = "f"
where = { lot = "L-1" }
effect = { m = 2.0 }
[faults.finding]
names = { lot = ["L-1", "L-2"] }
<BLANKLINE>
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import Any

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: Keys whose dict value is written as a sub-table of its array entry, not inline.
SUB_TABLES = ("finding",)


def toml_text(doc: dict[str, Any]) -> str:
    """``doc`` as TOML: top-level dicts as tables, lists of dicts as arrays of tables."""
    out: list[str] = []
    for name, value in doc.items():
        entries = value if isinstance(value, list) else [value]
        for entry in entries:
            entry = {k: v for k, v in entry.items() if v is not None}
            out.append(f"[[{name}]]" if isinstance(value, list) else f"[{name}]")
            subs = {k: v for k, v in entry.items() if k in SUB_TABLES and isinstance(v, dict)}
            out += [f"{k} = {_value(v)}" for k, v in entry.items() if k not in subs]
            for key, sub in subs.items():
                out.append(f"[{name}.{key}]")
                out += [f"{k} = {_value(v)}" for k, v in sub.items()]
            out.append("")
    return "\n".join(out)


def _value(value: Any) -> str:
    """One TOML value; a date (as ``tomllib`` reads one) is a local date again.

    >>> _value(date(2025, 1, 6)), _value([1, 2.5, "a"])
    ('2025-01-06', '[1, 2.5, "a"]')
    """
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value if _DATE.match(value) else json.dumps(value, ensure_ascii=False)
    if isinstance(value, int | float):
        return repr(float(value)) if isinstance(value, float) else str(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")
