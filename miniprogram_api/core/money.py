"""Money is integer fen (1 RMB = 100 fen) everywhere; this module holds the few helpers.

No floats: a value that is not an ``int`` is refused, so a stray ``Decimal`` or ``float``
from a calculation fails loudly instead of rounding silently.
"""

from __future__ import annotations

FEN_PER_YUAN = 100
GRAMS_PER_KG = 1000


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


def divide_round_half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded to the nearest int, halves rounded up.

    Integer arithmetic only: ``round()`` on a float rounds halves to even and a float
    cannot hold every product of grams and fen exactly, so either would lose a fen now
    and then. Defined for a non-negative numerator and a positive denominator, which is
    every amount we divide; anything else is refused rather than guessed at.
    """
    require_fen(numerator, field="numerator")
    require_fen(denominator, field="denominator")
    if numerator < 0 or denominator <= 0:
        raise ValueError("divide_round_half_up takes a non-negative numerator and a positive denominator")
    return (2 * numerator + denominator) // (2 * denominator)


def price_for_weight_fen(*, weight_g: int, price_per_kg_fen: int) -> int:
    """The price in fen of ``weight_g`` grams of a product sold at ``price_per_kg_fen``,
    rounded half up to the fen (e.g. 1234 g at 1990 fen/kg = 2455.66 -> 2456 fen)."""
    require_fen(weight_g, field="weight_g")
    require_fen(price_per_kg_fen, field="price_per_kg_fen")
    return divide_round_half_up(weight_g * price_per_kg_fen, GRAMS_PER_KG)


def percent_of(amount_fen: int, percent: int) -> int:
    """``percent`` % of ``amount_fen``, rounded half up to the fen: the one rounding rule of
    every percentage discount (Brand of the Day, percent-off coupons)."""
    require_fen(percent, field="percent")
    if not 0 <= percent <= 100:
        raise ValueError("percent must be between 0 and 100")
    return divide_round_half_up(amount_fen * percent, 100)


def allocate(total_fen: int, weights: dict, /) -> dict:
    """Split ``total_fen`` over keys in proportion to their weights, in whole fen, by the
    largest-remainder method: every key gets the floor of its exact share, and the fen left
    over go one each to the largest remainders. The shares add up to ``total_fen`` exactly,
    none exceeds its weight (``total_fen`` may not exceed the weights' sum), and ties are
    broken by key order, never by the order the keys came in, so the answer depends only on
    the amounts. Keys must be mutually comparable (line ids)."""
    require_fen(total_fen, field="total_fen")
    for weight in weights.values():
        require_fen(weight, field="weight")
        if weight < 0:
            raise ValueError("weights must not be negative")
    whole = sum(weights.values())
    if total_fen < 0 or total_fen > whole:
        raise ValueError(f"cannot allocate {total_fen} fen over weights summing to {whole}")
    if total_fen == 0:
        return dict.fromkeys(weights, 0)
    shares = {key: total_fen * weight // whole for key, weight in weights.items()}
    left = total_fen - sum(shares.values())
    by_remainder = sorted(weights, key=lambda key: (-(total_fen * weights[key] % whole), key))
    for key in by_remainder[:left]:
        shares[key] += 1
    return shares
