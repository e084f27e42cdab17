"""Hostile and broken variants of real round files: each is refused with a reason that names
the file (and the row and column where there is one) or loaded whole; nothing crashes."""

import csv
import io
import zipfile
from pathlib import Path

import pytest

from orchestration.readers.round_files import RejectedFile, read_round_file

NAME = "Round88_Master_List_IDP_2018_01_31_IOM_DTM"
FIXTURE = Path(__file__).parent / "fixtures" / "round_files" / f"{NAME}.csv"


def rows() -> list[list[str]]:
    with FIXTURE.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def as_csv(table: list[list[str]], delimiter: str = ",") -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter).writerows(table)
    return buffer.getvalue()


def header_only() -> list[list[str]]:
    table = rows()
    return [table[0], ["Totals: Locations:0"] + [""] * (len(table[0]) - 1)]


def duplicate_families() -> list[list[str]]:
    table = rows()
    column = table[0].index("Individuals")
    table[0][column] = "Families"
    return table


def without_governorate() -> list[list[str]]:
    table = rows()
    column = table[0].index("Governorate")
    return [row[:column] + row[column + 1 :] for row in table]


def data_after_totals() -> list[list[str]]:
    table = rows()
    return [*table, table[1]]


def thousands_in_cells() -> list[list[str]]:
    table = rows()
    column = table[0].index("Individuals")
    table[1][column] = f"{int(table[1][column]):,}"
    return table


def individuals_written(text: str) -> list[list[str]]:
    """The first location's individuals written as `text` formats them (same value)."""
    table = rows()
    column = table[0].index("Individuals")
    table[1][column] = text.format(int(table[1][column]))
    return table


def long_rows_and_blank_lines() -> list[list[str]]:
    table = rows()
    table[1] = [*table[1], "stray note"]
    return [table[0], [], *table[1:], [], []]


REFUSED = {
    "empty.csv": (b"", "empty"),
    "binary.csv": (b"\x00\x01\x02PK\x00", "binary data"),
    "html-as-xls.xls": (
        b"<html><table><tr><td>Governorate</td></tr></table></html>",
        "not a readable workbook",
    ),
    "truncated.xlsx": (None, "not a readable workbook"),
    "header-only.csv": (as_csv(header_only()).encode(), "no location rows"),
    "duplicate-families.csv": (as_csv(duplicate_families()).encode(), "both mean households"),
    "no-governorate.csv": (as_csv(without_governorate()).encode(), "no header row"),
    "data-after-totals.csv": (as_csv(data_after_totals()).encode(), "data after the totals row"),
    # a decimal comma (`138,00` read as 13,800 when separators were dropped) and a dot before
    # three zeros (`138.000`: 138, or 138,000 in a locale that groups with dots)
    "decimal-comma.csv": (as_csv(individuals_written("{},00")).encode(), "'138,00' is not a count"),
    "dot-three-zeros.csv": (as_csv(individuals_written("{}.000")).encode(), "'138.000' is not a count"),
    # UTF-16 cut off in the middle of a character
    "unicode-text-cut.csv": (
        as_csv(rows(), "\t").encode("utf-16")[:-1],
        "marked as UTF-16-LE text but is not (truncated data",
    ),
}
LOADED = {
    "semicolons.csv": as_csv(rows(), ";").encode("utf-8"),
    "windows-arabic.csv": as_csv(rows()).encode("cp1256"),
    "thousands-in-cells.csv": as_csv(thousands_in_cells()).encode("utf-8"),
    "long-rows-blank-lines.csv": as_csv(long_rows_and_blank_lines()).encode("utf-8"),
    # Excel's "Unicode Text": UTF-16 with its byte-order mark, tab-separated
    "unicode-text.csv": as_csv(rows(), "\t").encode("utf-16"),
    "unicode-text-big-endian.csv": b"\xfe\xff" + as_csv(rows(), "\t").encode("utf-16-be"),
    # lines ending in a lone CR, as old Mac exports end them
    "mac-line-ends.csv": as_csv(rows()).replace("\r\n", "\r").encode("utf-8"),
}


def _truncated_xlsx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
    return buffer.getvalue()[:40]


@pytest.mark.parametrize("variant", sorted(REFUSED))
def test_hostile_variants_are_refused_with_a_reason_naming_the_file(tmp_path, variant):
    content, reason = REFUSED[variant]
    suffix = Path(variant).suffix
    path = tmp_path / f"{NAME}{suffix}"
    path.write_bytes(_truncated_xlsx() if content is None else content)
    with pytest.raises(RejectedFile) as refused:
        read_round_file(path)
    assert reason in refused.value.reason
    assert path.name in str(refused.value)


# Rows that stop short are the reader's to pad: pandas 4 will refuse rows of unequal length.
@pytest.mark.filterwarnings("error::pandas.errors.Pandas4Warning")
@pytest.mark.parametrize("variant", sorted(LOADED))
def test_tolerable_variants_load_every_location(tmp_path, variant):
    path = tmp_path / f"{NAME}.csv"
    path.write_bytes(LOADED[variant])
    read = read_round_file(path)
    assert len(read.frame) == len(rows()) - 2
    assert read.frame["location_name_ar"].tolist() == [
        r[rows()[0].index("Arabic Name")] for r in rows()[1:-1]
    ]
