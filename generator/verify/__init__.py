"""`gen verify`: prove every external resource the kept variants need exists, and pin it.

One checker per resource kind (images.py, github.py, pypi.py, torch_index.py); engine.py
runs them with bounded concurrency and builds the lock (generator/lock.py).
"""

from __future__ import annotations

from generator.verify.context import Endpoints, VerifyOptions
from generator.verify.engine import offline_lock, reusable, verify_resources

__all__ = ["Endpoints", "VerifyOptions", "offline_lock", "reusable", "verify_resources"]
