"""newswatch: self-hosted news monitoring (shared core: config, errors, domain records)."""

__version__ = "0.1.0"
