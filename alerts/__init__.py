"""alertcast service: everything with I/O, state and policy."""

__version__ = "0.1.0"
