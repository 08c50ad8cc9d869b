#!/usr/bin/env python3
"""Median of every numeric figure in run.sh's output, per (engine, scenario, batch)."""
import statistics
import sys
from collections import defaultdict

groups = defaultdict(lambda: defaultdict(list))
for line in open(sys.argv[1]):
    if line.startswith("#") or "\t" not in line:
        continue
    engine, scenario, *fields = line.strip().split("\t")
    ident = [engine, scenario]
    for f in fields:
        name, _, value = f.partition("=")
        if name == "batch":
            ident.append(f)
            continue
        try:
            number = float(value)
        except ValueError:
            continue
        groups[tuple(ident)][name].append(number)
for ident, figures in sorted(groups.items()):
    n = max(len(v) for v in figures.values())
    shown = "  ".join(f"{k}={statistics.median(v):.6g}" for k, v in figures.items())
    print(f"{' '.join(ident):40s} n={n}  {shown}")
