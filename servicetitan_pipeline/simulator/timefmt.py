"""Timestamps as the simulator keeps them (integer milliseconds since the epoch, UTC) and sends
them (RFC 3339 with milliseconds and a ``Z``), plus the parsing of the dates clients send."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

MS_PER_HOUR = 3_600_000
MS_PER_DAY = 86_400_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_day_cache: dict[int, str] = {}
# "HH:MM:SS" of every second of a day (86,400 short strings, built once).
_HMS = tuple(f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86_400))
_MILLIS = tuple(f".{ms:03d}Z" for ms in range(1000))
_midnight_cache: dict[int, str] = {}
_day_start_cache: dict[str, int] = {}  # "2026-11-01" -> its midnight in epoch ms


def to_ms(value: datetime) -> int:
    """Milliseconds since the epoch of an aware datetime."""
    return (value - _EPOCH) // timedelta(milliseconds=1)


def iso(ms: int) -> str:
    """``2026-11-01T12:00:00.000Z`` for an epoch-milliseconds value.

    Formatting millions of timestamps at start-up is hot, so the date part is cached per day
    and the time part is plain integer arithmetic.
    """
    day, rest = divmod(ms, MS_PER_DAY)
    prefix = _day_cache.get(day)
    if prefix is None:
        prefix = (_EPOCH + timedelta(days=day)).strftime("%Y-%m-%dT")
        _day_cache[day] = prefix
    seconds, millis = divmod(rest, 1000)
    return prefix + _HMS[seconds] + _MILLIS[millis]


def iso_date(ms: int) -> str:
    """The midnight of a day as a date-time (``2026-11-01T00:00:00Z``), as invoice dates are."""
    day = ms // MS_PER_DAY
    text = _midnight_cache.get(day)
    if text is None:
        text = (_EPOCH + timedelta(days=day)).strftime("%Y-%m-%dT00:00:00Z")
        _midnight_cache[day] = text
    return text


def parse_client_datetime(text: str) -> int:
    """Parse a date or date-time query parameter (RFC 3339 / ISO 8601) to epoch milliseconds.

    Accepts ``2026-01-01``, ``2026-01-01T10:00:00``, ``...Z``, ``...+02:00`` and fractional
    seconds; a value without an offset is UTC, as ServiceTitan reads it.

    Raises:
        ValueError: the text is not a date.
    """
    fast = _parse_own_format(text)
    if fast is not None:
        return fast
    text = text.strip()
    if not text:
        raise ValueError("empty date")
    if len(text) == 10:
        parsed_date = date.fromisoformat(text)
        return to_ms(datetime(parsed_date.year, parsed_date.month, parsed_date.day, tzinfo=UTC))
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # Python 3.11 accepts at most 6 fractional digits; .NET clients send 7.
    if "." in text:
        head, _, tail = text.partition(".")
        digits = len(tail) - len(tail.lstrip("0123456789"))
        if digits > 6:
            text = head + "." + tail[:6] + tail[digits:]
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return to_ms(value)


def _parse_own_format(text: str) -> int | None:
    """Epoch ms of a timestamp in the simulator's own format (``2026-11-01T12:00:00.000Z``),
    parsed by slicing (the generator and the behaviours read millions of them back); ``None``
    for any other text, which the general parser then reads (or rejects)."""
    if (
        len(text) != 24
        or text[10] != "T"
        or text[13] != ":"
        or text[16] != ":"
        or text[19] != "."
        or text[23] != "Z"
    ):
        return None
    hours, minutes, seconds, millis = text[11:13], text[14:16], text[17:19], text[20:23]
    if not (hours.isdigit() and minutes.isdigit() and seconds.isdigit() and millis.isdigit()):
        return None
    h, m, sec = int(hours), int(minutes), int(seconds)
    if h > 23 or m > 59 or sec > 59:
        return None
    day = text[:10]
    start = _day_start_cache.get(day)
    if start is None:
        try:
            start = to_ms(datetime.combine(date.fromisoformat(day), time(), UTC))
        except ValueError:
            return None
        _day_start_cache[day] = start
    return start + h * MS_PER_HOUR + m * 60_000 + sec * 1000 + int(millis)
