"""One local stack (moto, sandboxes, HTTP API, workers) shared by the e2e tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from local.stack import LocalStack

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    with LocalStack(ROOT, api_port=0) as running:
        yield running
