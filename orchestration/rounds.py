"""A DTM round's identity: operation, round number and reporting month.

DTM's cadence went from monthly to every two, then three to four months, and the API's series
has quirks (Round 48 twice, round numbers that skip, file dates a day off the API's), so a
round is never a calendar month alone and never a round number alone.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from datetime import date

import duckdb

from orchestration.settings import ADMIN0_PCODE, OPERATION

_OPERATION_SLUG = "conflict"
_KEY = re.compile(r"^(?P<admin0>[A-Z]{3})-(?P<op>[a-z-]+)-R(?P<round>\d{3,})-(?P<month>\d{4}-\d{2})$")


@dataclass(frozen=True)
class RoundId:
    round_number: int
    reporting_month: str  # YYYY-MM
    operation: str = OPERATION
    admin0_pcode: str = ADMIN0_PCODE

    @property
    def partition_key(self) -> str:
        return f"{self.admin0_pcode}-{_OPERATION_SLUG}-R{self.round_number:03d}-{self.reporting_month}"

    @classmethod
    def from_partition_key(cls, key: str) -> RoundId:
        match = _KEY.match(key)
        if not match:
            raise ValueError(f"'{key}' is not a round partition key such as IRQ-conflict-R112-2019-10")
        return cls(int(match["round"]), match["month"], admin0_pcode=match["admin0"])

    @classmethod
    def of(cls, round_number: int, reporting_date: date) -> RoundId:
        return cls(round_number, f"{reporting_date:%Y-%m}")


def sort_partition_keys(keys: list[str]) -> list[str]:
    """Reporting order: by month, then round number (Round 46 sits between the two Round 48s)."""
    return sorted(
        keys,
        key=lambda k: (
            RoundId.from_partition_key(k).reporting_month,
            RoundId.from_partition_key(k).round_number,
        ),
    )


LIST_FILE_NAMES = {"idp": "IDP", "returnee": "Returnee"}
NAMING_HINT = (
    "name round files like Round112_Master_List_Returnee_2019_10_31_IOM_DTM.xlsx "
    "(round number, IDP or Returnee, data-collection date YYYY_MM_DD), or put "
    "'Round <n>' and the date in the title rows above the header"
)

_ROUND = re.compile(r"round[\s_\-]*0*(\d{1,4})", re.IGNORECASE)
_LIST = re.compile(r"(?<![a-z])(idps?|returnees?)(?![a-z])", re.IGNORECASE)
_DATE = re.compile(r"(20\d{2})[\s_\-.](\d{1,2})[\s_\-.](\d{1,2})(?!\d)")
_TITLE_DATE = re.compile(
    r"(\d{1,2})\s+(January|February|March|April|May|June|July|August|September|October|"
    r"November|December)\s+(20\d{2})",
    re.IGNORECASE,
)
_MONTHS = {
    m: i
    for i, m in enumerate(
        [
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ],
        start=1,
    )
}


def round_file_name(list_type: str, round_number: int, file_date: date, extension: str) -> str:
    return (
        f"Round{round_number}_Master_List_{LIST_FILE_NAMES[list_type]}_"
        f"{file_date:%Y_%m_%d}_IOM_DTM.{extension}"
    )


@dataclass(frozen=True)
class RoundFileName:
    list_type: str | None
    round_number: int | None
    file_date: date | None


def parse_round_text(text: str) -> RoundFileName:
    """Round number, list type and data-collection date from a file name or a title row."""
    round_match = _ROUND.search(text)
    list_match = _LIST.search(text.replace("_", " "))
    list_type = None
    if list_match:
        list_type = "idp" if list_match[1].lower().startswith("idp") else "returnee"
    file_date = None
    if date_match := _DATE.search(text):
        file_date = _safe_date(int(date_match[1]), int(date_match[2]), int(date_match[3]))
    elif title_match := _TITLE_DATE.search(text):
        file_date = _safe_date(int(title_match[3]), _MONTHS[title_match[2].lower()], int(title_match[1]))
    return RoundFileName(list_type, int(round_match[1]) if round_match else None, file_date)


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


# A month's reach is assigned by its middle day: round files are dated a day or two either side
# of a month's end (Round 84 on 29 November), and early rounds on the 1st of the next month.
MID_MONTH = 15


@dataclass(frozen=True)
class RoundCalendar:
    """The rounds the warehouse knows, by reporting date: which round's period holds a day.

    A round's period runs from the day after the previous round's date to its own date; the
    earliest round holds its own reporting month. Days after the latest round belong to no round
    yet (their rows wait in the landing folder for that round's master list)."""

    dates: tuple[date, ...]
    keys: tuple[str, ...]

    @classmethod
    def of(cls, rounds: dict[str, date]) -> RoundCalendar:
        ordered = sorted(rounds.items(), key=lambda item: (item[1], item[0]))
        return cls(tuple(d for _, d in ordered), tuple(k for k, _ in ordered))

    def round_holding(self, day: date) -> str | None:
        index = bisect.bisect_left(self.dates, day)
        if index == len(self.dates):
            return None
        if index == 0 and day < self.dates[0].replace(day=1):
            return None
        return self.keys[index]

    def round_of_month(self, month: date) -> str | None:
        return self.round_holding(month.replace(day=MID_MONTH))

    @property
    def latest(self) -> date | None:
        return self.dates[-1] if self.dates else None


_MONTH_PREFIXES = {name[:3]: number for name, number in _MONTHS.items()}
_MONTH_TEXT = re.compile(r"^\s*(?P<a>[A-Za-z]+|\d{1,4})[\s/._-]+(?P<b>[A-Za-z]+|\d{1,4})")


def parse_month(text: str | None) -> date | None:
    """A reporting month as cluster sheets write it (2018-01, 2018-01-01, Jan 2018, January-2018,
    01/2018, an Excel date) → its first day; None when it cannot be told."""
    if not text:
        return None
    match = _MONTH_TEXT.match(text)
    if not match:
        return None
    first, second = match["a"], match["b"]
    if first.isdigit() and len(first) == 4:
        year, month_text = int(first), second
    elif second.isdigit() and len(second) == 4:
        year, month_text = int(second), first
    else:
        return None
    month = int(month_text) if month_text.isdigit() else _MONTH_PREFIXES.get(month_text.lower()[:3])
    if month is None or not 1 <= month <= 12:
        return None
    return date(year, month, 1)


class UnknownRound(ValueError):
    """A round a person named that the warehouse does not hold, or that names two."""


def resolve_round(con: duckdb.DuckDBPyConnection, round_text: str, table: str = "raw.load_batches") -> str:
    """A partition key from what a person types (the key itself or a round number), among the
    rounds of `table` (raw.load_batches for decisions, marts.round_quality for publications)."""
    keys = [
        row[0]
        for row in con.execute(
            f"select distinct partition_key from {table} "
            "where partition_key = ? or cast(round_number as varchar) = ltrim(?, 'Rr0') order by 1",
            [round_text, round_text],
        ).fetchall()
    ]
    if not keys:
        raise UnknownRound(f"No round {round_text} in the warehouse.")
    if len(keys) > 1:
        raise UnknownRound(f"Round {round_text} is ambiguous ({', '.join(keys)}): give the partition key.")
    return keys[0]
