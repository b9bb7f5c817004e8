"""Report periods shared by every report (oversight's compliance, messages' periodic report, the API): a year
("2026"), a quarter ("2026-Q4") or a month ("2026-11"), as Shanghai calendar days [start, end)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from app.core.errors import DomainError
from app.core.timeutil import from_local


@dataclass
class Period:
    key: str  # "2026-Q4" or "2026-11"
    start: date
    end: date  # exclusive

    @property
    def starts_at(self) -> datetime:
        return from_local(self.start)

    @property
    def ends_at(self) -> datetime:
        return from_local(self.end)


class PeriodError(DomainError, ValueError):
    """A period key that is neither a year, a quarter (2026-Q4) nor a month (2026-11)."""


def parse_period(key: str) -> Period:
    try:
        year_s, _, part = key.partition("-")
        year = int(year_s)
        if not part:
            if not 2000 <= year <= 2100:
                raise ValueError
            return Period(str(year), date(year, 1, 1), date(year + 1, 1, 1))
        if part.upper().startswith("Q"):
            q = int(part[1:])
            if not 1 <= q <= 4 or not 2000 <= year <= 2100:
                raise ValueError
            start = date(year, 3 * (q - 1) + 1, 1)
            end = date(year + (q == 4), 1 if q == 4 else 3 * q + 1, 1)
            return Period(f"{year}-Q{q}", start, end)
        month = int(part)
        if not 1 <= month <= 12 or not 2000 <= year <= 2100:
            raise ValueError
        start = date(year, month, 1)
        end = date(year + (month == 12), 1 if month == 12 else month + 1, 1)
        return Period(f"{year}-{month:02d}", start, end)
    except (ValueError, IndexError) as exc:
        raise PeriodError(key) from exc
