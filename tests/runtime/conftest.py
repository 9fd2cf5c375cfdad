"""Fixtures of the runtime tests live in tests/conftest.py, shared with the sound tests."""
