"""The package's version, in a module of its own so that every room can read it (pyproject.toml says the same)."""

__version__ = "0.6.0"
