"""Commands added by later issues (serve, alerts, trends) register here to keep cli.py small."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def register(sub: Any, with_config: Callable[[argparse.ArgumentParser], argparse.ArgumentParser]) -> None:
    """Add the extra sub-commands."""
    return None
