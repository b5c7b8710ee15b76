"""Where a stream's cursor moves after a run (RULES O1, D1), pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mappings.windows import next_cursor, parse_timestamp

START = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
END = START + timedelta(minutes=10)


def test_o1_d1_a_clean_window_moves_the_cursor_to_its_end():
    assert next_cursor(START, END, None) == END


def test_o1_d1_a_record_that_failed_temporarily_is_read_again_by_the_next_run():
    """O1/D1: the cursor stops one second before the oldest record that failed temporarily (Handy
    filters by whole seconds, inclusive), never before the window's start nor past its end."""
    failed = START + timedelta(minutes=4, seconds=30)
    assert next_cursor(START, END, failed) == failed - timedelta(seconds=1)
    assert next_cursor(START, END, START) == START
    assert next_cursor(START, END, START - timedelta(hours=1)) == START
    assert next_cursor(START, END, END + timedelta(hours=1)) == END


def test_o1_handy_timestamps_are_read_as_aware_utc():
    assert parse_timestamp("2023-02-26T07:14:32Z") == datetime(2023, 2, 26, 7, 14, 32, tzinfo=UTC)
    assert parse_timestamp("2023-02-26T01:14:32-06:00") == datetime(
        2023, 2, 26, 7, 14, 32, tzinfo=UTC
    )
    assert parse_timestamp("2023-02-26T07:14:32") == datetime(2023, 2, 26, 7, 14, 32, tzinfo=UTC)
    assert parse_timestamp("") is None and parse_timestamp(None) is None
