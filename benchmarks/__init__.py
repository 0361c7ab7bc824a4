"""Speed and memory of lenet-gui, measured against the targets of the issue.

Run with ``make bench`` (or ``QT_QPA_PLATFORM=offscreen python -m benchmarks``);
``--write docs/benchmarks.md`` puts the table into the doc. Each benchmark
module returns ``Row`` objects (``benchmarks.timing``); ``__main__`` prints them.
"""
