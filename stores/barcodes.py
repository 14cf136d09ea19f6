"""Reading what a shopper's phone scanned: GS1 product codes and in-store codes.

* GTIN-8, UPC-A (12), EAN-13 and GTIN-14, each with its mod-10 check digit. Every form
  is normalised to the 14-digit GTIN, so a UPC-A and the EAN-13 it is spelled as
  (``0`` + UPC-A) find the same product.
* In-store variable-measure EAN-13 codes (prefix 20-29, GS1 "restricted circulation"):
  the store's scale prints a label with an item code and either the price in fen or the
  weight in grams, optionally guarded by the GS1 4-digit price verifier digit. The layout
  per prefix is the retailer's choice (``settings.STORE_BARCODE_LAYOUTS``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from django.conf import settings

from miniprogram_api.core.errors import InvalidInput, NotFound


class InvalidBarcode(InvalidInput):
    code = "invalid_barcode"
    default_message = "This is not a valid barcode; scan it again."


class UnknownBarcode(NotFound):
    code = "unknown_barcode"
    default_message = "This barcode is not in our catalogue."


@dataclass(frozen=True)
class ProductCode:
    """A GTIN; ``gtin`` is its 14-digit form, ``format`` how it was printed."""

    gtin: str
    format: Literal["GTIN-8", "UPC-A", "EAN-13", "GTIN-14"]
    printed: str


@dataclass(frozen=True)
class VariableMeasureCode:
    """An in-store label: item code plus the embedded price (fen) or weight (grams)."""

    prefix: str
    item_code: str
    price_fen: int | None
    weight_g: int | None
    printed: str


FORMATS = {8: "GTIN-8", 12: "UPC-A", 13: "EAN-13", 14: "GTIN-14"}
MAX_INPUT_LENGTH = 64


def gs1_check_digit(body: str) -> int:
    """The GS1 mod-10 check digit for ``body`` (all digits but the check digit).

    Weights 3 and 1 alternate from the rightmost digit of the body, whatever its length,
    which is why one function serves GTIN-8, -12, -13 and -14.
    """
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


# GS1 General Specifications, price verifier weighting factors. "2-" and "5-" take the
# units digit of the product minus its tens digit; the tables below are those results.
_WEIGHT_2_MINUS = (0, 2, 4, 6, 8, 9, 1, 3, 5, 7)
_WEIGHT_3 = (0, 3, 6, 9, 2, 5, 8, 1, 4, 7)
_WEIGHT_5_MINUS = (0, 5, 9, 4, 8, 3, 7, 2, 6, 1)


def price_verifier_digit(price: str) -> int:
    """GS1 check digit for a 4-digit price field: weights 2-, 2-, 3, 5-; sum x 3; units."""
    if len(price) != 4 or not price.isdigit():
        raise ValueError("the price verifier digit is defined for 4-digit prices")
    d = [int(c) for c in price]
    total = _WEIGHT_2_MINUS[d[0]] + _WEIGHT_2_MINUS[d[1]] + _WEIGHT_3[d[2]] + _WEIGHT_5_MINUS[d[3]]
    return (total * 3) % 10


def parse(raw: object) -> ProductCode | VariableMeasureCode:
    """Validate a scanned string; raise ``InvalidBarcode`` for anything else."""
    if not isinstance(raw, str):
        raise InvalidBarcode("A barcode is a string of digits.")
    text = raw.strip()
    if not text or len(text) > MAX_INPUT_LENGTH or not text.isascii() or not text.isdigit():
        raise InvalidBarcode("A barcode is 8, 12, 13 or 14 digits.")
    if len(text) not in FORMATS:
        raise InvalidBarcode(f"A barcode is 8, 12, 13 or 14 digits, not {len(text)}.")
    if gs1_check_digit(text[:-1]) != int(text[-1]):
        raise InvalidBarcode("The check digit is wrong; scan it again.", details={"barcode": text})

    gtin = text.zfill(14)
    # An in-store label is an EAN-13; a reader that reports GTIN-14 spells it with a leading
    # indicator 0, and that spelling must read as the same label, not as an unknown product.
    ean13 = gtin[1:] if len(text) >= 13 and gtin[0] == "0" else None
    layout = settings.STORE_BARCODE_LAYOUTS.get(ean13[:2]) if ean13 else None
    if layout is not None:
        return _parse_variable_measure(ean13, layout, printed=text)
    return ProductCode(gtin=gtin, format=FORMATS[len(text)], printed=text)  # type: ignore[arg-type]


def _parse_variable_measure(text: str, layout: dict, *, printed: str) -> VariableMeasureCode:
    """``PP`` prefix, item code, [verifier], value, check digit: the 13 digits of ``text``."""
    item_digits = int(layout["item_digits"])
    verifier = bool(layout.get("verifier"))
    start = 2 + item_digits + (1 if verifier else 0)
    value = text[start:12]
    if not value:
        raise InvalidBarcode("This in-store code layout leaves no digits for the value.")
    if verifier:
        if len(value) != 4:
            raise InvalidBarcode("A price verifier digit needs a 4-digit price field.")
        if price_verifier_digit(value) != int(text[start - 1]):
            raise InvalidBarcode("The price verifier digit is wrong; scan it again.", details={"barcode": printed})
    amount = int(value)
    if amount <= 0:
        raise InvalidBarcode("The label carries no price or weight.", details={"barcode": printed})
    is_price = layout["value"] == "price"
    return VariableMeasureCode(
        prefix=text[:2],
        item_code=text[2 : 2 + item_digits],
        price_fen=amount if is_price else None,
        weight_g=None if is_price else amount,
        printed=printed,
    )
