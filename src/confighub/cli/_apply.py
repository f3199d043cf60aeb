"""What ``confighub tp add`` and ``confighub tp apply`` write.

``apply`` makes a server's config match a file in one step: it reads the config
(and its hash), works out what differs (the plan), then writes the file's whole
config in one call (``PUT /api/tracepoints``) naming the hash it read
(``If-Match``). The write is atomic: agents see the old config or the file's,
never a part of the way between, and a change someone else made meanwhile is
refused (412) with nothing written, instead of being overwritten in silence;
running ``apply`` again starts from the server's new config. A store that lost
its config (``Listing.initialized`` False) is written even when the plan is
empty, which seeds it. ``add`` creates one tracepoint per call.

Each change is one line, ``+ id`` added, ``~ id`` changed, ``- id`` removed, as
``watch`` marks them, then a total.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

from rich.console import Console
from rich.text import Text

from confighub._internal.text import counted, short_hash
from confighub.cli._logging import CommandFailed
from confighub.events._wording import location
from confighub.exceptions import ManagementError
from confighub.manage import Listing, ManagementClient
from confighub.model import TracePoint

__all__ = ["Step", "add_all", "apply_file", "plan"]

_STYLES = {"+": "green", "~": "yellow", "-": "red"}


class Step(NamedTuple):
    """One change of a plan: ``+`` add, ``~`` replace or ``-`` remove ``tracepoint``.

    For ``-``, the tracepoint is the one the server holds.
    """

    mark: str
    tracepoint: TracePoint


def plan(current: Sequence[TracePoint], wanted: Sequence[TracePoint]) -> list[Step]:
    """The changes that make ``current`` into ``wanted``: in its order, then the removals."""
    held = {tp.id: tp for tp in current}
    wanted_ids = {tp.id for tp in wanted}
    steps = [
        Step("+" if tp.id not in held else "~", tp)
        for tp in wanted
        if tp.id not in held or held[tp.id] != tp
    ]
    steps += [Step("-", tp) for tp in current if tp.id not in wanted_ids]
    return steps


def _line(mark: str, tp: TracePoint) -> Text:
    return Text(f"{mark} {tp.id}  {location(tp)}", style=_STYLES[mark])


def _tally(steps: Sequence[Step]) -> str:
    marks = [step.mark for step in steps]
    parts = (
        f"{marks.count('+')} added",
        f"{marks.count('~')} changed",
        f"{marks.count('-')} removed",
    )
    return f"{counted(len(steps), 'change')} ({', '.join(parts)})"


@contextmanager
def _progress(total: int, noun: str) -> Iterator[list[int]]:
    """Count the writes made; a failed one ends the command saying how many came before it."""
    done = [0]
    try:
        yield done
    except ManagementError as err:
        made = f" ({done[0]} of {counted(total, noun)} written before it)" if total > 1 else ""
        raise CommandFailed(f"{err}{made}") from None


def apply_file(
    client: ManagementClient,
    wanted: Sequence[TracePoint],
    source: str,
    console: Console,
    *,
    dry_run: bool,
) -> int:
    """Make the server's config ``wanted`` (the tracepoints of ``source``); return the changes.

    One write of the whole config, compared and set on the hash read; none when nothing
    differs, unless the store is not initialized, when the write seeds it.
    """
    listing = client.list()
    steps = plan(listing.tracepoints, wanted)
    if not steps and listing.initialized:
        console.print(
            f"nothing to do: the server's {counted(len(listing.tracepoints), 'tracepoint')}"
            f" match {source} (hash {short_hash(listing.hash)})"
        )
        return 0
    # Written first, so the lines below are changes made: a refused write prints none of them.
    written = None if dry_run else _set_config(client, wanted, listing.hash, source)
    for step in steps:
        console.print(_line(step.mark, step.tracepoint))
    if written is None:
        seed = "" if listing.initialized else "; the server's store is not initialized"
        console.print(f"dry run: {_tally(steps)} to make{seed}; nothing written")
        return 0
    if not listing.initialized:
        seeded = counted(len(written.tracepoints), "tracepoint")
        console.print(
            f"the server's store was not initialized: it is now seeded with {seeded} of {source}"
        )
    console.print(f"applied {_tally(steps)}; hash {short_hash(written.hash)}")
    return len(steps)


def _set_config(
    client: ManagementClient, wanted: Sequence[TracePoint], read: str, source: str
) -> Listing:
    """Set ``wanted`` as the whole config if its hash is still ``read``; a 412 says what to do."""
    try:
        return client.set(wanted, if_match=read)
    except ManagementError as err:
        if err.status != 412:
            raise
        raise CommandFailed(
            f"{err}; the config changed on the server meanwhile, so nothing was written:"
            f" run apply again to match {source}"
        ) from None


def add_all(
    client: ManagementClient,
    items: Sequence[TracePoint | Mapping[str, Any]],
    console: Console,
) -> int:
    """Create each of ``items`` (tracepoints, or JSON the server gives an id); return how many."""
    config_hash = None
    with _progress(len(items), "tracepoint") as done:
        for item in items:
            written = client.create(item)
            config_hash = written.hash
            done[0] += 1
            console.print(_line("+", written.tracepoint))
    console.print(f"added {counted(len(items), 'tracepoint')}; hash {short_hash(config_hash)}")
    return len(items)
