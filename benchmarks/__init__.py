"""Benchmark suite of riskengine: seeded cases, baselines, and the runner.

Run ``python -m benchmarks.run`` (or ``--quick``) from the repository root;
``benchmarks/README.md`` says what is measured and how to read the results.
"""
