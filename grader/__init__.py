"""Grading harness for NumPy neural-network homework."""

__version__ = "0.1.0"
