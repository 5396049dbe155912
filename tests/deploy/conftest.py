"""Fixtures for the deployment tests: a whole simulated lobby for `lobby doctor`; the release tarballs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from deploy_helpers import Site
from release_helpers import build_releases


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    s = Site(tmp_path).start()
    yield s
    s.stop()


@pytest.fixture(scope="session")
def releases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """N (1.0.0), N+1 (1.1.0) and a broken release: built once per session (release_helpers.py)."""
    return build_releases(tmp_path_factory)
