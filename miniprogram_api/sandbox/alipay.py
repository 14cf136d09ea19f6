"""The alipay sandbox (being written)."""

from __future__ import annotations


def confirm_trade(out_trade_no: str) -> dict | None:
    """Mark the trade paid and send its notification; None when this sandbox has no such trade."""
    return None
