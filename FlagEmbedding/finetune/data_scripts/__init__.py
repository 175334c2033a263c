"""Importable implementations of the data helper scripts in ``scripts/``."""
