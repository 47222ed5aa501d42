"""Benchmarks that print figures: `python -m bench [name ...] [--quick]` (`make bench`).

Never tests: nothing here asserts on time, and pytest collects `tests/` only. The machine they run
on is usually shared and noisy, so every figure is a distribution (percentiles), a count (calls per
change, memory) or a ratio to a baseline measured in the same run, never a bare duration to compare
with another machine's.
"""
