"""Checkout's domain errors, each with the stable ``code`` the API shows.

Each picks the kind (``NotFound``, ``Conflict``, ...) that the API edge maps to a status,
so adding one needs no change at the edge. Errors of the barcode itself
(``invalid_barcode``, ``unknown_barcode``, ``not_sold_here``) are the stores app's.
"""

from __future__ import annotations

from miniprogram_api.core.errors import Conflict, InvalidInput, NotFound, Unprocessable

# --- Baskets ------------------------------------------------------------------------------


class BasketNotFound(NotFound):
    """Also what another shopper's basket is: a 404, never a 403, so ids reveal nothing."""

    code = "basket_not_found"
    default_message = "There is no basket with this id."


class BasketLineNotFound(NotFound):
    code = "basket_line_not_found"
    default_message = "This basket has no line with this id."


class BasketNotOpen(Conflict):
    """The basket is checked out, expired or released: it takes no more changes.

    ``details.status`` says which; the client opens a new basket."""

    code = "basket_not_open"
    default_message = "This basket is closed; open a new one to keep shopping."


class BasketFrozen(BasketNotOpen):
    """The basket's order awaits payment. A code of its own, because the client's way out
    differs: resume (or cancel) the payment rather than open a new basket."""

    code = "basket_frozen"
    default_message = "This basket is being paid for; finish or cancel the payment first."


class ScanAndGoUnavailable(Unprocessable):
    code = "scan_and_go_unavailable"
    default_message = "Scan & pay is not available at this store."


class StoreClosed(Unprocessable):
    code = "store_closed"
    default_message = "This store is closed now."


class QuantityLimit(Unprocessable):
    code = "quantity_limit"
    default_message = "At most 99 of one product per basket."


class TooManyLines(Unprocessable):
    code = "too_many_lines"
    default_message = "This basket is full; pay for it and open another."


class WeightLabelRequired(Unprocessable):
    """The manufacturer's code on a product sold by weight says nothing of how much."""

    code = "weight_label_required"
    default_message = "This product is sold by weight: weigh it at the scale and scan the label."


class ImplausibleLabelPrice(Unprocessable):
    code = "implausible_label_price"
    default_message = "The price on this label does not look right; ask a member of staff."


class ImplausibleLabelWeight(Unprocessable):
    code = "implausible_label_weight"
    default_message = "The weight on this label does not look right; ask a member of staff."


class LabelQuantityNotAllowed(InvalidInput):
    """A quantity sent with a scale label: each label is one item, so it is refused rather
    than silently ignored (a client sending 3 expects 3)."""

    code = "label_quantity_not_allowed"
    default_message = "A scale label is one item; scan each label separately."


class LabelQuantityFixed(Unprocessable):
    code = "label_quantity_fixed"
    default_message = "A scale label is one item; remove the line instead of changing its quantity."
