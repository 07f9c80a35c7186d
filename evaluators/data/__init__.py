"""Benchmark data shipped with Ring Lab (see README.md for sources and licences)."""
