"""Helpers that start and drive the real parts the tests talk to (Label Studio, model servers)."""
