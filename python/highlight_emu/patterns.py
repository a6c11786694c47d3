"""Sparsity patterns: the fibertree-style specs the emulator reads, e.g. ``C1(2:4)->C0(2:4)``."""

import json

from . import _native


def spec(pattern):
    """A pattern's canonical form, density, sparsity and ruled ranks, as ``spec --json`` prints
    them; ``ValueError`` for a pattern that does not parse."""
    return json.loads(_native.spec(pattern))
