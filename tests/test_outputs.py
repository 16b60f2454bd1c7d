"""``outputs.publish_folder``: the one "publish atomically, manifest last" (the render core's
output folder and LocalStorage both use it)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from videogen.errors import StorageError
from videogen.outputs import FILES, MANIFEST, publish_folder


def _staged(folder: Path, content: str) -> Path:
    folder.mkdir()
    for name in FILES:
        (folder / name).write_text(content)
    return folder


def test_a_new_folder_appears_whole_an_existing_one_gets_the_manifest_last(tmp_path, monkeypatch):
    target = tmp_path / "out"
    assert publish_folder(_staged(tmp_path / "a", "first"), target)
    assert not (tmp_path / "a").exists(), "one rename"
    replaced: list[str] = []
    real_replace = os.replace
    monkeypatch.setattr(os, "replace", lambda src, dst: (replaced.append(Path(dst).name), real_replace(src, dst)))
    assert not publish_folder(_staged(tmp_path / "b", "second"), target, replace=False)
    assert replaced == [] and (target / "video.mp4").read_text() == "first", "an existing set is kept"
    assert publish_folder(tmp_path / "b", target)
    assert replaced == list(FILES) and replaced[-1] == MANIFEST
    assert all((target / n).read_text() == "second" for n in FILES)


def test_a_failure_is_a_storage_error_naming_what_was_published(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    incomplete = tmp_path / "staging"
    incomplete.mkdir()
    with pytest.raises(StorageError, match=r"^could not publish abc: "):
        publish_folder(incomplete, target, name="abc")
    with pytest.raises(StorageError, match=f"could not publish {target}: "):
        publish_folder(incomplete, target)
