"""Benchmark tasks, method registry, runner and versioned result records."""
