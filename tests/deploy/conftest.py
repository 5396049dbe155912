"""Fixtures for the deployment tests: a whole simulated lobby for `lobby doctor`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from deploy_helpers import Site


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    s = Site(tmp_path).start()
    yield s
    s.stop()
