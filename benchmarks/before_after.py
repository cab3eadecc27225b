"""Run benchmarks on an earlier commit and on the work tree, in one run, interleaved.

The earlier commit is checked out in a temporary git worktree; each tree runs its
own copy of the benchmark script against its own ``src`` (``PYTHONPATH``), alternating
before/after ``--rounds`` times, so both see the same machine at the same moment.
Every figure line is printed as ``before | after`` for each round, then summed up:
the first figure of each line, before and after, as the median and the range over the
rounds (this machine's noise is large; the median of several interleaved rounds is
what the docs report).

Run: .venv/bin/python benchmarks/before_after.py --ref COMMIT [--rounds 2] \\
         -- p1_engine.py --orders 3000 --repeat 3 [-- p3_memory.py --orders 100000 ...]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NUMBER = re.compile(r"-?\d[\d,]*\.?\d*")


@contextmanager
def checked_out(ref: str) -> Iterator[Path]:
    """``ref`` checked out in a temporary git worktree, removed afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "before"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), ref],
            check=True,
            capture_output=True,
        )
        try:
            yield tree
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                check=False,
                capture_output=True,
            )


def run(script: list[str], tree: Path) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    done = subprocess.run(
        [sys.executable, str(tree / "benchmarks" / script[0]), *script[1:]],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{script[0]} failed on {tree}:\n{done.stderr}")
    return [line for line in done.stdout.splitlines() if NUMBER.search(line)]


def _first(line: str) -> float | None:
    found = NUMBER.search(line.split(":", 1)[-1])
    return float(found.group().replace(",", "")) if found else None


def summarise(runs: list[tuple[list[str], list[str]]]) -> None:
    """Per line: median (min to max) of its first figure, before and after."""
    print("-- summary: median (range) over the rounds, before -> after")
    for i, line in enumerate(runs[0][0]):
        label = line.split(":", 1)[0].strip() if ":" in line else line[:40]
        olds = [v for o, _ in runs if i < len(o) and (v := _first(o[i])) is not None]
        news = [v for _, n in runs if i < len(n) and (v := _first(n[i])) is not None]
        if not olds or not news:
            continue
        before, after = statistics.median(olds), statistics.median(news)
        change = f"{(after - before) / before * 100:+.0f} %" if before else ""
        print(
            f"{label}: {before:,.1f} ({min(olds):,.1f} to {max(olds):,.1f}) -> "
            f"{after:,.1f} ({min(news):,.1f} to {max(news):,.1f})  {change}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", required=True, help="the earlier commit")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("scripts", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    scripts: list[list[str]] = []
    for word in args.scripts:
        if word == "--":
            scripts.append([])
        elif scripts:
            scripts[-1].append(word)
    scripts = [s for s in scripts if s]
    with checked_out(args.ref) as before:
        for script in scripts:
            print(f"== {' '.join(script)}")
            runs: list[tuple[list[str], list[str]]] = []
            for n in range(args.rounds):
                old = run(script, before)
                new = run(script, ROOT)
                runs.append((old, new))
                print(f"-- round {n + 1}: before ({args.ref}) | after (work tree)")
                width = max((len(line) for line in old), default=0)
                for a, b in zip(old, new, strict=False):
                    print(f"{a:<{width}} | {b}")
            summarise(runs)


if __name__ == "__main__":
    main()
