"""What a configuration that cannot be used looks like: its problems, one (key path, message) each.

Kept apart from the loader so that a process which only reads its settings can
report a child's findings without importing the model (lobby/config/readonly.py).
"""

from __future__ import annotations

Problem = tuple[str, str]  # (key path, message)


class ConfigError(Exception):
    """The configuration is not usable; `problems` lists (key path, message) pairs."""

    def __init__(self, source: str, problems: list[Problem], places: dict[str, str] | None = None) -> None:
        self.source = source
        self.problems = problems
        self.places = places or {}  # key path -> 'line 34, meter "elec-lobby"' (entries of arrays)
        super().__init__(self.render())

    def described(self) -> list[str]:
        """One text per problem without the file name: where (for a device: its line and id), key, what."""
        out = []
        for path, message in self.problems:
            place = self.places.get(path)
            text = f"{path}: {message}" if path else message
            out.append(f"{place}: {text}" if place else text)
        return out

    def lines(self) -> list[str]:
        return [f"{self.source}: {text}" for text in self.described()]

    def render(self) -> str:
        return "\n".join(self.lines())


class ConfigUpdateRejected(Exception):
    """A pushed config cannot be used; the message says why (key paths included, never values)."""
