"""What a shopper's scan turns into: GS1 product codes and the store's own scale labels.

Every valid vector here was checked against an implementation of the GS1 rules written
apart from ``stores.barcodes`` (see ``_reference_check_digit`` and ``_reference_verifier``),
so the module is not graded against itself.
"""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from hypothesis import assume, example, given
from hypothesis import strategies as st

from miniprogram_api.core.errors import InvalidInput
from stores.barcodes import (
    InvalidBarcode,
    ProductCode,
    VariableMeasureCode,
    gs1_check_digit,
    parse,
    price_verifier_digit,
)


def _reference_check_digit(body: str) -> int:
    """GS1 mod 10 as the General Specifications tabulate it: pad to 17 digits, weights from the left."""
    padded = body.zfill(17)
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(padded))
    return -total % 10


def _reference_verifier(price: str) -> int:
    """The 4-digit price verifier computed from the spec's words, not from lookup tables."""

    def minus(digit: int, weight: int) -> int:  # "2-", "5-": units digit minus tens digit
        product = digit * weight
        return (product % 10 - product // 10) % 10

    a, b, c, d = (int(x) for x in price)
    return (minus(a, 2) + minus(b, 2) + (3 * c) % 10 + minus(d, 5)) * 3 % 10


def _with_check(body: str) -> str:
    return body + str(_reference_check_digit(body))


def _assert_invalid(raw: object) -> InvalidBarcode:
    with pytest.raises(InvalidBarcode) as caught:
        parse(raw)
    assert caught.value.code == "invalid_barcode"
    assert isinstance(caught.value, InvalidInput)  # the API edge answers 400, not 500
    return caught.value


def _other_digits(digit: str) -> list[str]:
    return [d for d in "0123456789" if d != digit]


FORMAT_BY_LENGTH = {8: "GTIN-8", 12: "UPC-A", 13: "EAN-13", 14: "GTIN-14"}
IN_STORE_PREFIXES = [f"{n}" for n in range(20, 30)]


# --- GS1 product codes ------------------------------------------------------------------

VALID_PRODUCT_CODES = [
    # printed, format, 14-digit GTIN
    ("96385074", "GTIN-8", "00000096385074"),
    ("036000291452", "UPC-A", "00036000291452"),
    ("4006381333931", "EAN-13", "04006381333931"),
    ("6901234567892", "EAN-13", "06901234567892"),
    ("6901028075831", "EAN-13", "06901028075831"),
    ("6920152400012", "EAN-13", "06920152400012"),
    ("6971234567895", "EAN-13", "06971234567895"),
    ("10012345678902", "GTIN-14", "10012345678902"),
]


@pytest.mark.parametrize(("printed", "fmt", "gtin"), VALID_PRODUCT_CODES, ids=[v[0] for v in VALID_PRODUCT_CODES])
def test_valid_product_code_reads_as_its_14_digit_gtin(printed, fmt, gtin):
    assert parse(printed) == ProductCode(gtin=gtin, format=fmt, printed=printed)


@pytest.mark.parametrize(("printed", "fmt", "gtin"), VALID_PRODUCT_CODES, ids=[v[0] for v in VALID_PRODUCT_CODES])
def test_vectors_carry_the_check_digit_the_gs1_rule_gives(printed, fmt, gtin):
    assert gs1_check_digit(printed[:-1]) == _reference_check_digit(printed[:-1]) == int(printed[-1])


@pytest.mark.parametrize(("printed", "fmt", "gtin"), VALID_PRODUCT_CODES, ids=[v[0] for v in VALID_PRODUCT_CODES])
def test_every_wrong_check_digit_is_refused_as_invalid_barcode(printed, fmt, gtin):
    for wrong in _other_digits(printed[-1]):
        error = _assert_invalid(printed[:-1] + wrong)
        assert error.details == {"barcode": printed[:-1] + wrong}


def test_upc_a_and_its_ean13_and_gtin14_spellings_are_the_same_gtin():
    upc_a, ean_13, gtin_14 = parse("036000291452"), parse("0036000291452"), parse("00036000291452")

    assert upc_a.gtin == ean_13.gtin == gtin_14.gtin == "00036000291452"
    assert (upc_a.format, ean_13.format, gtin_14.format) == ("UPC-A", "EAN-13", "GTIN-14")
    assert (upc_a.printed, ean_13.printed, gtin_14.printed) == ("036000291452", "0036000291452", "00036000291452")


def test_gtin8_and_its_padded_gtin14_spelling_are_the_same_gtin():
    assert parse("96385074").gtin == parse("00000096385074").gtin == "00000096385074"


def test_chinese_gs1_prefix_690_to_699_codes_are_ordinary_products():
    for printed in ("6901234567892", "6920152400012", "6971234567895"):
        code = parse(printed)
        assert isinstance(code, ProductCode)
        assert code.format == "EAN-13"


def test_a_case_gtin14_with_indicator_1_is_not_the_gtin_of_the_unit_inside():
    case, unit = parse("10012345678902"), parse("0012345678905")

    assert unit.gtin == "00012345678905"
    assert case.gtin == "10012345678902"
    assert case.gtin != unit.gtin


def test_a_scanner_newline_or_surrounding_spaces_are_tolerated():
    assert parse(" 6901234567892\n").gtin == "06901234567892"
    assert parse("\t036000291452\r\n").printed == "036000291452"


def test_gs1_check_digit_of_known_bodies():
    assert gs1_check_digit("9638507") == 4
    assert gs1_check_digit("03600029145") == 2
    assert gs1_check_digit("400638133393") == 1
    assert gs1_check_digit("690123456789") == 2
    assert gs1_check_digit("1001234567890") == 2


# --- Garbage in: always InvalidBarcode, never anything else -----------------------------

_FULL_WIDTH_ZERO, _ARABIC_INDIC_ZERO, _DEVANAGARI_ZERO = 0xFF10, 0x0660, 0x0966
_SUPERSCRIPTS = str.maketrans("0123456789", "\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079")


def _in_script(zero: int, digits: str) -> str:
    """``digits`` written in another script's decimal digits (``str.isdigit`` is true for them)."""
    return "".join(chr(zero + int(d)) for d in digits)


GARBAGE = [
    pytest.param("", id="empty"),
    pytest.param("   ", id="spaces-only"),
    pytest.param("\n\t", id="whitespace-only"),
    pytest.param("abcdefghijklm", id="letters"),
    pytest.param("690123456789X", id="letter-in-place-of-check-digit"),
    pytest.param("6901234-567892", id="hyphen"),
    pytest.param("6901234 567892", id="inner-space"),
    pytest.param("+6901234567892", id="sign"),
    pytest.param("6.901234567892", id="decimal-point"),
    pytest.param("0x6901234567892", id="hex-prefix"),
    pytest.param("1" * 200, id="200-digits"),
    pytest.param("0" * 65, id="65-digits"),
    pytest.param("1234567", id="7-digits"),
    pytest.param("123456789", id="9-digits"),
    pytest.param("1234567890", id="10-digits"),
    pytest.param("12345678901", id="11-digits"),
    pytest.param("123456789012345", id="15-digits"),
    pytest.param(_in_script(_FULL_WIDTH_ZERO, "6901234567892"), id="full-width-digits"),
    pytest.param(_in_script(_ARABIC_INDIC_ZERO, "6901234567892"), id="arabic-indic-digits"),
    pytest.param(_in_script(_DEVANAGARI_ZERO, "6901234567892"), id="devanagari-digits"),
    pytest.param("690123456789" + _in_script(_FULL_WIDTH_ZERO, "2"), id="full-width-check-digit"),
    pytest.param("2012345012998".translate(_SUPERSCRIPTS), id="superscript-digits"),
    pytest.param("6901234567892\x00", id="nul-byte"),
    pytest.param(None, id="None"),
    pytest.param(6901234567892, id="int"),
    pytest.param(6901234567892.0, id="float"),
    pytest.param(True, id="bool"),
    pytest.param(b"6901234567892", id="bytes"),
    pytest.param(["6901234567892"], id="list"),
    pytest.param({"barcode": "6901234567892"}, id="dict"),
    pytest.param(object(), id="object"),
]


@pytest.mark.parametrize("raw", GARBAGE)
def test_garbage_is_refused_as_invalid_barcode(raw):
    _assert_invalid(raw)


# --- In-store variable-measure labels (default layouts) ---------------------------------


def test_default_layouts_are_in_force():
    assert django_settings.STORE_BARCODE_LAYOUTS == django_settings.STORE_BARCODE_LAYOUTS_DEFAULT


@pytest.mark.parametrize(
    ("printed", "prefix", "item_code", "price_fen"),
    [
        ("2012345012998", "20", "12345", 1299),
        ("2100007004501", "21", "00007", 450),
        ("2012345999992", "20", "12345", 99999),
        ("2000001000014", "20", "00001", 1),
    ],
)
def test_price_label_without_verifier_gives_item_and_price_in_fen(printed, prefix, item_code, price_fen):
    assert parse(printed) == VariableMeasureCode(
        prefix=prefix, item_code=item_code, price_fen=price_fen, weight_g=None, printed=printed
    )


@pytest.mark.parametrize(
    ("printed", "prefix", "item_code", "price_fen"),
    [
        ("2212345928750", "22", "12345", 2875),
        ("2300001904504", "23", "00001", 450),
        ("2400002699994", "24", "00002", 9999),
    ],
)
def test_price_label_with_verifier_gives_item_and_price_in_fen(printed, prefix, item_code, price_fen):
    assert parse(printed) == VariableMeasureCode(
        prefix=prefix, item_code=item_code, price_fen=price_fen, weight_g=None, printed=printed
    )


def test_price_verifier_of_2875_is_9_as_in_the_gs1_general_specifications():
    # 2- 2- 3 5- on 2 8 7 5 gives 4 5 1 3; sum 13; 13 x 3 = 39; units digit 9.
    assert price_verifier_digit("2875") == 9


def test_price_verifier_matches_the_gs1_rule_for_every_4_digit_price():
    mismatches = [p for p in (f"{n:04d}" for n in range(10_000)) if price_verifier_digit(p) != _reference_verifier(p)]
    assert mismatches == []


@pytest.mark.parametrize("price", ["287", "28750", "28a5", ""])
def test_price_verifier_is_only_defined_for_4_digit_prices(price):
    with pytest.raises(ValueError):
        price_verifier_digit(price)


def test_wrong_price_verifier_is_refused_even_when_the_check_digit_is_right():
    assert parse("2212345928750").price_fen == 2875
    for wrong in _other_digits("9"):
        forged = _with_check(f"2212345{wrong}2875")
        assert _reference_check_digit(forged[:-1]) == int(forged[-1])
        error = _assert_invalid(forged)
        assert error.details == {"barcode": forged}


def test_relabelled_price_with_recomputed_check_digit_is_caught_by_the_verifier():
    # Someone edits 28.75 to 18.75 and reprints a label whose overall check digit is right.
    forged = _with_check("22123459" + "1875")
    assert forged == "2212345918751"
    _assert_invalid(forged)


@pytest.mark.parametrize(
    ("printed", "prefix", "item_code", "weight_g"),
    [
        ("2500042007503", "25", "00042", 750),
        ("2900001000017", "29", "00001", 1),
        (_with_check("260123412345"), "26", "01234", 12345),
        (_with_check("270000199999"), "27", "00001", 99999),
        (_with_check("289999901500"), "28", "99999", 1500),
    ],
)
def test_weight_label_gives_item_and_weight_in_grams(printed, prefix, item_code, weight_g):
    assert parse(printed) == VariableMeasureCode(
        prefix=prefix, item_code=item_code, price_fen=None, weight_g=weight_g, printed=printed
    )


@pytest.mark.parametrize(
    "printed",
    [
        pytest.param("2012345000001", id="price-no-verifier"),
        pytest.param("2212345000005", id="price-with-verifier"),
        pytest.param("2500042000009", id="weight"),
    ],
)
def test_label_with_zero_price_or_weight_is_refused(printed):
    assert _reference_check_digit(printed[:-1]) == int(printed[-1])
    error = _assert_invalid(printed)
    assert error.details == {"barcode": printed}


def test_in_store_label_with_a_wrong_check_digit_is_refused():
    for printed in ("2012345012998", "2212345928750", "2500042007503"):
        for wrong in _other_digits(printed[-1]):
            _assert_invalid(printed[:-1] + wrong)


def test_in_store_label_read_as_gtin14_is_the_same_label():
    assert parse("02212345928750") == VariableMeasureCode(
        prefix="22", item_code="12345", price_fen=2875, weight_g=None, printed="02212345928750"
    )
    assert parse("02500042007503").weight_g == 750


def test_in_store_label_read_as_gtin14_still_has_its_verifier_and_value_checked():
    _assert_invalid("0" + _with_check("22123458" + "2875"))
    _assert_invalid("0" + "2012345000001")


def test_upc_a_starting_with_2_is_not_an_in_store_label():
    code = parse(_with_check("20123450129"))
    assert isinstance(code, ProductCode)
    assert code.format == "UPC-A"


def test_gtin8_starting_with_2_is_not_an_in_store_label():
    code = parse(_with_check("2012345"))
    assert isinstance(code, ProductCode)
    assert code.format == "GTIN-8"


# --- Custom layouts (settings.STORE_BARCODE_LAYOUTS) ------------------------------------


def test_custom_layout_with_4_digit_item_and_6_digit_weight_is_honoured(settings):
    settings.STORE_BARCODE_LAYOUTS = {"20": {"item_digits": 4, "value": "weight", "verifier": False}}

    assert parse("2012340015000") == VariableMeasureCode(
        prefix="20", item_code="1234", price_fen=None, weight_g=1500, printed="2012340015000"
    )


def test_custom_layout_turns_a_price_prefix_into_a_weight_prefix(settings):
    printed = "2012345012998"  # 12.99 RMB under the default layout
    assert parse(printed).price_fen == 1299

    settings.STORE_BARCODE_LAYOUTS = {"20": {"item_digits": 5, "value": "weight", "verifier": False}}

    assert parse(printed) == VariableMeasureCode(
        prefix="20", item_code="12345", price_fen=None, weight_g=1299, printed=printed
    )


def test_prefix_left_out_of_a_custom_layout_reads_as_an_ordinary_ean13(settings):
    settings.STORE_BARCODE_LAYOUTS = {"20": {"item_digits": 4, "value": "weight", "verifier": False}}

    assert parse("2500042007503") == ProductCode(gtin="02500042007503", format="EAN-13", printed="2500042007503")


def test_custom_layout_with_a_verifier_checks_it(settings):
    settings.STORE_BARCODE_LAYOUTS = {"21": {"item_digits": 5, "value": "weight", "verifier": True}}

    assert parse(_with_check("21000429" + "2875")).weight_g == 2875
    _assert_invalid(_with_check("21000428" + "2875"))


# --- Properties -------------------------------------------------------------------------

_DEFAULT_LAYOUTS = django_settings.STORE_BARCODE_LAYOUTS_DEFAULT


def _in_store_ean13(code: str) -> str | None:
    """The EAN-13 in-store label ``code`` spells, if any (13 digits, or 14 with indicator 0)."""
    ean13 = code.zfill(14)[1:] if len(code) >= 13 and code.zfill(14)[0] == "0" else None
    return ean13 if ean13 and ean13[:2] in _DEFAULT_LAYOUTS else None


_bodies = st.sampled_from([7, 11, 12, 13]).flatmap(lambda n: st.text(alphabet="0123456789", min_size=n, max_size=n))


@given(body=_bodies)
@example(body="690123456789")
@example(body="0000000")
def test_any_body_with_its_check_digit_is_a_product_code(body):
    code = body + str(gs1_check_digit(body))
    assume(_in_store_ean13(code) is None)

    parsed = parse(code)

    assert parsed == ProductCode(gtin=code.zfill(14), format=FORMAT_BY_LENGTH[len(code)], printed=code)
    assert gs1_check_digit(body) == _reference_check_digit(body)


@given(body=_bodies)
@example(body="0221234592875")  # an in-store label spelled as a GTIN-14
@example(body="0221234582875")  # the same with a wrong price verifier
def test_any_body_with_its_check_digit_parses_or_is_a_refused_in_store_label(body):
    code = body + str(gs1_check_digit(body))
    try:
        parsed = parse(code)
    except InvalidBarcode:
        assert _in_store_ean13(code) is not None  # only a label's verifier or zero value may refuse it
    else:
        assert isinstance(parsed, VariableMeasureCode) == (_in_store_ean13(code) is not None)


@given(body=_bodies, data=st.data())
def test_any_single_digit_substitution_is_detected(body, data):
    code = body + str(gs1_check_digit(body))
    position = data.draw(st.integers(min_value=0, max_value=len(code) - 1), label="position")
    digit = data.draw(st.sampled_from(_other_digits(code[position])), label="digit")

    _assert_invalid(code[:position] + digit + code[position + 1 :])


_in_store_labels = st.tuples(
    st.sampled_from(IN_STORE_PREFIXES),
    st.integers(min_value=0, max_value=99_999),
    st.integers(min_value=1, max_value=99_999),
)


@given(label=_in_store_labels)
def test_any_well_formed_in_store_label_gives_back_its_item_and_value(label):
    prefix, item, value = label
    layout = _DEFAULT_LAYOUTS[prefix]
    if layout["verifier"]:
        value %= 10_000
        assume(value > 0)
        field = f"{_reference_verifier(f'{value:04d}')}{value:04d}"
    else:
        field = f"{value:05d}"
    printed = _with_check(f"{prefix}{item:05d}{field}")

    parsed = parse(printed)

    is_price = layout["value"] == "price"
    assert parsed == VariableMeasureCode(
        prefix=prefix,
        item_code=f"{item:05d}",
        price_fen=value if is_price else None,
        weight_g=None if is_price else value,
        printed=printed,
    )


@given(
    prefix=st.sampled_from([p for p in IN_STORE_PREFIXES if _DEFAULT_LAYOUTS[p]["verifier"]]),
    price=st.integers(min_value=1, max_value=9_999),
    data=st.data(),
)
def test_any_single_digit_change_to_a_verified_price_is_caught_even_with_a_fixed_check_digit(prefix, price, data):
    digits = f"{price:04d}"
    verifier = _reference_verifier(digits)
    position = data.draw(st.integers(min_value=0, max_value=3), label="position")
    digit = data.draw(st.sampled_from(_other_digits(digits[position])), label="digit")
    altered = digits[:position] + digit + digits[position + 1 :]

    _assert_invalid(_with_check(f"{prefix}00042{verifier}{altered}"))


_digit_heavy_text = st.text(
    alphabet=st.one_of(
        st.sampled_from("0123456789"),
        st.sampled_from(" \t\n\r\x00+-.\uff12\u0666\u096c\u00b2"),
        st.characters(categories=["Nd"]),
    ),
    max_size=80,
)


@given(raw=st.one_of(st.text(), _digit_heavy_text))
@example(raw="6901234567892")
@example(raw="\u3000" + "6901234567892" + "\u3000")
def test_parse_of_any_text_gives_a_code_or_invalid_barcode_and_nothing_else(raw):
    try:
        parsed = parse(raw)
    except InvalidBarcode as error:
        assert error.code == "invalid_barcode"
    else:
        assert isinstance(parsed, ProductCode | VariableMeasureCode)
        assert parsed.printed.isascii()
        assert parsed.printed.isdigit()
        assert len(parsed.printed) in {8, 12, 13, 14}


@given(
    raw=st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=True),
        st.binary(),
        st.lists(st.text(alphabet="0123456789", max_size=14), max_size=3),
        st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
    )
)
def test_parse_of_anything_but_a_string_is_invalid_barcode(raw):
    _assert_invalid(raw)
