"""Real alert receivers on loopback: a webhook (stdlib ``http.server`` in a thread) that records
every JSON post, and an SMTP server (``aiosmtpd``) that records every message.

The webhook can be told to answer a status a number of times (``fail_next``), or to wait
before answering (``delay_seconds``): a receiver that is down or slow.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

# What a real Slack incoming-webhook URL looks like: the path is the token.
WEBHOOK_TOKEN = "T00000000/B00000000/XXXXalertsTOKENxxxxxxxx"


@dataclass
class WebhookReceiver:
    """The recorded posts and the knobs of the running webhook."""

    port: int
    posts: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    attempts: int = 0
    fail_next: int = 0
    fail_status: int = 503
    delay_seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/services/{WEBHOOK_TOKEN}"

    def reset(self) -> None:
        with self.lock:
            self.posts.clear()
            self.paths.clear()
            self.attempts = 0
            self.fail_next = 0
            self.delay_seconds = 0.0


def _handler(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            with receiver.lock:
                receiver.attempts += 1
                failing = receiver.fail_next > 0
                if failing:
                    receiver.fail_next -= 1
                delay = receiver.delay_seconds
            if delay:
                time.sleep(delay)
            if failing:
                self._answer(receiver.fail_status)
                return
            with receiver.lock:
                receiver.posts.append(json.loads(raw))
                receiver.paths.append(self.path)
            self._answer(200, b"ok")

        def _answer(self, status: int, body: bytes = b"") -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (the slow-receiver test)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: the test output is the assertions'

    return Handler


def run_webhook() -> Iterator[WebhookReceiver]:
    """A webhook receiver on 127.0.0.1 (a free port) for as long as the generator lives."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    receiver = WebhookReceiver(port=server.server_address[1])
    server.RequestHandlerClass = _handler(receiver)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class MailReceiver:
    """The messages the SMTP server accepted, parsed, and who they were sent to."""

    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages


class _Recorder:
    def __init__(self, receiver: MailReceiver) -> None:
        self.receiver = receiver

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.receiver.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.receiver.messages.append(message)
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_smtp(login: tuple[str, str] | None = None) -> Iterator[MailReceiver]:
    """An SMTP server on 127.0.0.1 (a free port) for as long as the generator lives; with
    ``login`` it requires AUTH with that user and password (over plain loopback)."""
    receiver = MailReceiver(port=_free_port())
    options: dict[str, Any] = {}
    if login is not None:

        def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth: Any):
            ok = (auth.login, auth.password) == (login[0].encode(), login[1].encode())
            return AuthResult(success=ok)

        # Loopback only, so no TLS (aiosmtpd warns about exactly that).
        options = {"authenticator": authenticate, "auth_required": True}
        options["auth_require_tls"] = False
    controller = Controller(
        _Recorder(receiver), hostname="127.0.0.1", port=receiver.port, **options
    )
    controller.start()
    try:
        yield receiver
    finally:
        controller.stop()
