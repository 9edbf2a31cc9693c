"""Benchmarks: cold start, warm latency, wire round trips, rate limiting and import time,
each next to a baseline measured in the same run. `python -m convoship_bench` (or
`make bench`) runs everything and prints one table; `--quick` is the smoke-test size.

Kept free of imports so that the floor and bare-handler modules stay cheap to load.
"""
