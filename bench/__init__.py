"""Benchmarks of the ledger: appends, offline verification and proofs.

Run everything with ``python bench/run_all.py`` (what ``make bench`` calls), or one
benchmark with ``python bench/bench_append.py`` and so on.  Every figure is printed
beside a baseline measured in the same run and the goal it is held to; nothing asserts
on timing.  The last run's figures are written to ``bench/results.json``.
"""
