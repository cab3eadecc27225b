"""Scaling curve: run_due() rate on SQLite and MemoryStore bytes per order, by size.

Writes docs/performance.png (two panels) and prints the figures as a table.

Run: .venv/bin/python benchmarks/scaling.py [--sizes 10000,30000,100000,300000,1000000]
     [--memory-max 300000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import p2_timers
import p3_memory

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,30000,100000,300000,1000000")
    parser.add_argument(
        "--memory-max",
        type=int,
        default=300_000,
        help="largest size for the memory curve (it builds orders one by one)",
    )
    parser.add_argument("--out", default=str(ROOT / "docs" / "performance.png"))
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    for size in sizes:
        with tempfile.TemporaryDirectory() as folder:
            began = time.perf_counter()
            rate = p2_timers.library(Path(folder), size)
            seconds = size / rate
        per_order = p3_memory.measure(size)[0] if size <= args.memory_max else None
        rows.append((size, rate, seconds, per_order))
        memory = f"{per_order:8,.0f} B/order" if per_order else "        (skipped)"
        print(
            f"{size:>9,} orders: run_due {rate:8,.0f}/s ({seconds:7.1f} s)  "
            f"memory {memory}  [{time.perf_counter() - began:.0f} s]",
            flush=True,
        )

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.plot([r[0] for r in rows], [r[2] for r in rows], marker="o")
    left.set(
        xscale="log",
        yscale="log",
        xlabel="due trials",
        ylabel="run_due() seconds",
        title="Timers on SQLite",
    )
    left.grid(True, which="both", alpha=0.3)
    mem = [r for r in rows if r[3] is not None]
    right.plot([r[0] for r in mem], [r[3] for r in mem], marker="o", color="tab:orange")
    right.axhline(1024, color="grey", linestyle="--", label="goal 1 KB")
    right.set(
        xscale="log",
        xlabel="live orders",
        ylabel="bytes per order",
        title="MemoryStore memory",
        ylim=(0, max(r[3] for r in mem) * 1.2),
    )
    right.legend()
    right.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
