"""The results as a terminal table and as Markdown in docs/benchmarks.md."""

from __future__ import annotations

import math
from pathlib import Path

from benchmarks.timing import Row

BEGIN = "<!-- benchmark results: written by `python -m benchmarks --write`; edit outside these markers -->"
END = "<!-- end of benchmark results -->"


def number(v: float) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def cells(row: Row) -> list[str]:
    one = row.reps == 1
    return [
        row.name,
        str(row.reps),
        f"{number(row.median)} {row.unit}",
        "" if one else number(row.pct(5)),
        "" if one else number(row.p95),
        "" if one else number(row.pct(99)),
        row.target,
        row.status if row.target else "",
    ]


HEADER = ["benchmark", "reps", "median", "p5", "p95", "p99", "target", "result"]


def text_table(rows: list[Row]) -> str:
    table = [HEADER] + [cells(r) for r in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADER))]
    lines = []
    for k, r in enumerate(table):
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    notes = [f"  {r.name}: {r.note}" for r in rows if r.note]
    return "\n".join(lines + ([""] + notes if notes else []))


def markdown(rows: list[Row], preamble: list[str]) -> str:
    out = list(preamble) + [""]
    out.append("| " + " | ".join(HEADER) + " |")
    out.append("| " + " | ".join(["---"] + ["---:"] * (len(HEADER) - 1)) + " |")
    for r in rows:
        c = cells(r)
        if r.status == "MISS":
            c[-1] = "**MISS**"
        out.append("| " + " | ".join(x.replace("|", "\\|") for x in c) + " |")
    notes = [r for r in rows if r.note]
    if notes:
        out.append("")
        out += [f"- *{r.name}*: {r.note}" for r in notes]
    return "\n".join(out)


def write_doc(path: Path, body: str) -> None:
    """Replace the results between the markers, keeping the hand-written analysis."""
    block = f"{BEGIN}\n{body}\n{END}"
    if path.exists():
        text = path.read_text(encoding="utf-8")
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            tail = rest.split(END, 1)[1]
            path.write_text(head + block + tail, encoding="utf-8")
            return
        path.write_text(text.rstrip() + "\n\n" + block + "\n", encoding="utf-8")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"# Benchmarks\n\n{block}\n", encoding="utf-8")
