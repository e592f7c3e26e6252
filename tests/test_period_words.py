"""Periods as people read them ("December 2026", "week of 23 Nov"); files and keys keep the ISO label."""

from __future__ import annotations

from datetime import date

from bot.teamhealth.periods import Period, containing


def test_periods_in_words_and_their_labels():
    assert (containing("month", date(2026, 12, 2)).title, containing("month", date(2026, 12, 2)).label) == ("December 2026", "2026-12")
    week = containing("week", date(2026, 11, 26))
    assert (week.title, week.label) == ("week of 23 Nov", "2026-W48")
    assert containing("week", date(2027, 1, 1)).title == "week of 28 Dec"  # ISO 2026-W53, across New Year
    assert containing("quarter", date(2026, 11, 5)).title == "Q4 2026"
    assert Period("range", date(2026, 12, 1), date(2027, 4, 1)).title == "1 Dec 2026 to 31 Mar 2027"
