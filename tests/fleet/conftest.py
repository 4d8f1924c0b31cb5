"""The fleet tests' session: one key pair and one set of labelled containers, removed at the end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers.fleet import Fleet, fleet_session


@pytest.fixture(scope="session")
def ssh_fleet() -> Iterator[Fleet]:
    yield from fleet_session()
