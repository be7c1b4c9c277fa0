"""Report months are matched exactly: ``YYYY-MM`` in ASCII digits, nothing around it."""

from __future__ import annotations

import pytest

from kpilib.periods import MONTH_PATTERN, month_range, next_month, validate_month


@pytest.mark.parametrize("good", ["2026-10", "2026-01", "1999-12", "0001-01"])
def test_months_that_pass(good):
    assert validate_month(good) == good
    assert MONTH_PATTERN.fullmatch(good) and MONTH_PATTERN.match(good) and MONTH_PATTERN.search(good)


@pytest.mark.parametrize(
    "bad",
    [
        "2026-10\n",  # `$` would match before a trailing newline
        "2026-10\r\n",
        "\n2026-10",
        " 2026-10",
        "2026-10 ",
        "2026-10\x00",
        "２０２６-10",  # full-width digits are digits to `\d`
        "٢٠٢٦-10",  # Arabic-Indic digits too
        "2026-1０",
        "2026-13",
        "2026-00",
        "2026-1",
        "20261-10",
        "2026-10-01",
        "2026/10",
        "",
    ],
)
def test_months_that_do_not(bad):
    with pytest.raises(ValueError) as caught:
        validate_month(bad)
    assert str(caught.value) == f"month must look like 'YYYY-MM' (e.g. '2026-10'), got {bad!r}"
    # however the pattern is used, it does not match
    assert not MONTH_PATTERN.fullmatch(bad) and not MONTH_PATTERN.match(bad) and not MONTH_PATTERN.search(bad)


def test_ranges_and_shifts_validate_their_months():
    with pytest.raises(ValueError, match="YYYY-MM"):
        month_range("2026-09", "2026-10\n")
    with pytest.raises(ValueError, match="YYYY-MM"):
        next_month("2026-10\n")
    assert month_range("2026-11", "2027-01") == ["2026-11", "2026-12", "2027-01"]
