"""Fixtures of the client's unit tests."""

from __future__ import annotations

import pytest
from client_fakes import FakeClock, FakeServiceTitan


@pytest.fixture
def fake() -> FakeServiceTitan:
    return FakeServiceTitan()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
