"""The app state's clock: naive UTC, as every time in gigaloop.

>>> utcnow().tzinfo is None
True
"""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, in UTC, without a time zone (microseconds kept)."""
    return datetime.now(UTC).replace(tzinfo=None)
