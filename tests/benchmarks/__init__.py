"""The benchmark harness: `python tests/benchmarks/run.py --help`. Not part of the test run
(tests/e2e/test_benchmark_smoke.py runs a few seconds of it so it never rots)."""
