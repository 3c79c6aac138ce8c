"""Prefect flows and the command-line entry point: thin wiring over extract/, transform/ and warehouse/."""
