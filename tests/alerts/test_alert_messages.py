"""The pure parts of alerting: redaction, error lines, the email's headers, stale episodes."""

from __future__ import annotations

from servicetitan_pipeline.alerts import (
    Alert,
    Redactor,
    StaleState,
    error_lines,
    evaluate_staleness,
)
from servicetitan_pipeline.alerts.messages import cleaned, email_message

HOUR = 3600.0


def test_every_secret_is_redacted_the_longest_first_and_short_values_are_not_secrets() -> None:
    redact = Redactor.of(["abcdef", "abcdefghij", "abc", None, ""])
    assert redact("x abcdefghij y abcdef z abc") == "x [redacted] y [redacted] z abc"
    assert "abcdef" not in repr(redact)


def test_error_lines_stop_at_the_stack_trace_and_drop_the_module_path() -> None:
    message = (
        "dagster._core.definitions.events.Failure: 2 of 69 entities failed (jobs, invoices)\n"
        "north-hvac (tenant 1): jobs: HTTP 503\n\n"
        "south-plumbing (tenant 2): invoices: HTTP 500\n"
        "Stack Trace:\n  File x.py, line 1\n"
    )
    assert error_lines(message) == [
        "Failure: 2 of 69 entities failed (jobs, invoices)",
        "north-hvac (tenant 1): jobs: HTTP 503",
        "south-plumbing (tenant 2): invoices: HTTP 500",
    ]
    many = "\n".join(f"tenant {n}" for n in range(20))
    assert error_lines(many, limit=3) == ["tenant 0", "tenant 1", "... and 18 more lines"]
    assert error_lines(None) == []


def test_a_title_is_one_line_so_the_subject_cannot_inject_headers() -> None:
    alert = cleaned(Alert("run_failure", "Run failed\r\nBcc: evil@example.com"), Redactor())
    message = email_message(alert, sender="a@example.com", recipients=["b@example.com"])
    assert message["Subject"] == "[servicetitan-pipeline] Run failed Bcc: evil@example.com"
    assert message["Bcc"] is None


def test_a_tenant_never_synced_is_stale_only_after_the_window_from_when_it_was_first_seen() -> None:
    pairs = {("east", "jobs"): None}
    first = evaluate_staleness(pairs, now=1000.0, max_age_hours=3, state=StaleState())
    assert first.stale == () and first.state.first_missing == {"east/jobs": 1000.0}
    # The state goes through the sensor's cursor (JSON) between ticks.
    state = StaleState.from_json(first.state.to_json())
    later = evaluate_staleness(pairs, now=1000.0 + 4 * HOUR, max_age_hours=3, state=state)
    (pair,) = later.newly_stale
    assert (pair.tenant, pair.entity, pair.last_sync) == ("east", "jobs", None)
    assert round(pair.age_hours, 1) == 4.0


def test_an_unreadable_cursor_is_a_fresh_start() -> None:
    for text in (None, "", "not json", "[1, 2]", '{"notified": 5}'):
        assert StaleState.from_json(text) == StaleState()
