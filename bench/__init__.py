"""Benchmarks on a generated 100k-CI hospital, each against a baseline measured in the same run."""
