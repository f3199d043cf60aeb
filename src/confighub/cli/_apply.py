"""What ``confighub tp add`` and ``confighub tp apply`` write, one call at a time.

``apply`` makes a server's config match a file: it reads the config (and its hash),
then PUTs each tracepoint of the file that the server lacks or holds otherwise and
DELETEs each one the server holds that the file lacks. Each write names the hash
the one before it left (``If-Match``), so a change someone else makes meanwhile
stops ``apply`` at its next write (412) instead of being overwritten in silence;
the error says how many writes were made before it, and running ``apply`` again
starts from the server's new config. The writes are not one transaction: the API
takes one tracepoint per call, and each is atomic on its own.

Each change is one line, ``+ id`` added, ``~ id`` changed, ``- id`` removed, as
``watch`` marks them, then a total.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

from rich.console import Console
from rich.text import Text

from confighub._internal.text import counted, short_hash
from confighub.cli._logging import CommandFailed
from confighub.events._wording import location
from confighub.exceptions import ManagementError
from confighub.manage import ManagementClient, Written
from confighub.model import TracePoint

__all__ = ["Step", "add_all", "apply_file", "plan"]

_STYLES = {"+": "green", "~": "yellow", "-": "red"}


class Step(NamedTuple):
    """One write of a plan: ``+`` add, ``~`` replace or ``-`` remove ``tracepoint``.

    For ``-``, the tracepoint is the one the server holds.
    """

    mark: str
    tracepoint: TracePoint


def plan(current: Sequence[TracePoint], wanted: Sequence[TracePoint]) -> list[Step]:
    """The writes that make ``current`` into ``wanted``: puts in its order, then deletes."""
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
def _progress(
    total: int, noun: str, after: Callable[[ManagementError], str]
) -> Iterator[list[int]]:
    """Count the writes made; a failed one ends the command saying how many came before it."""
    done = [0]
    try:
        yield done
    except ManagementError as err:
        made = f" ({done[0]} of {counted(total, noun)} written before it)" if total > 1 else ""
        raise CommandFailed(f"{err}{made}{after(err)}") from None


def apply_file(
    client: ManagementClient,
    wanted: Sequence[TracePoint],
    source: str,
    console: Console,
    *,
    dry_run: bool,
) -> int:
    """Make the server's config ``wanted`` (the tracepoints of ``source``); return the writes."""
    listing = client.list()
    steps = plan(listing.tracepoints, wanted)
    if not steps:
        console.print(
            f"nothing to do: the server's {counted(len(listing.tracepoints), 'tracepoint')}"
            f" match {source} (hash {short_hash(listing.hash)})"
        )
        return 0
    if dry_run:
        for step in steps:
            console.print(_line(step.mark, step.tracepoint))
        console.print(f"dry run: {_tally(steps)} to make; nothing written")
        return 0

    def stale(err: ManagementError) -> str:
        if err.status != 412:
            return ""
        return f"; the config changed on the server meanwhile: run apply again to match {source}"

    config_hash = listing.hash
    with _progress(len(steps), "change", stale) as done:
        for step in steps:
            written: Written
            if step.mark == "-":
                written = client.delete(step.tracepoint.id, if_match=config_hash)
            else:
                written = client.put(step.tracepoint, if_match=config_hash)
            config_hash = written.hash
            done[0] += 1
            console.print(_line(step.mark, step.tracepoint))
    console.print(f"applied {_tally(steps)}; hash {short_hash(config_hash)}")
    return len(steps)


def add_all(
    client: ManagementClient,
    items: Sequence[TracePoint | Mapping[str, Any]],
    console: Console,
) -> int:
    """Create each of ``items`` (tracepoints, or JSON the server gives an id); return how many."""
    config_hash = None
    with _progress(len(items), "tracepoint", lambda _: "") as done:
        for item in items:
            written = client.create(item)
            config_hash = written.hash
            done[0] += 1
            console.print(_line("+", written.tracepoint))
    console.print(f"added {counted(len(items), 'tracepoint')}; hash {short_hash(config_hash)}")
    return len(items)
