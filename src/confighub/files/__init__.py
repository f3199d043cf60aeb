"""Tracepoint files: YAML or JSON documents of the shape ``{tracepoints: [...]}``.

Every problem becomes a ``TracePointFileError`` naming the file and, when it
can be known, the line: of a syntax error, of the offending top-level key, or
of the first line of the tracepoint entry that failed validation. A file is
untrusted input, so it is read within bounds: at most 16 MiB, lists and mappings
nested at most 64 deep, and YAML aliases adding at most 100,000 nodes to what is
written out; past them the file is refused with the line where it went past.
"""

from confighub.files._io import (
    dump_tracepoints,
    example_path,
    file_problems,
    load_tracepoints,
    parse_tracepoints,
)

__all__ = [
    "dump_tracepoints",
    "example_path",
    "file_problems",
    "load_tracepoints",
    "parse_tracepoints",
]
