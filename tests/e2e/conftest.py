"""A local stack (moto, sandboxes, HTTP API, workers) per e2e module; stopping it restores the environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from local.stack import LocalStack

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(ROOT, api_port=0) as running:
        yield running
