"""The rate measures the telemetry carries: declared once, checked against the table."""

from __future__ import annotations

import pytest

from gigaloop.errors import SchemaError
from gigaloop.schema import RATE_MEASURES, RateMeasure, get_table
from gigaloop.schema.fleet import rate_measures


def test_the_declared_measures_name_numeric_telemetry_columns_once() -> None:
    telemetry = get_table("telemetry_daily")
    assert [m.mode for m in RATE_MEASURES] == ["battery_fade", "disengagement_rain"]
    for measure in RATE_MEASURES:
        for column in filter(None, (measure.value, measure.per)):
            assert telemetry.column(column).dtype in ("int64", "float64")


def test_the_measures_keep_their_thresholds_and_components() -> None:
    fade, rain = RATE_MEASURES
    assert (fade.is_trend, fade.min_exposure, fade.component) == (True, 30, "battery_pack")
    assert (rain.is_trend, rain.per, rain.min_exposure, rain.component) == (
        False, "rain_miles", 25.0, "camera")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"value": "fcw", "min_exposure": 1}, "no numeric column 'fcw'"),
    ({"value": "fcw_count", "per": "vin", "min_exposure": 1}, "no numeric column 'vin'"),
    ({"value": "miles", "per": "miles", "min_exposure": 1}, "per itself"),
    ({"value": "fcw_count", "per": "miles", "min_exposure": 0}, "must be positive"),
])
def test_a_bad_measure_is_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        RateMeasure(mode="fcw", **kwargs)


def test_a_mode_must_be_an_identifier_and_declared_once() -> None:
    with pytest.raises(SchemaError, match="lower-case identifier"):
        RateMeasure(mode="FCW rate", value="fcw_count", per="miles", min_exposure=1)
    with pytest.raises(SchemaError, match="declared twice: battery_fade"):
        rate_measures(*RATE_MEASURES, RATE_MEASURES[0])
