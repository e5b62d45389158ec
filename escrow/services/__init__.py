"""Escrow's writes. `deposit_open` is what registration calls; the rest is imported from its module."""

from escrow.services.deposits import deposit_open

__all__ = ["deposit_open"]
