"""Money is integer fen (1 RMB = 100 fen) everywhere; this module holds the few helpers.

No floats: a value that is not an ``int`` is refused, so a stray ``Decimal`` or ``float``
from a calculation fails loudly instead of rounding silently.
"""

from __future__ import annotations

FEN_PER_YUAN = 100


def require_fen(value: object, *, field: str = "amount_fen") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{field} must be an int number of fen, got {type(value).__name__}")
    return value


def format_yuan(fen: int) -> str:
    """Human label for admin and messages, e.g. 16900 -> '¥169.00'."""
    require_fen(fen, field="fen")
    sign = "-" if fen < 0 else ""
    yuan, rest = divmod(abs(fen), FEN_PER_YUAN)
    return f"{sign}¥{yuan}.{rest:02d}"
