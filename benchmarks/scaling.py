"""Scaling curves, by the number of orders in the store: run_due() on SQLite,
MemoryStore bytes per order, the billing pass on SQLite (beside the set-based SQL
reference), and MO confirmations on SQLite one per transaction and in bursts of 100
(a sample of the store's pending orders answering).

Writes docs/performance.png (four panels) and prints the figures as a table.

Run: .venv/bin/python benchmarks/scaling.py [--sizes 10000,30000,100000,300000,1000000]
     [--memory-max 300000]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import billing
import mo_batch
import p2_timers
import p3_memory

from vas_lifecycle import SQLiteStore

ROOT = Path(__file__).resolve().parent.parent


def beside(axes: Any, sizes: list[int], curves: dict[str, list[float]], **labels: str) -> None:
    """Rates by store size, one line per curve, on a log scale of sizes from 0 up."""
    for (label, rates), marker in zip(curves.items(), "os", strict=False):
        axes.plot(sizes, rates, marker=marker, label=label)
    axes.set(xscale="log", ylim=(0, None), **labels)
    axes.legend()
    axes.grid(True, which="both", alpha=0.3)


def billing_rates(folder: Path, size: int) -> tuple[float, float]:
    """``billing_run`` over ``size`` active subscriptions, and the reference on a copy."""
    seeded, ours, reference = folder / "bill.db", folder / "bill-ours.db", folder / "bill-ref.db"
    billing.sqlite_seed(seeded, size)
    shutil.copy(seeded, ours)
    shutil.copy(seeded, reference)
    took, charged, _cpu = billing.run_pass(SQLiteStore(ours), 1000)
    ref_took, ref_count = billing.sqlite_reference(reference)
    assert charged == ref_count == size
    return size / took, size / ref_took


def mo_rates(folder: Path, size: int, texts: int) -> tuple[float, float]:
    """Confirmations by SMS with ``size`` pending orders in the store: ``texts`` of
    them one per transaction, and ``texts`` others in bursts of 100."""
    lc, numbers = mo_batch.seeded(folder / "mo.db", size)
    step = max(1, size // (2 * texts))
    sample = numbers[::step][: 2 * texts]
    one = mo_batch.one_by_one(lc, sample[0::2])
    burst = mo_batch.in_bursts(lc, sample[1::2], 100)
    lc.close()
    return one, burst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,30000,100000,300000,1000000")
    parser.add_argument(
        "--memory-max",
        type=int,
        default=300_000,
        help="largest size for the memory curve (it builds orders one by one)",
    )
    parser.add_argument(
        "--texts", type=int, default=4000, help="MO texts measured at each size (each way)"
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
            bill, reference = billing_rates(Path(folder), size)
            one, burst = mo_rates(Path(folder), size, args.texts)
        per_order = p3_memory.measure(size)[0] if size <= args.memory_max else None
        rows.append((size, rate, seconds, per_order, bill, reference, one, burst))
        memory = f"{per_order:8,.0f} B/order" if per_order else "        (skipped)"
        print(
            f"{size:>9,} orders: run_due {rate:8,.0f}/s ({seconds:7.1f} s)  "
            f"memory {memory}  billing_run {bill:9,.0f}/s (reference {reference:9,.0f}/s)  "
            f"MO one by one {one:6,.0f}/s, bursts of 100 {burst:6,.0f}/s  "
            f"[{time.perf_counter() - began:.0f} s]",
            flush=True,
        )

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ((left, right), (bills, texts)) = plt.subplots(2, 2, figsize=(11, 8))
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
    sizes_ = [r[0] for r in rows]
    beside(
        bills,
        sizes_,
        {
            "billing_run": [r[4] for r in rows],
            "INSERT ... SELECT (reference)": [r[5] for r in rows],
        },
        xlabel="active subscriptions",
        ylabel="orders charged per second",
        title="Billing pass on SQLite",
    )
    beside(
        texts,
        sizes_,
        {
            "bursts of 100 (handle_sms_many)": [r[7] for r in rows],
            "one per transaction (handle_sms)": [r[6] for r in rows],
        },
        xlabel="pending orders in the store",
        ylabel="confirmations per second",
        title="MO texts on SQLite",
    )
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
