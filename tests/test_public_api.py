"""The public surface: what each public package exports, and the exception family.

Each package's ``__all__`` is compared with a list written out here, the way httpx
tests its exports: adding or removing a public name fails this test until the
list is edited too, so a change of the public surface is always deliberate.
"""

from __future__ import annotations

import builtins
import importlib
import inspect
import re
from types import ModuleType

import pytest

import confighub
from confighub import exceptions

EXPORTS: dict[str, list[str]] = {
    "confighub": [
        "Action",
        "ConfigChange",
        "ConfigDiff",
        "ConfigHub",
        "ConfigHubError",
        "HubClosed",
        "InvalidTracePoint",
        "LabelExpression",
        "LifecycleError",
        "MetricDefinition",
        "MetricType",
        "ObserverError",
        "PollFailed",
        "ServeFailed",
        "SourceState",
        "SourceStatus",
        "TapeError",
        "TracePoint",
        "TracePointFileError",
        "__version__",
        "config_hash",
        "load_tracepoints",
        "parse_tracepoints",
    ],
    "confighub.model": [
        "HASH_LENGTH",
        "Action",
        "FrozenMap",
        "LabelExpression",
        "MetricDefinition",
        "MetricType",
        "Scalar",
        "TargetValue",
        "TracePoint",
        "config_hash",
        "effective_hash",
        "tracepoint_digest",
        "view_hash",
    ],
    "confighub.events": [
        "ConfigChange",
        "ConfigDiff",
        "Item",
        "item_key",
        "items_by_key",
        "new_change",
    ],
    "confighub.operators": [
        "ChangeOperator",
        "Freshness",
        "added",
        "changed",
        "conflate",
        "debounce_changes",
        "diffs",
        "distinct_config",
        "only_paths",
        "removed",
        "stale_after",
        "touching",
    ],
    "confighub.hub": [
        "ConfigHub",
        "CustomFactory",
        "ObserverError",
        "SourceState",
        "SourceStatus",
    ],
    "confighub.compat": [
        "ConfigUpdateListener",
        "TaskHandler",
        "TracepointConfigService",
    ],
    "confighub.stores": [
        "FileStore",
        "LoopStore",
        "MemoryStore",
        "RedisStore",
        "SqliteStore",
        "Store",
        "StoreBase",
        "StoreCallback",
        "StoreListeners",
        "StoreState",
        "TenantStores",
        "WritableStore",
        "check_expected",
        "open_store",
    ],
    "confighub.manage": [
        "MAX_ANSWER_BYTES",
        "Listing",
        "ManagementClient",
        "Written",
        "check_server_url",
    ],
    "confighub.sources": [
        "HOLD_METADATA_KEY",
        "Backoff",
        "FileSource",
        "GrpcPollSource",
        "PollResult",
        "RejectedTracePoint",
    ],
    "confighub.server": [
        "DEFAULT_MAX_MESSAGE_SIZE",
        "HOLD_METADATA_KEY",
        "AgentEvent",
        "AgentInfo",
        "FileStore",
        "HubServer",
        "MemoryStore",
        "ServerStats",
        "Store",
        "StoreState",
    ],
    "confighub.tapes": [
        "FORMAT",
        "VERSION",
        "Recorder",
        "Tape",
        "TapeError",
        "TapeHeader",
        "read_tape",
        "record",
        "replay",
    ],
    "confighub.notebook": [
        "plot_before_after",
        "plot_strip",
        "plot_timeline",
        "record_before_after",
        "to_dataframe",
    ],
    "confighub.virtual": [
        "Configs",
        "HeapHistoricalScheduler",
        "HeapTestScheduler",
        "Timed",
        "VirtualRun",
        "changes_from_marbles",
        "expected_changes",
        "feed_hub",
        "run_virtual",
        "virtual_clock",
    ],
    "confighub.testing": [
        "TracePointFactory",
        "assert_chain",
        "assert_changes",
        "config_hub",
        "make_tracepoint",
        "virtual_scheduler",
    ],
    "confighub.exceptions": [
        "ConfigHubError",
        "HubClosed",
        "InvalidTracePoint",
        "LifecycleError",
        "ManagementError",
        "PollCancelled",
        "PollFailed",
        "ReadOnlyStore",
        "ServeFailed",
        "StaleConfig",
        "StoreError",
        "StoreUnavailable",
        "TapeError",
        "TracePointExists",
        "TracePointFileError",
        "UnknownTracePoint",
    ],
    "confighub.files": [
        "dump_tracepoints",
        "example_path",
        "file_problems",
        "load_tracepoints",
        "parse_tracepoints",
    ],
    "confighub.cli": [
        "main",
        "run",
    ],
}
"""Every public package or module, with the names it exports on purpose, in ``__all__`` order."""


def isort_key(name: str) -> tuple[int, list[int | str]]:
    """The order ruff's RUF022 keeps ``__all__`` in: CONSTANTS, then Classes, then the rest.

    Within each group names compare naturally (``item2`` before ``item10``).
    """
    if len(name) > 1 and name.isupper():
        group = 0
    elif name[:1].isupper():
        group = 1
    else:
        group = 2
    natural = [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]
    return group, natural


def public_module(name: str) -> ModuleType:
    """The module ``name``, imported."""
    return importlib.import_module(name)


def test_exports_are_sorted_and_importable() -> None:
    """__all__ is sorted, every name in it exists, and the names the README documents are there."""
    assert confighub.__all__ == sorted(confighub.__all__)
    for name in confighub.__all__:
        assert getattr(confighub, name) is not None
    assert {
        "TracePoint",
        "ConfigChange",
        "ConfigDiff",
        "ConfigHub",
        "InvalidTracePoint",
        "config_hash",
    } <= set(confighub.__all__)


@pytest.mark.parametrize("module_name", EXPORTS)
def test_all_is_exactly_the_names_exported_on_purpose(module_name: str) -> None:
    """__all__ equals the list written here, name for name and in order."""
    assert public_module(module_name).__all__ == EXPORTS[module_name]


@pytest.mark.parametrize("module_name", EXPORTS)
def test_all_is_sorted(module_name: str) -> None:
    """__all__ is in ruff's isort-style order (RUF022), which ``ruff check`` also enforces."""
    exported = public_module(module_name).__all__
    assert exported == sorted(exported, key=isort_key)


@pytest.mark.parametrize("module_name", EXPORTS)
def test_every_exported_name_exists(module_name: str) -> None:
    """Each name in __all__ is an attribute of the module: ``from … import *`` never fails."""
    module = public_module(module_name)
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert missing == []


@pytest.mark.parametrize("module_name", EXPORTS)
def test_every_public_class_and_function_defined_here_is_exported(module_name: str) -> None:
    """A public class or function defined in the module itself is in its __all__."""
    module = public_module(module_name)
    defined = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and value.__module__ == module_name
    }
    assert defined - set(module.__all__) == set()


def test_every_exception_derives_from_confighuberror() -> None:
    """One family under one base class; InvalidTracePoint is also a ValueError."""
    for name in exceptions.__all__:
        assert issubclass(getattr(exceptions, name), exceptions.ConfigHubError)
    assert issubclass(confighub.InvalidTracePoint, ValueError)
    assert issubclass(confighub.HubClosed, RuntimeError)


TREE_LINE = re.compile(r"^(?P<branch>[ │├└─]*)(?P<name>[A-Z]\w+)(?:\s+\(also an? (?P<also>\w+)\))?")


def drawn_tree() -> list[tuple[str, str | None, str | None]]:
    """The exception tree drawn in ``confighub.exceptions``' docstring.

    One ``(name, drawn parent, also-a builtin)`` per class, in drawing order; each
    level of the drawing is indented by four more columns than its parent's.
    """
    assert exceptions.__doc__ is not None
    block = exceptions.__doc__.split("::", 1)[1]
    drawn: list[tuple[str, str | None, str | None]] = []
    parents: dict[int, str] = {}
    for line in block.splitlines():
        if not line.strip():
            if drawn:
                break
            continue
        match = TREE_LINE.match(line.removeprefix("    "))
        assert match is not None, f"not a line of the tree: {line!r}"
        depth = len(match["branch"]) // 4
        parents[depth] = match["name"]
        drawn.append((match["name"], parents.get(depth - 1) if depth else None, match["also"]))
    return drawn


def test_the_drawn_exception_tree_lists_exactly_the_exported_exceptions() -> None:
    """The tree in the exceptions docstring names every class in __all__, each once."""
    names = [name for name, _, _ in drawn_tree()]
    assert sorted(names) == sorted(exceptions.__all__)
    assert len(names) == len(set(names))


def test_the_drawn_exception_tree_matches_the_class_bases() -> None:
    """Each class's bases are its parent in the drawing plus its drawn "(also a …)" builtin."""
    for name, parent, also in drawn_tree():
        drawn_bases: tuple[type, ...] = (getattr(exceptions, parent) if parent else Exception,)
        if also is not None:
            drawn_bases += (getattr(builtins, also),)
        assert getattr(exceptions, name).__bases__ == drawn_bases, name
