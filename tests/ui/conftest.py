"""UI tests: the real kiosk under Xvfb, driven with xdotool (see kiosk_driver.py).

Displays are started once per size and worker; each test module starts the app once
and navigates, rather than once per test.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator

import pytest
from kiosk_driver import Xvfb

pytestmark = pytest.mark.ui


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    missing = [tool for tool in ("Xvfb", "xdotool", "import") if shutil.which(tool) is None]
    for item in items:
        if "tests/ui/" in str(item.fspath):
            item.add_marker(pytest.mark.ui)
            if missing:
                item.add_marker(pytest.mark.skip(reason=f"needs {', '.join(missing)} (./dev.sh installs them)"))


@pytest.fixture(scope="session")
def display() -> Iterator[Callable[[int, int], Xvfb]]:
    """display(width, height): an Xvfb screen of that size, shared by the tests of this worker."""
    started: dict[tuple[int, int], Xvfb] = {}

    def get(width: int, height: int) -> Xvfb:
        if (width, height) not in started:
            started[(width, height)] = Xvfb(width, height).start()
        return started[(width, height)]

    yield get
    for x in started.values():
        x.stop()
