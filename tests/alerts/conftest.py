"""Fixtures of the alert tests: a webhook receiver and an SMTP server, both real, on loopback
(module-scoped: started once per file; the webhook's record is cleared before each test)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from receivers import MailReceiver, WebhookReceiver, run_smtp, run_webhook


@pytest.fixture(scope="module")
def _webhook_server() -> Iterator[WebhookReceiver]:
    yield from run_webhook()


@pytest.fixture
def webhook(_webhook_server: WebhookReceiver) -> WebhookReceiver:
    _webhook_server.reset()
    return _webhook_server


@pytest.fixture(scope="module")
def smtp() -> Iterator[MailReceiver]:
    yield from run_smtp()
