"""Issue #13, a local unprivileged user: root's tools never follow the lobby user's links."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lobby.cli.safefile import UnsafePath, secure


def test_secure_changes_a_regular_file_through_its_descriptor(tmp_path: Path) -> None:
    copy = tmp_path / "lobby-copy.db"
    copy.write_bytes(b"x")
    copy.chmod(0o644)
    secure(copy, 0o600, owner_of=tmp_path)
    assert copy.stat().st_mode & 0o777 == 0o600


def test_a_symlink_swapped_in_after_the_copy_is_never_followed(tmp_path: Path) -> None:
    victim = tmp_path / "shadow"
    victim.write_text("root's secret")
    victim.chmod(0o640)
    before = victim.stat()
    link = tmp_path / "backups" / "lobby-copy.db"
    link.parent.mkdir()
    os.symlink(victim, link)  # what the lobby user could put where root's copy lands
    with pytest.raises(UnsafePath, match="symlink"):
        secure(link, 0o600, owner_of=link.parent)
    after = victim.stat()
    assert (after.st_mode, after.st_uid, after.st_gid) == (before.st_mode, before.st_uid, before.st_gid)
