"""Timestamps out (RFC 3339, milliseconds, Z) and in (the dates clients send)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from servicetitan_pipeline.simulator.timefmt import iso, iso_date, parse_client_datetime, to_ms


def test_iso_round_trips_and_matches_datetime() -> None:
    for ms in (0, 1_700_000_000_123, 1_764_590_400_999, 951_782_400_000):  # incl. 2000-02-29
        expected = datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        assert iso(ms) == expected + f"{ms % 1000:03d}Z"
        assert parse_client_datetime(iso(ms)) == ms
    assert iso_date(1_700_000_000_123) == "2023-11-14T00:00:00Z"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-01", datetime(2026, 1, 1, tzinfo=UTC)),
        ("2026-01-01T10:00:00", datetime(2026, 1, 1, 10, tzinfo=UTC)),
        ("2026-01-01T10:00:00Z", datetime(2026, 1, 1, 10, tzinfo=UTC)),
        ("2026-01-01T12:00:00+02:00", datetime(2026, 1, 1, 10, tzinfo=UTC)),
        ("2026-01-01T10:00:00.1234567Z", datetime(2026, 1, 1, 10, 0, 0, 123456, tzinfo=UTC)),
    ],
)
def test_client_dates(text: str, expected: datetime) -> None:
    assert parse_client_datetime(text) == to_ms(expected)


def test_the_simulators_own_format_parses_like_any_date() -> None:
    for ms in range(1_700_000_000_000, 1_700_000_000_000 + 400 * 86_400_000, 7_777_777_777):
        text = iso(ms)
        assert parse_client_datetime(text) == ms == to_ms(datetime.fromisoformat(text))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "2026-13-01",
        "2026-01-01T25:00:00Z",
        "2026-01-01T25:00:00.000Z",
        "2026-02-30T10:00:00.000Z",
        "2026-01-01T+1:00:00.000Z",
        "2026-01-01T10:61:00.000Z",
    ],
)
def test_bad_client_dates(text: str) -> None:
    with pytest.raises(ValueError):
        parse_client_datetime(text)
