"""Benchmarks: run with ``python -m benchmarks.run [--quick]`` (``make bench``).

Every figure is a median over repeated runs and is reported as a ratio against a baseline
measured in the same run; nothing here is asserted in the test suite.
"""
