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


# --- Refunds: what a return gives back, and from which tender -------------------------------


def refund_for_units(*, net_fen: int, quantity: int, returned_before: int, returning: int) -> int:
    """The refund of ``returning`` more units of a line of ``quantity`` units whose net (its
    total after every discount) is ``net_fen``, ``returned_before`` units having come back
    already.

    Cumulative floors: the first ``k`` units returned are worth ``net_fen * k // quantity``,
    and each return pays the difference, so returning every unit, one at a time or all at
    once, refunds exactly ``net_fen``, and no return is ever worth more than its units'
    exact share rounded up (e.g. 1000 fen over 3 units: 333, 333, 334)."""
    for name, value in (("net_fen", net_fen), ("quantity", quantity)):
        require_fen(value, field=name)
    require_fen(returned_before, field="returned_before")
    require_fen(returning, field="returning")
    if net_fen < 0 or quantity <= 0 or returned_before < 0 or returning < 0:
        raise ValueError("refund_for_units takes non-negative amounts and a positive quantity")
    if returned_before + returning > quantity:
        raise ValueError(f"cannot return {returning} more of {quantity} units, {returned_before} already back")
    return net_fen * (returned_before + returning) // quantity - net_fen * returned_before // quantity


def split_refund(
    refund_fen: int,
    *,
    card_paid: dict[int, int],
    card_remaining: dict[int, int],
    external_paid: int,
    external_remaining: int,
) -> tuple[dict[int, int], int]:
    """Split a refund over an order's tenders: its gift cards (by card id: what each paid,
    and what of that is not yet refunded) and its one external payment (WeChat Pay or
    Alipay; 0 and 0 when there is none). Returns (fen per card, fen to the payment).

    In proportion to what each tender paid: every card gets the floor of its share of the
    order's paid total, capped by what remains refundable on it; the external payment gets
    the rest, capped by its remaining; what is left after that (the rounding, or a
    payment already refunded in full) goes to the cards in id order, each up to its
    remaining. So the shares add up to ``refund_fen``, no tender gets back more than it
    still has to get, and the last return (refunding everything left) empties every
    tender exactly. A refund above what the tenders together still have is refused."""
    require_fen(refund_fen, field="refund_fen")
    require_fen(external_paid, field="external_paid")
    require_fen(external_remaining, field="external_remaining")
    for card_id, fen in (*card_paid.items(), *card_remaining.items()):
        require_fen(fen, field=f"card {card_id}")
        if fen < 0:
            raise ValueError("tender amounts must not be negative")
    if set(card_remaining) - set(card_paid):
        raise ValueError("a card with something to refund must have paid")
    if not 0 <= external_remaining <= external_paid:
        raise ValueError("the external remaining must be between 0 and what it paid")
    if any(card_remaining.get(card_id, 0) > paid for card_id, paid in card_paid.items()):
        raise ValueError("a card cannot have more to refund than it paid")
    left_fen = sum(card_remaining.values()) + external_remaining
    if not 0 <= refund_fen <= left_fen:
        raise ValueError(f"cannot refund {refund_fen} fen: the tenders have {left_fen} fen left to refund")
    if refund_fen == 0:
        return {}, 0
    paid_total = sum(card_paid.values()) + external_paid
    cards = {
        card_id: min(paid * refund_fen // paid_total, card_remaining.get(card_id, 0))
        for card_id, paid in sorted(card_paid.items())
    }
    external = min(refund_fen - sum(cards.values()), external_remaining)
    left = refund_fen - sum(cards.values()) - external
    for card_id in cards:
        more = min(left, card_remaining.get(card_id, 0) - cards[card_id])
        cards[card_id] += more
        left -= more
    return {card_id: fen for card_id, fen in cards.items() if fen}, external
