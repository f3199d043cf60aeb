"""Every bad edit of a watched file is reported and keeps the last good config, however bad.

Through ``FileSource`` and ``FileStore``, with a real file and the real watcher: edits
that used to escape as a RecursionError or ValueError on the watcher's thread (leaving
the status VALID), and edits whose error used to be as big as the file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from confighub import ConfigHub, SourceState, TracePointFileError
from confighub._internal.text import short_hash
from confighub.sources import FileSource
from confighub.stores import FileStore
from tests.files.bombs import billion_laughs
from tests.support.edits import replace_file
from tests.support.observing import watch
from tests.support.waiting import Recorder, wait_until

GOOD_JSON = '{"tracepoints": [{"id": "a", "path": "a.py", "line": 1}]}'
EDITED_JSON = '{"tracepoints": [{"id": "a", "path": "a.py", "line": 2}]}'
BOUND = 2_000
BAD_EDITS = [
    pytest.param("[" * 100_000 + "]" * 100_000, "nested deeper than 64", id="deep-json"),
    pytest.param(
        '{"tracepoints": [{"path": "a.py", "line": ' + "9" * 5_000 + "}]}",
        "integer string conversion",
        id="5000-digit-integer",
    ),
    pytest.param(billion_laughs("targeting"), "alias bomb", id="alias-bomb"),
    pytest.param(
        '{"tracepoints": [], "' + "k" * 10_000_000 + '": 1}',
        "unknown top-level key",
        id="10-MB-unknown-key",
    ),
]


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    # Neither .json nor .yaml: the format is guessed, so each bad edit reaches its own parser.
    path = tmp_path / "tracepoints.conf"
    path.write_text(GOOD_JSON, encoding="utf-8")
    return path


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("text", "words"), BAD_EDITS)
def test_a_watched_bad_edit_of_any_kind_no_longer_leaves_the_status_valid(
    config_file: Path, hub: ConfigHub, text: str, words: str
) -> None:
    """The hub goes INTERRUPTED with a bounded file error naming the kept config; VALID after."""
    changes, statuses = watch(hub)
    with FileSource(config_file, hub, debounce_ms=50) as source:
        good = hub.current_hash
        replace_file(config_file, text)
        [*_, status] = statuses.wait_for(
            lambda items: items[-1].state is SourceState.INTERRUPTED, "the bad edit on status"
        )
        error = status.error
        assert isinstance(error, TracePointFileError)
        assert error.path == str(config_file)
        assert words in error.reason
        assert len(error.reason) < BOUND
        assert f"kept the last good config, hash {short_hash(good)}" in str(error)
        assert source.last_error is error
        assert hub.current_hash == good

        replace_file(config_file, EDITED_JSON)
        changes.wait_for(lambda items: len(items) == 2, "the good edit after it")
        assert hub.current_status.state is SourceState.VALID


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("text", "words"), BAD_EDITS)
def test_a_watched_bad_edit_of_any_kind_is_refused_by_the_store(
    config_file: Path, text: str, words: str
) -> None:
    """FileStore keeps serving the last good state and passes the bounded error to on_error."""
    errors: Recorder[TracePointFileError] = Recorder()
    with FileStore(config_file, on_error=errors, debounce_ms=50) as store:
        served = store.state
        replace_file(config_file, text)
        [error] = errors.wait_for(lambda items: len(items) == 1, "the refused edit")
        assert words in error.reason
        assert len(error.reason) < BOUND
        assert store.error is error
        assert store.state == served

        replace_file(config_file, EDITED_JSON)
        wait_until(lambda: store.error is None, "the good edit served")
        assert [tp.line for tp in store.state.tracepoints] == [2]
