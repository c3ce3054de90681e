from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.engine.default import DefaultDialect

from {{ cookiecutter.package_name }}.models import UTCDateTime

DIALECT = DefaultDialect()  # the conversions are the same on every database
PARIS_WINTER = timezone(timedelta(hours=1))


def test_timestamps_are_stored_in_utc() -> None:
    local = datetime(2026, 1, 1, 13, 0, tzinfo=PARIS_WINTER)
    stored = UTCDateTime().process_bind_param(local, DIALECT)
    assert stored == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert stored is not None
    assert stored.tzinfo is UTC


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        UTCDateTime().process_bind_param(datetime(2026, 1, 1), DIALECT)


@pytest.mark.parametrize(
    "loaded",
    [datetime(2026, 1, 1, 12, 0), datetime(2026, 1, 1, 13, 0, tzinfo=PARIS_WINTER)],
)
def test_loaded_timestamps_are_aware_utc(loaded: datetime) -> None:
    result = UTCDateTime().process_result_value(loaded, DIALECT)
    assert result == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert result is not None
    assert result.tzinfo is UTC


def test_null_stays_null() -> None:
    assert UTCDateTime().process_bind_param(None, DIALECT) is None
    assert UTCDateTime().process_result_value(None, DIALECT) is None
