"""The instructor's build: student template and fixtures, regenerated from the reference."""
