"""The watcher follows the path: ConfigMap symlink swaps, plain symlinks, a folder made again."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from confighub import ConfigChange, ConfigHub, SourceState
from confighub.sources import FileSource
from tests.support.edits import replace_file
from tests.support.observing import watch

GOOD = "tracepoints:\n  - {id: a, path: a.py, line: 1}\n"
EDITED = "tracepoints:\n  - {id: a, path: a.py, line: 2}\n"
AGAIN = "tracepoints:\n  - {id: a, path: a.py, line: 3}\n"
BAD = "tracepoints:\n  - {id: a, path: a.py, line: two}\n"
SETTLE_MS = 50  # what is tested here is which edits are seen, not the settling


def publish_configmap(folder: Path, text: str, version: str) -> Path:
    """Update ``folder`` as the kubelet updates a ConfigMap volume; return the new data folder.

    The files go to a new timestamped folder, then a new ``..data`` symlink to it is
    renamed over the old one: an atomic swap, which no event on ``tp.yaml`` itself tells.
    """
    data = folder / f"..{version}"
    data.mkdir()
    (data / "tp.yaml").write_text(text, encoding="utf-8")
    staged = folder / "..data_tmp"
    staged.symlink_to(data.name)
    os.replace(staged, folder / "..data")
    return data


def of_length(n: int) -> Callable[[list[ConfigChange]], bool]:
    return lambda items: len(items) == n


def lines(hub: ConfigHub) -> list[int]:
    return [tp.line for tp in hub.current_config]


def test_a_configmap_update_is_no_longer_missed(tmp_path: Path, hub: ConfigHub) -> None:
    """Swapping ``..data`` to a new folder reloads; so does the next swap, and a bad one reports."""
    folder = tmp_path / "config"
    folder.mkdir()
    first = publish_configmap(folder, GOOD, "2026_12_01_10_00_00.1")
    (folder / "tp.yaml").symlink_to("..data/tp.yaml")
    changes, statuses = watch(hub)
    with FileSource(folder / "tp.yaml", hub, debounce_ms=SETTLE_MS):
        second = publish_configmap(folder, EDITED, "2026_12_01_10_05_00.2")
        shutil.rmtree(first)
        changes.wait_for(lambda items: len(items) == 2, "the first ConfigMap update")
        assert lines(hub) == [2]

        publish_configmap(folder, BAD, "2026_12_01_10_10_00.3")
        shutil.rmtree(second)
        [*_, status] = statuses.wait_for(
            lambda items: items[-1].state is SourceState.INTERRUPTED, "the bad update reported"
        )
        assert "line" in str(status.error)
        assert lines(hub) == [2]


def test_an_in_place_edit_of_a_symlink_target_is_no_longer_missed(
    tmp_path: Path, hub: ConfigHub
) -> None:
    """An edit of the target in its own folder reloads; so does pointing the link elsewhere."""
    (tmp_path / "other").mkdir()
    (tmp_path / "third").mkdir()
    (tmp_path / "app").mkdir()
    target = tmp_path / "other" / "tp.yaml"
    target.write_text(GOOD, encoding="utf-8")
    link = tmp_path / "app" / "tp.yaml"
    link.symlink_to(target)
    changes, _ = watch(hub)
    with FileSource(link, hub, debounce_ms=SETTLE_MS):
        target.write_text(EDITED, encoding="utf-8")
        changes.wait_for(lambda items: len(items) == 2, "the edit of the target")
        assert lines(hub) == [2]

        elsewhere = tmp_path / "third" / "tp.yaml"
        elsewhere.write_text(AGAIN, encoding="utf-8")
        staged = tmp_path / "app" / "staged"
        staged.symlink_to(elsewhere)
        os.replace(staged, link)
        changes.wait_for(lambda items: len(items) == 3, "the link pointed elsewhere")
        assert lines(hub) == [3]

        target.write_text(BAD, encoding="utf-8")  # the old target no longer counts
        elsewhere.write_text(GOOD, encoding="utf-8")
        changes.wait_for(lambda items: len(items) == 4, "the edit of the new target")
    assert lines(hub) == [1]


def test_a_deleted_and_remade_folder_is_watched_again(tmp_path: Path, hub: ConfigHub) -> None:
    """Removing the file's folder reports the file gone; making it again reloads, twice over."""
    folder = tmp_path / "deploy" / "config"
    folder.mkdir(parents=True)
    path = folder / "tp.yaml"
    path.write_text(GOOD, encoding="utf-8")
    changes, statuses = watch(hub)
    with FileSource(path, hub, debounce_ms=SETTLE_MS):
        for number, text in enumerate([EDITED, AGAIN], start=1):
            shutil.rmtree(tmp_path / "deploy")
            [*_, status] = statuses.wait_for(
                lambda items: items[-1].state is SourceState.INTERRUPTED, "the folder gone"
            )
            assert "cannot read the file" in str(status.error)
            folder.mkdir(parents=True)
            replace_file(path, text)
            changes.wait_for(of_length(number + 1), "the file in the remade folder")
            assert hub.current_status.state is SourceState.VALID
    assert lines(hub) == [3]
