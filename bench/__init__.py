"""Runnable benchmarks; not part of the shop. See bench/README.md."""
