"""OAuth 2.0 client credentials with a cached token and single-flight refresh."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import httpx

from servicetitan_pipeline.client.errors import AuthenticationError, InvalidResponseError
from servicetitan_pipeline.client.settings import ConnectionSettings
from servicetitan_pipeline.client.transport import (
    Problem,
    RetryableFailure,
    Transport,
    is_retryable_status,
    parse_json_body,
    retryable_status_failure,
)

logger = logging.getLogger(__name__)

# Renew this long before `expires_in` runs out, so that a token never expires in flight (a large
# export page can take a while) and clock skew does not matter. ServiceTitan tokens live 900 s.
DEFAULT_REFRESH_MARGIN_SECONDS = 60.0


class TokenProvider:
    """Gets and caches the access token of one connection.

    ServiceTitan throttles its token endpoint and issues no refresh tokens, so the token is
    cached until ``refresh_margin_seconds`` before ``expires_in`` runs out. Refreshing is
    single-flight: when many threads find the token missing or stale at once, one of them asks
    for a new token while the others wait on the lock and then reuse it.

    Args:
        settings: the connection.
        transport: the connection's transport (retries, stats, pooled client).
        clock: monotonic clock (injectable for tests).
        refresh_margin_seconds: renew this long before expiry (capped at half the lifetime).
    """

    def __init__(
        self,
        settings: ConnectionSettings,
        transport: Transport,
        *,
        clock: Callable[[], float] = time.monotonic,
        refresh_margin_seconds: float = DEFAULT_REFRESH_MARGIN_SECONDS,
    ) -> None:
        self._settings = settings
        self._transport = transport
        self._clock = clock
        self._margin = refresh_margin_seconds
        self._lock = threading.Lock()
        # (token, renew_at) swapped as one tuple, so the lock-free read below is consistent.
        self._cached: tuple[str, float] | None = None

    def __repr__(self) -> str:
        return f"TokenProvider(auth_url={self._settings.auth_url!r})"

    def get_token(self) -> str:
        """A valid access token, fetched only when the cached one is missing or about to expire."""
        cached = self._cached
        if cached is not None and self._clock() < cached[1]:
            return cached[0]
        with self._lock:
            # Another thread may have refreshed while this one waited for the lock.
            cached = self._cached
            if cached is not None and self._clock() < cached[1]:
                return cached[0]
            token, lifetime = self._fetch()
            margin = min(self._margin, lifetime / 2)
            self._cached = (token, self._clock() + lifetime - margin)
            return token

    def invalidate(self, token: str) -> None:
        """Forget ``token`` after ServiceTitan refused it (401).

        Only that token: if another thread already replaced it, the new one is kept, so a burst
        of 401s on the old token still causes a single refresh.
        """
        with self._lock:
            if self._cached is not None and self._cached[0] == token:
                self._cached = None

    def _fetch(self) -> tuple[str, float]:
        s = self._settings
        where = f"for the {s.environment} environment at auth URL {s.auth_url}"

        def interpret(response: httpx.Response) -> tuple[str, float]:
            status = response.status_code
            if status == 200:
                try:
                    body = parse_json_body(response)
                except RetryableFailure:
                    # A body cut short may still hold a valid token: it must never be quoted.
                    self._transport.scrubber.learn_tokens(response.content)
                    raise
                token = body.get("access_token") if isinstance(body, dict) else None
                if not isinstance(token, str) or not token:
                    raise InvalidResponseError(
                        f"ServiceTitan's token endpoint {where} answered without an access_token",
                        body="(omitted: a token endpoint answer may hold credentials)",
                        method="POST",
                        path=s.auth_url,
                        status=status,
                    )
                self._transport.scrubber.add_token(token)
                try:
                    lifetime = float(body.get("expires_in", 900))
                except (TypeError, ValueError):
                    lifetime = 900.0
                return token, max(lifetime, 1.0)
            if is_retryable_status(status):
                raise retryable_status_failure(response)
            problem = Problem.from_response(response)
            if problem.error_code == "invalid_client" or status == 401:
                message = (
                    f"ServiceTitan rejected the client ID/secret {where} (HTTP {status}"
                    f"{', ' + problem.error_code if problem.error_code else ''}). Check "
                    f"{s.credential_label('client_id')} and {s.credential_label('client_secret')}, "
                    "and that they belong to this environment and tenant."
                )
            else:
                title = problem.title or problem.error_code or "no details"
                message = (
                    f"ServiceTitan's token endpoint {where} refused to issue a token "
                    f"(HTTP {status}): {title}"
                )
            if problem.trace_id:
                message += f" (traceId {problem.trace_id})"
            raise AuthenticationError(
                self._transport.scrubber.scrub(message),
                method="POST",
                path=s.auth_url,
                status=status,
                title=self._transport.scrubber.scrub(problem.title) if problem.title else None,
                trace_id=problem.trace_id,
            )

        token, lifetime = self._transport.send(
            "POST",
            s.auth_url,
            data={
                "grant_type": "client_credentials",
                "client_id": s.client_id,
                "client_secret": s.client_secret,
            },
            headers=lambda: {"Accept": "application/json"},
            interpret=interpret,
            is_token_request=True,
        )
        logger.debug("ServiceTitan access token for %r obtained (%ds)", s.name, lifetime)
        return token, lifetime
