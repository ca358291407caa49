"""What one answer may cost (decoded bytes, seconds), how bodies are decoded on the way in,
and what a token endpoint's broken answer may leave behind."""

from __future__ import annotations

import gzip
import zlib

import httpx
import orjson
import pytest
from client_fakes import CLIENT_ID, FakeServiceTitan, make_settings, ok

from servicetitan_pipeline.client import (
    InvalidResponseError,
    ResponseLimitError,
    ResponseLimits,
    RetriesExhaustedError,
    RetryPolicy,
)
from servicetitan_pipeline.client.transport import SecretScrubber

EXPORT = "/crm/v2/tenant/1234567/export/customers"
PAGE = {"hasMore": False, "continueFrom": "t1", "data": [{"id": i} for i in range(2000)]}
BODY = orjson.dumps(PAGE)


def encoded(encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.compress(BODY)
    if encoding == "deflate":  # the zlib wrapper, as RFC 9110 says
        return zlib.compress(BODY)
    if encoding == "raw-deflate":  # what many servers send as "deflate"
        squeeze = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        return squeeze.compress(BODY) + squeeze.flush()
    return BODY


def streamed(body: bytes, **headers: str) -> httpx.Response:
    """An answer whose body arrives in 1,000-byte chunks (not read in memory up front)."""
    chunks = iter([body[i : i + 1000] for i in range(0, len(body), 1000)])
    return httpx.Response(200, content=chunks, headers=headers)


@pytest.mark.parametrize("encoding", ["identity", "gzip", "deflate", "raw-deflate"])
def test_bodies_are_decoded_as_they_arrive(fake, encoding):
    header = {"raw-deflate": "deflate", "identity": None}.get(encoding, encoding)
    headers = {"Content-Encoding": header} if header else {}
    fake.api = lambda request: streamed(encoded(encoding), **headers)
    with fake.client() as client:
        (page,) = client.iter_export(EXPORT)
    assert page.data == PAGE["data"]
    assert page.raw_bytes_len == len(BODY)  # decoded size, as before streaming
    assert client.stats.bytes_received == len(BODY)


@pytest.mark.parametrize("body", [b"\x1f\x8b\x08\x00garbage", gzip.compress(BODY)[:-100]])
def test_a_corrupt_or_cut_gzip_body_is_retried_then_reported(fake, body):
    fake.api = lambda request: streamed(body, **{"Content-Encoding": "gzip"})
    client = fake.client(sleep=lambda s: None, retry_policy=RetryPolicy(max_attempts=2))
    with client, pytest.raises(RetriesExhaustedError, match="DecodingError"):
        list(client.iter_export(EXPORT))
    assert len(fake.requests) == 2


@pytest.mark.parametrize("encoding", ["identity", "gzip"])
def test_a_body_past_the_cap_is_refused_once(fake, encoding):
    headers = {"Content-Encoding": encoding} if encoding != "identity" else {}
    fake.api = lambda request: streamed(encoded(encoding), **headers)
    limits = ResponseLimits(max_body_bytes=len(BODY) - 1)
    with fake.client(response_limits=limits) as client, pytest.raises(ResponseLimitError) as e:
        list(client.iter_export(EXPORT))
    assert e.value.limit == "size" and e.value.path == EXPORT and e.value.status == 200
    assert len(fake.requests) == 1  # not retried


def test_a_body_at_the_cap_is_fine(fake):
    fake.api = lambda request: httpx.Response(200, content=BODY)
    with fake.client(response_limits=ResponseLimits(max_body_bytes=len(BODY))) as client:
        (page,) = client.iter_export(EXPORT)
    assert len(page.data) == 2000


class SteppingClock:
    """A monotonic clock that moves ``step`` seconds every time it is read."""

    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_an_attempt_past_the_deadline_is_not_retried(fake):
    chunks = [b'{"hasMore": false, ', b'"data": []}']
    fake.api = lambda request: httpx.Response(200, content=iter(chunks))
    clock = SteppingClock(step=1.0)
    limits = ResponseLimits(deadline_seconds=1.5)
    client = fake.client(response_limits=limits, clock=clock, retry_policy=RetryPolicy())
    with client, pytest.raises(ResponseLimitError, match=r"longer than 1\.5s") as caught:
        list(client.iter_export(EXPORT))
    assert caught.value.limit == "deadline"
    assert len(fake.requests) == 1


def test_a_token_in_a_truncated_token_answer_is_redacted_from_the_error(clock):
    leaked = "eyJ-LEAKED-TOKEN-in-a-cut-answer"
    fake = FakeServiceTitan(
        token=lambda request: httpx.Response(200, content=b'{"access_token": "' + leaked.encode())
    )
    client = fake.client(sleep=clock.sleep, clock=clock)
    with client, pytest.raises(InvalidResponseError) as caught:
        client.get_token()
    error = caught.value
    for text in (str(error), error.body, repr(error)):
        assert leaked not in text and leaked[:12] not in text
    assert '"access_token": "***' in error.body


def test_the_scrubber_knows_the_client_id(fake):
    fake.api = lambda request: ok({"detail": f"client {CLIENT_ID} is not allowed"})
    with fake.client() as client, pytest.raises(InvalidResponseError) as caught:
        list(client.iter_export(EXPORT))
    assert CLIENT_ID not in caught.value.body and CLIENT_ID not in str(caught.value)


def test_the_scrubber_redacts_credential_fields_and_learnt_tokens():
    scrubber = SecretScrubber(["cs1.secret-value"])
    scrubber.learn_tokens(b'{"token_type": "Bearer", "access_token": "eyJ-partial-tok')
    assert scrubber.scrub("Bearer eyJ-partial-tok failed") == "Bearer *** failed"
    assert scrubber.scrub('{"refresh_token":"abc", "x": 1}') == '{"refresh_token":"***", "x": 1}'
    assert scrubber.scrub('{"client_secret": "cut sho') == '{"client_secret": "***'
    assert scrubber.scrub("cs1.secret-value") == "***"


# --- the limits are settings: SERVICETITAN_MAX_RESPONSE_MB, SERVICETITAN_REQUEST_DEADLINE_SECONDS


def test_the_settings_give_the_client_its_limits(fake):
    # 0.01 MiB is 10,485 bytes; the page is larger. Strings, as from the environment.
    settings = make_settings(max_response_mb="0.01", request_deadline_seconds="1.5")
    fake.api = lambda request: streamed(BODY)
    with fake.client(settings) as client, pytest.raises(ResponseLimitError) as caught:
        list(client.iter_export(EXPORT))
    assert caught.value.limit == "size"
    assert f"more than {int(0.01 * 2**20)} bytes" in str(caught.value)
    assert client._transport.limits == ResponseLimits(int(0.01 * 2**20), 1.5)


def test_the_default_limits_are_256_mib_and_300_seconds(fake):
    with fake.client() as client:
        assert client._transport.limits == ResponseLimits(256 * 2**20, 300.0)


def test_a_body_past_the_cap_names_the_setting_to_raise(fake):
    fake.api = lambda request: streamed(encoded("gzip"), **{"Content-Encoding": "gzip"})
    settings = make_settings(max_response_mb=0.01)
    with fake.client(settings) as client, pytest.raises(ResponseLimitError) as caught:
        list(client.iter_export(EXPORT))
    message = str(caught.value)
    assert "raise SERVICETITAN_MAX_RESPONSE_MB / max_response_mb." in message
    assert "ResponseLimits" not in message


def test_an_attempt_past_the_deadline_names_the_setting_to_raise(fake):
    chunks = [b'{"hasMore": false, ', b'"data": []}']
    fake.api = lambda request: httpx.Response(200, content=iter(chunks))
    settings = make_settings(request_deadline_seconds=1.5)
    client = fake.client(settings, clock=SteppingClock(step=1.0))
    with client, pytest.raises(ResponseLimitError) as caught:
        list(client.iter_export(EXPORT))
    message = str(caught.value)
    assert "raise SERVICETITAN_REQUEST_DEADLINE_SECONDS / request_deadline_seconds" in message
    assert "ResponseLimits" not in message
