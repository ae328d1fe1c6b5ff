"""Caucus protocol code: pure functions over bytes, no I/O, clock or global randomness."""
