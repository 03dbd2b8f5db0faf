"""bench/RESULTS.md: each benchmark owns one ``## ...`` section and rewrites only it."""

from __future__ import annotations

import os
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def write_section(section: str, body: list[str], results: Path = RESULTS) -> None:
    """Replace (or add) ``section`` of the results file, leaving the others alone."""
    text = results.read_text() if results.exists() else "# Benchmark results\n"
    lines = text.splitlines()
    start = next((i for i, ln in enumerate(lines) if ln.strip() == section), None)
    block = [section, "", *body, ""]
    if start is None:
        while lines and not lines[-1].strip():
            lines.pop()
        lines += ["", *block]
    else:
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
        lines[start:end] = block
    temp = results.with_name(f".{results.name}.tmp")
    temp.write_text("\n".join(lines).rstrip() + "\n")
    os.replace(temp, results)
