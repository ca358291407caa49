"""Delivery to real receivers on loopback: the webhook's JSON, its retries and its bounds when
the receiver is down or slow, and the email as it arrives."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator

import pytest
from receivers import WEBHOOK_TOKEN, MailReceiver, WebhookReceiver, _free_port, run_smtp

from servicetitan_pipeline.alerts import Alert, AlertSettings, Notifier
from servicetitan_pipeline.alerts.mail import send_email
from servicetitan_pipeline.alerts.settings import WebhookSettings
from servicetitan_pipeline.alerts.webhook import post_webhook

# The login test's server takes AUTH without TLS, on loopback: aiosmtpd warns, rightly.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

ALERT = Alert(
    kind="run_failure",
    title="Run failed: servicetitan_sync",
    lines=("step servicetitan_ingestion: north-hvac: invoices: HTTP 503 <trace abc>",),
    link="http://127.0.0.1:3000/runs/r1",
)


def _smtp_env(smtp: MailReceiver, **more: str) -> dict[str, str]:
    return {
        "SERVICETITAN_ALERT_SMTP_HOST": "127.0.0.1",
        "SERVICETITAN_ALERT_SMTP_PORT": str(smtp.port),
        "SERVICETITAN_ALERT_SMTP_SECURITY": "plain",
        "SERVICETITAN_ALERT_EMAIL_FROM": "pipeline@example.com",
        "SERVICETITAN_ALERT_EMAIL_TO": "ops@example.com,owner@example.com",
        **more,
    }


def test_an_alert_posts_slack_json_and_the_url_stays_out_of_the_logs(
    webhook: WebhookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    settings = AlertSettings.from_env({"SERVICETITAN_ALERT_WEBHOOK_URL": webhook.url})
    with caplog.at_level(logging.DEBUG):
        (delivery,) = Notifier.of(settings).send(ALERT)
    assert delivery.ok and delivery.attempts == 1, delivery
    (post,) = webhook.posts
    assert webhook.paths == [f"/services/{WEBHOOK_TOKEN}"]
    text = post["text"]
    assert text.startswith("*Run failed: servicetitan_sync*\n")
    # Slack markup in the error is escaped; the link is Slack's <url|text>.
    assert "&lt;trace abc&gt;" in text
    assert text.endswith("<http://127.0.0.1:3000/runs/r1|Open in Dagster>")
    assert "blocks" not in post
    assert WEBHOOK_TOKEN not in caplog.text
    assert WEBHOOK_TOKEN not in repr(delivery)


def test_blocks_are_added_when_asked(webhook: WebhookReceiver) -> None:
    settings = AlertSettings.from_env(
        {
            "SERVICETITAN_ALERT_WEBHOOK_URL": webhook.url,
            "SERVICETITAN_ALERT_WEBHOOK_FORMAT": "blocks",
        }
    )
    Notifier.of(settings).send(ALERT)
    (post,) = webhook.posts
    kinds = [block["type"] for block in post["blocks"]]
    assert kinds == ["header", "section", "actions"]
    assert post["blocks"][2]["elements"][0]["url"] == "http://127.0.0.1:3000/runs/r1"
    assert post["text"]  # the fallback every receiver shows


def test_5xx_is_retried_and_the_alert_posted_once(webhook: WebhookReceiver) -> None:
    webhook.fail_next = 2
    waits: list[float] = []
    delivery = post_webhook(WebhookSettings(webhook.url), {"text": "hi"}, sleep=waits.append)
    assert delivery.ok and delivery.attempts == 3
    assert webhook.attempts == 3 and webhook.posts == [{"text": "hi"}]
    assert waits == [1.0, 2.0]


def test_a_4xx_is_not_retried(webhook: WebhookReceiver) -> None:
    webhook.fail_next, webhook.fail_status = 5, 404
    try:
        delivery = post_webhook(WebhookSettings(webhook.url), {"text": "hi"}, sleep=lambda s: None)
    finally:
        webhook.fail_status = 503
    assert not delivery.ok and delivery.attempts == 1
    assert delivery.detail == "answered HTTP 404"


def test_a_webhook_that_is_down_fails_fast_and_names_only_its_host() -> None:
    url = f"http://127.0.0.1:{_free_port()}/services/{WEBHOOK_TOKEN}"
    started = time.monotonic()
    delivery = post_webhook(WebhookSettings(url), {"text": "hi"})
    assert time.monotonic() - started < 10
    assert not delivery.ok and delivery.attempts == 3
    assert delivery.channel == "webhook (127.0.0.1)"
    assert "could not be reached (ConnectError)" in delivery.detail
    assert WEBHOOK_TOKEN not in repr(delivery)


def test_a_slow_webhook_is_cut_off_at_the_deadline(webhook: WebhookReceiver) -> None:
    webhook.delay_seconds = 5.0
    started = time.monotonic()
    delivery = post_webhook(WebhookSettings(webhook.url), {"text": "hi"}, deadline_seconds=1.5)
    elapsed = time.monotonic() - started
    assert elapsed < 3.0, elapsed
    assert not delivery.ok and "timed out" in delivery.detail


def test_an_email_arrives_with_subject_and_body(
    smtp: MailReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = len(smtp.messages)
    settings = AlertSettings.from_env(_smtp_env(smtp))
    (delivery,) = Notifier.of(settings).send(ALERT)
    assert delivery.ok, delivery
    message = smtp.wait_for(before + 1)[before]
    assert message["Subject"] == "[servicetitan-pipeline] Run failed: servicetitan_sync"
    assert message["From"] == "pipeline@example.com"
    body = message.get_content()
    assert "north-hvac: invoices: HTTP 503 <trace abc>" in body
    assert "Open in Dagster: http://127.0.0.1:3000/runs/r1" in body
    assert smtp.envelopes[before] == (
        "pipeline@example.com",
        ["ops@example.com", "owner@example.com"],
    )


@pytest.fixture(scope="module")
def smtp_with_login() -> Iterator[MailReceiver]:
    yield from run_smtp(login=("pipeline", "smtp-pass-987654"))


def test_the_login_reads_the_password_from_the_named_variable(
    smtp_with_login: MailReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    environ = _smtp_env(
        smtp_with_login,
        SERVICETITAN_ALERT_SMTP_USER="pipeline",
        SERVICETITAN_ALERT_SMTP_PASSWORD_ENV="ALERTS_SMTP_PASSWORD",
    )
    settings = AlertSettings.from_env(environ)
    monkeypatch.delenv("ALERTS_SMTP_PASSWORD", raising=False)
    (missing,) = Notifier.of(settings).send(ALERT)
    assert not missing.ok and "set ALERTS_SMTP_PASSWORD" in missing.detail
    monkeypatch.setenv("ALERTS_SMTP_PASSWORD", "smtp-pass-987654")
    (sent,) = Notifier.of(settings).send(ALERT)
    assert sent.ok, sent
    (message,) = smtp_with_login.wait_for(1)
    assert "smtp-pass-987654" not in message.as_string()


def test_a_mail_server_that_is_down_is_a_failed_delivery_not_an_exception() -> None:
    settings = AlertSettings.from_env(
        {
            "SERVICETITAN_ALERT_SMTP_HOST": "127.0.0.1",
            "SERVICETITAN_ALERT_SMTP_PORT": str(_free_port()),
            "SERVICETITAN_ALERT_SMTP_SECURITY": "plain",
            "SERVICETITAN_ALERT_EMAIL_FROM": "pipeline@example.com",
            "SERVICETITAN_ALERT_EMAIL_TO": "ops@example.com",
        }
    )
    (delivery,) = Notifier.of(settings).send(ALERT)
    assert not delivery.ok and "ConnectionRefusedError" in delivery.detail


def test_a_mail_server_that_never_answers_is_cut_off_at_the_deadline(smtp: MailReceiver) -> None:
    # A listening socket nobody accepts from: the connection is made, no greeting ever comes.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        environ = _smtp_env(smtp, SERVICETITAN_ALERT_SMTP_PORT=str(silent.getsockname()[1]))
        settings = AlertSettings.from_env(environ)
        assert settings.smtp is not None
        started = time.monotonic()
        delivery = send_email(settings.smtp, ALERT, deadline_seconds=1.0)
        elapsed = time.monotonic() - started
    assert elapsed < 2.5, elapsed
    assert not delivery.ok and delivery.detail == "gave up at the 1 s deadline"
