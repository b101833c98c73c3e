"""Which cuboid serves each form of metrics query, and how many documents it reads per tile, before and after the
cuboid set of issue 10's last point (services/analytics/domain/counters.py `LAYOUT`); and what a batch of the
counters job writes.

A *form* is the set of dimensions a query filters (any of product_code, city, kind, channel, industry, cause,
one value each) and the breakdown dimension, if any: 64 × 7 = 448 forms. A *tile* is one bucket period (a day,
an ISO week or a month: `cover` tiles a year with about 20). Per form it prints the cuboid, the documents read
per tile and the cells those documents can hold at most (product: 30, city: 17, kind: 4, channel: 4,
industry: 11, cause: 7 values, `CARDINALITY`), grouped by what they read. "Before" is the selection of
0251278 (ten cuboids, three split), kept here as it was.

Write cost: `--tickets N` tickets of bench/analytics.py's distribution, spread over `--days` (365), are counted in
batches of 1,000 and 5,000 in day order (a backfill) and of 20 (a live second); per batch it prints the documents
written, before and after, and the cells they hold at the end of the run (what a batch rewrites at most).

This is a count, not a timing: run it anywhere, it needs no store. Usage: python bench/cuboids.py [--tickets N]
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter, defaultdict
from itertools import combinations
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "scripts"), str(ROOT / "bench")]

from services.analytics.domain import counters as c  # noqa: E402

D = c.DIMENSIONS
CARD = c.CARDINALITY

# --- the selection before (0251278) ----------------------------------------------------------------------------
OLD_CUBOIDS: dict[str, tuple[str, ...]] = {
    "K": ("kind",), "P": ("product_code", "kind"), "C": ("city", "kind"), "CH": ("channel", "kind"),
    "I": ("industry", "kind"), "CA": ("cause", "kind"), "CI": ("city", "industry", "kind"),
    "PC": ("product_code", "city", "kind"), "CP": ("product_code", "city", "kind"), "ALL": D,
}
OLD_PARTITIONED = {"PC": "product_code", "CP": "city", "ALL": "product_code"}


def old_choose(needed: set[str], filtered: set[str]) -> str:
    fitting = [name for name, dims in OLD_CUBOIDS.items() if needed <= set(dims)]
    return next((n for n in fitting if n not in OLD_PARTITIONED or OLD_PARTITIONED[n] in filtered), fitting[0])


def old_reads(name: str, filtered: set[str]) -> tuple[int, int]:
    split = OLD_PARTITIONED.get(name)
    docs = 1 if not split or split in filtered else CARD[split]
    per_doc = 1
    for d in OLD_CUBOIDS[name]:
        if d != split:
            per_doc *= CARD[d]
    return docs, docs * per_doc


def forms():
    for r in range(len(D) + 1):
        for filtered in combinations(D, r):
            for group in (None, *D):
                yield set(filtered), group


def label(filtered: set[str], group: str | None) -> str:
    text = "+".join(d for d in D if d in filtered) or "(no filter)"
    return f"{'breakdown by ' + group if group else 'summary/timeseries'}: {text}"


def query_forms() -> None:
    before: Counter = Counter()
    after: Counter = Counter()
    worst_before: dict[int, list[str]] = defaultdict(list)
    rows = []
    for filtered, group in forms():
        needed = filtered | ({group} if group else set())
        old = old_choose(needed, filtered)
        old_docs, old_cells = old_reads(old, filtered)
        new = c.choose_cuboid(needed, dict.fromkeys(filtered, 1))
        new_docs, new_cells = c.reads(new, dict.fromkeys(filtered, 1))
        before[old_docs] += 1
        after[new_docs] += 1
        worst_before[old_docs].append(label(filtered, group))
        rows.append((label(filtered, group), old, old_docs, old_cells, new, new_docs, new_cells))
    print(f"{len(rows)} forms (filters one value each). Documents read per tile → number of forms:")
    print(f"  before: {dict(sorted(before.items()))}")
    print(f"  after:  {dict(sorted(after.items()))}")
    print(f"  most cells per tile: before {max(r[3] for r in rows):,}, after {max(r[6] for r in rows):,}")
    print("\nforms that read more than one document per tile before, a few of each:")
    for docs in sorted(worst_before, reverse=True):
        if docs > 1:
            sample = worst_before[docs]
            print(f"  {docs} per tile, {len(sample)} forms, e.g. {'; '.join(sample[:3])}")
    print(f"\n{'form':<72} {'before':>16} {'docs':>5} {'cells':>7}   {'after':>10} {'docs':>5} {'cells':>7}")
    for row in rows:
        name, old, old_docs, old_cells, new, new_docs, new_cells = row
        print(f"{name:<72} {old:>16} {old_docs:>5} {old_cells:>7,}   {new:>10} {new_docs:>5} {new_cells:>7,}")


# --- write cost ------------------------------------------------------------------------------------------------

def write_cost(tickets: int, days: int) -> None:
    import analytics as bench  # bench/analytics.py: the same tickets the speed bench loads

    bench.DAYS = days  # over fewer days: the density of a larger store, without counting all of it
    rng = random.Random(7)
    states = sorted((bench.ticket_state(n, rng)[1] for n in range(tickets)), key=lambda s: s["opened_at"])
    contributions = [c.contribution(s) for s in states]

    def old_buckets(cells) -> set[str]:
        out = set()
        for day, keys in cells:
            moment = c.parse_day(day)
            for name in OLD_CUBOIDS:
                split = OLD_PARTITIONED.get(name)
                for grain in c.GRAINS:
                    part = (keys[D.index(split)],) if split else ()
                    out.add("|".join((name, grain, c.period_text(moment, grain), *part)))
        return out

    def new_buckets(cells) -> set[str]:
        return set(c.roll_up(dict.fromkeys(cells, {"opened": 1})))

    def sizes(which) -> Counter:
        """cells per bucket document at the end (every ticket counted)."""
        held: dict[str, set] = defaultdict(set)
        for cells in contributions:
            for day, keys in cells:
                one = {(day, keys)}
                if which == "old":
                    for bucket in old_buckets(one):
                        name = bucket.split("|")[0]
                        held[bucket].add((name, c.SEPARATOR.join(keys[D.index(d)] for d in OLD_CUBOIDS[name])))
                else:
                    for bucket, change in c.roll_up({(day, keys): {"opened": 1}}).items():
                        for name, cells_ in change.items():
                            held[bucket] |= {(name, key) for key in cells_}
        return Counter({bucket: len(cells) for bucket, cells in held.items()})

    size = {"old": sizes("old"), "new": sizes("new")}
    print(f"\nwrite cost on {tickets:,} tickets over {days} days ({tickets // days:,} a day, "
          f"{tickets * 365 // days:,} a year):")
    for batch in (1000, 5000, 20):
        middle = len(contributions) // 3
        cells = set().union(*(set(x) for x in contributions[middle:middle + batch]))
        for which, buckets in (("before", old_buckets(cells)), ("after", new_buckets(cells))):
            held = size["old" if which == "before" else "new"]
            by_grain = Counter(b.split("|")[1] for b in buckets)
            cells_held = sum(held[b] for b in buckets)
            print(f"  batch of {batch:>5}, {which:>6}: {len(buckets):>5} documents (day {by_grain['d']}, "
                  f"week {by_grain['w']}, month {by_grain['m']}), holding {cells_held:>7,} cells, "
                  f"{cells_held / batch:,.0f} a ticket")
    for which in ("old", "new"):
        held = size[which]
        print(f"  {'before' if which == 'old' else 'after':>6}: {len(held):,} bucket documents in all, "
              f"largest {max(held.values()):,} cells")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=0, help="also count the write cost on this many tickets")
    parser.add_argument("--days", type=int, default=365, help="the days the tickets are spread over")
    args = parser.parse_args()
    query_forms()
    if args.tickets:
        write_cost(args.tickets, args.days)


if __name__ == "__main__":
    main()
