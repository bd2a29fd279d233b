"""services/atomic_files.py: the final name holds the old bytes or the new ones, never a part; no temp file stays."""

from __future__ import annotations

import os

import pytest

from services import atomic_files


def test_a_file_is_replaced_whole_with_its_mode_and_no_temp_left(tmp_path):
    target = tmp_path / "deep" / "note.json"
    atomic_files.write_atomic(target, b"first", sync_folder=True)
    atomic_files.write_atomic(target, b"second", mode=0o600)
    assert target.read_bytes() == b"second" and target.stat().st_mode & 0o777 == 0o600
    assert os.listdir(target.parent) == ["note.json"]


def test_a_write_that_fails_keeps_the_old_file_and_removes_its_temp(tmp_path, monkeypatch):
    target = tmp_path / "marker"
    atomic_files.write_atomic(target, b"old")

    def no_space(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic_files.os, "replace", no_space)
    with pytest.raises(OSError, match="No space"):
        atomic_files.write_atomic(target, b"new")
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["marker"]
