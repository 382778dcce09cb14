"""resource.Quantity parsing and canonical printing."""
from fractions import Fraction

import pytest

from apiserver.runtime import quantity as q


@pytest.mark.parametrize("text,canonical", [
    ("1000m", "1"),
    ("1500m", "1500m"),
    ("0.5", "500m"),
    ("1.0", "1"),
    ("100m", "100m"),
    ("1024Mi", "1Gi"),
    ("1.5Gi", "1536Mi"),
    ("0.5Ki", "512"),                  # fractional binary → decimal
    ("1023Ki", "1023Ki"),
    ("0.1Gi", "107374182400m"),
    ("2e3", "2e3"),
    ("1000e0", "1e3"),
    ("1.5e3", "1500"),
    ("1e-3", "1e-3"),
    ("12e6", "12e6"),
    ("1000M", "1G"),
    ("1.5k", "1500"),
    ("0", "0"),
    ("0m", "0"),
    ("0Gi", "0"),
    ("-1Ki", "-1Ki"),
    ("-1500m", "-1500m"),
    ("0.0000000001", "1n"),            # sub-nano rounds up (away from zero)
    ("-0.0000000001", "-1n"),
    ("16Ei", "9223372036854775807"),    # BinarySI is capped at 2^63-1
    ("01", "01"),                       # upstream echoes inputs it considers canonical
    ("+1", "+1"),
    ("1.G", "1.G"),
    (".", "0"),
    (3, "3"),
    (0.25, "250m"),
])
def test_canonical(text, canonical):
    assert q.canonical(text) == canonical


@pytest.mark.parametrize("text,value", [
    ("1Ki", 1024),
    ("1k", 1000),
    ("250m", Fraction(1, 4)),
    ("1E", 10 ** 18),
    ("1Ei", 2 ** 60),
    ("2e3", 2000),
    ("-2", -2),
])
def test_value(text, value):
    assert q.parse_quantity(text).value == value


@pytest.mark.parametrize("text,message", [
    ("", q.ERR_FORMAT),
    ("abc", q.ERR_FORMAT),
    ("1x", q.ERR_FORMAT),
    ("1.2.3", q.ERR_FORMAT),
    ("1 ", q.ERR_FORMAT),
    ("1e", q.ERR_SUFFIX),
    ("1Mi5", q.ERR_SUFFIX),
    ("1iK", q.ERR_SUFFIX),
    ("--1", q.ERR_SUFFIX),
    (True, q.ERR_FORMAT),
    (None, q.ERR_FORMAT),
])
def test_invalid(text, message):
    with pytest.raises(q.QuantityError) as info:
        q.parse_quantity(text)
    assert str(info.value) == message


def test_format_error_text_is_upstreams():
    assert q.ERR_FORMAT == ("quantities must match the regular expression "
                            "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")


def test_comparison_ignores_format():
    assert q.parse_quantity("1Gi") == q.parse_quantity("1073741824")
    assert q.parse_quantity("500m") < q.parse_quantity("1")
    assert q.parse_quantity("2") > 1
    assert sorted(map(q.parse_quantity, ["1Gi", "1", "100m"]))[0].value == Fraction(1, 10)
