"""FileSource: the initial load, reloads on edit, and bad edits that keep the last good config."""

from __future__ import annotations

from pathlib import Path

import pytest

from confighub import ConfigHub, SourceState, TracePointFileError
from confighub._internal.text import short_hash
from confighub.sources import FileSource
from tests.support.edits import replace_file
from tests.support.observing import watch
from tests.support.threads import alive, started_since

GOOD = """\
tracepoints:
  - id: checkout-total
    path: shop/checkout.py
    line: 42
    args: {fire_count: "-1"}
"""
EDITED = """\
tracepoints:
  - id: checkout-total
    path: shop/checkout.py
    line: 44
  - path: shop/cart.py
    line: 7
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "tracepoints.yaml"
    path.write_text(GOOD, encoding="utf-8")
    return path


def test_start_loads_the_file(config_file: Path, hub: ConfigHub) -> None:
    """start() applies the file's tracepoints at once, under their config hash; stop() is OFF."""
    changes, statuses = watch(hub)
    with FileSource(config_file, hub):
        [change] = changes.items
        assert [tp.id for tp in change.new] == ["checkout-total"]
        assert change.new[0].fire_count == -1
        assert hub.current_status.state is SourceState.VALID
    assert [s.state for s in statuses.items] == [
        SourceState.INITIALIZING,
        SourceState.VALID,
        SourceState.OFF,
    ]


def test_an_edit_is_applied(config_file: Path, hub: ConfigHub) -> None:
    """Replacing the file publishes one change from the old config to the edited one."""
    changes, _ = watch(hub)
    with FileSource(config_file, hub):
        replace_file(config_file, EDITED)
        changes.wait_for(lambda items: len(items) == 2, "the edited config")
    assert [tp.id for tp in changes.items[1].new] == ["checkout-total", "shop/cart.py:7"]
    assert changes.items[1].old_hash == changes.items[0].new_hash


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("tracepoints: [\n  {path: a.py\n", 3, "invalid YAML"),
        ("", None, "the file is empty"),
        ("- just\n- a list\n", 1, "expected a mapping"),
        ("tracepoints:\n  - path: a.py\n    line: 3\n    args: {stage: soon}\n", 2, "args.stage"),
        ("tracepoints:\n  - {path: a.py, line: 3, args: {fire_count: '-2'}}\n", 2, "fire_count"),
        ("tracepoints:\n  - {path: a.py, line: three}\n", 2, "'line'"),
    ],
    ids=["invalid-yaml", "empty", "not-a-mapping", "bad-stage", "fire-count", "line-not-int"],
)
def test_a_bad_edit_keeps_the_last_good_config(
    config_file: Path, hub: ConfigHub, text: str, line: int | None, reason: str
) -> None:
    """A bad edit reports file, line and reason on status; the next good edit is VALID again."""
    changes, statuses = watch(hub)
    with FileSource(config_file, hub) as source:
        good = hub.current_hash
        replace_file(config_file, text)
        [*_, status] = statuses.wait_for(
            lambda items: items[-1].state is SourceState.INTERRUPTED, "the bad edit on status"
        )
        error = status.error
        assert isinstance(error, TracePointFileError)
        assert (error.path, error.line) == (str(config_file), line)
        assert reason in error.reason
        assert f"kept the last good config, hash {short_hash(good)}" in str(error)
        assert source.last_error is error
        assert hub.current_hash == good
        assert len(changes.items) == 1

        replace_file(config_file, EDITED)
        statuses.wait_for(lambda items: items[-1].state is SourceState.VALID, "VALID again")
        changes.wait_for(lambda items: len(items) == 2, "the good edit")
        assert source.last_error is None
    assert [tp.line for tp in hub.current_config] == [44, 7]


def test_reverting_a_bad_edit_is_valid_without_a_change(config_file: Path, hub: ConfigHub) -> None:
    """Putting back the last good text makes the hub VALID again and publishes no change."""
    changes, statuses = watch(hub)
    with FileSource(config_file, hub):
        replace_file(config_file, "tracepoints: 3\n")
        statuses.wait_for(lambda items: items[-1].state is SourceState.INTERRUPTED, "the bad edit")
        replace_file(config_file, GOOD)
        statuses.wait_for(lambda items: items[-1].state is SourceState.VALID, "VALID again")
    assert len(changes.items) == 1


def test_a_bad_initial_file_raises_from_start(config_file: Path, hub: ConfigHub) -> None:
    """start() raises for a bad file and applies nothing; once fixed, start() works and watches."""
    config_file.write_text("tracepoints:\n  - {path: '', line: 1}\n", encoding="utf-8")
    source = FileSource(config_file, hub)
    before = alive()
    with pytest.raises(TracePointFileError) as caught:
        source.start()
    assert caught.value.line == 2
    assert hub.current_config == ()
    assert hub.current_status.state is SourceState.INITIALIZING
    assert not [t for t in started_since(before) if t.name.startswith("confighub-watch")]

    changes, _ = watch(hub)
    config_file.write_text(GOOD, encoding="utf-8")
    with source:
        replace_file(config_file, EDITED)
        changes.wait_for(lambda items: len(items) == 2, "the edit after a retried start")


def test_reload_raises_and_reports_a_removed_file(config_file: Path, hub: ConfigHub) -> None:
    """reload() of a file that is gone raises, keeps the config and reports INTERRUPTED."""
    _, statuses = watch(hub)
    source = FileSource(config_file, hub).start()
    try:
        good = hub.current_config
        config_file.unlink()
        with pytest.raises(TracePointFileError, match="cannot read the file"):
            source.reload()
        statuses.wait_for(lambda items: items[-1].state is SourceState.INTERRUPTED, "the removal")
        assert hub.current_config == good
        config_file.write_text(EDITED, encoding="utf-8")
        source.reload()
        assert hub.current_status.state is SourceState.VALID
    finally:
        source.stop()
    assert statuses.items[-1].state is SourceState.OFF


def test_a_stopped_source_does_not_start_again(config_file: Path, hub: ConfigHub) -> None:
    """start() after stop() raises rather than silently not watching."""
    source = FileSource(config_file, hub).start()
    source.stop()
    with pytest.raises(RuntimeError, match="create a new one"):
        source.start()


def test_json_files_load_too(tmp_path: Path, hub: ConfigHub) -> None:
    """A .json file in the same shape loads like YAML."""
    path = tmp_path / "tracepoints.json"
    path.write_text('{"tracepoints": [{"path": "a.py", "line": 1}]}', encoding="utf-8")
    with FileSource(path, hub):
        assert [tp.id for tp in hub.current_config] == ["a.py:1"]
