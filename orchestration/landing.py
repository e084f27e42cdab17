"""The landing zone: which files are there, which family and round each belongs to.

Files are never modified or deleted here. A file is identified by its name where the name
tells the round (as IOM names them); otherwise its title rows are read.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path

from python_calamine import CalamineError, CalamineWorkbook

from orchestration.field_files import file_footprint
from orchestration.readers.cluster_sheets import SHEETS
from orchestration.readers.round_files import RejectedFile, RoundFile, file_digest, read_master_list
from orchestration.reference import read_seed
from orchestration.rounds import NAMING_HINT, RoundCalendar, RoundId, parse_round_text

ROUND_FILE_SUFFIXES = frozenset({".csv", ".xlsx", ".xlsm", ".xls", ".txt"})
FAMILY_SUFFIXES = {
    "master_list": ROUND_FILE_SUFFIXES,
    "ki_report": frozenset({".csv", ".xlsx", ".json"}),
    "cluster_sheet": frozenset({".xlsx", ".xlsm"}),
}
FIELD_FAMILIES = ("ki_report", "cluster_sheet")


@dataclass(frozen=True)
class LandingFile:
    path: Path
    name: str  # relative to the landing folder: the name provenance records
    list_type: str | None
    round_id: RoundId | None
    family: str | None = "master_list"  # master_list | ki_report | cluster_sheet | None
    file_date: date | None = None
    # A master list whose name does not tell its round is read by the scan: the loader and the
    # refusal use that read instead of reading the file again.
    read: RoundFile | RejectedFile | None = field(default=None, compare=False, repr=False)


@cache
def _family_patterns() -> tuple[tuple[str, re.Pattern], ...]:
    return tuple(
        (row["family"], re.compile(row["name_pattern"])) for row in read_seed("config/landing_families.csv")
    )


def family_of(path: Path) -> str | None:
    """The family a file's name says it belongs to (the landing_families seed)."""
    suffix = path.suffix.lower()
    for family, pattern in _family_patterns():
        if pattern.search(path.stem) and suffix in FAMILY_SUFFIXES[family]:
            return family
    return None


def _is_hidden(relative: Path) -> bool:
    """Dot files and folders, and the lock files Excel leaves beside an open workbook."""
    return any(part.startswith((".", "~$")) for part in relative.parts)


def scan(landing: Path) -> list[LandingFile]:
    """Every file in the landing folder, with the round and list its name (or title) gives."""
    if not landing.exists():
        return []
    found = []
    for path in sorted(
        p for p in landing.rglob("*") if p.is_file() and not _is_hidden(p.relative_to(landing))
    ):
        name = path.relative_to(landing).as_posix()
        parsed = parse_round_text(path.stem)
        family = family_of(path)
        if parsed.list_type and parsed.round_number and parsed.file_date:
            round_id = RoundId.of(parsed.round_number, parsed.file_date)
            found.append(LandingFile(path, name, parsed.list_type, round_id, file_date=parsed.file_date))
        elif family in FIELD_FAMILIES:
            found.append(LandingFile(path, name, None, None, family))
        elif path.suffix.lower() in ROUND_FILE_SUFFIXES:
            found.append(_identify_from_content(path, name))
        else:
            found.append(LandingFile(path, name, None, None, None))
    return found


def _is_cluster_workbook(path: Path) -> bool:
    """A workbook with a cluster's three sheets, whatever its name says (a programme unit names
    its workbook as it likes: `CCCM_2019.xlsx`)."""
    if path.suffix.lower() not in FAMILY_SUFFIXES["cluster_sheet"]:
        return False
    try:
        sheets = {sheet.strip().lower() for sheet in CalamineWorkbook.from_path(str(path)).sheet_names}
    except (CalamineError, OSError):  # not a workbook that opens: the master-list reader says why
        return False
    return {sheet.lower() for sheet in SHEETS.values()} <= sheets


def _identify_from_content(path: Path, name: str) -> LandingFile:
    if _is_cluster_workbook(path):
        return LandingFile(path, name, None, None, "cluster_sheet")
    read = read_master_list(path)
    if isinstance(read, RejectedFile):
        return LandingFile(path, name, None, None, None, read=read)
    return LandingFile(path, name, read.list_type, read.round_id, file_date=read.file_date, read=read)


def calendar(files: list[LandingFile]) -> RoundCalendar:
    """The rounds of the landing folder's master lists, by reporting date."""
    dates: dict[str, date] = {}
    for f in files:
        if f.round_id is not None and f.file_date is not None:
            key = f.round_id.partition_key
            dates[key] = max(dates.get(key, f.file_date), f.file_date)
    return RoundCalendar.of(dates)


def field_files(files: list[LandingFile]) -> list[LandingFile]:
    return [f for f in files if f.family in FIELD_FAMILIES]


def by_partition(files: list[LandingFile]) -> dict[str, list[LandingFile]]:
    grouped: dict[str, list[LandingFile]] = defaultdict(list)
    for landing_file in files:
        if landing_file.round_id is not None:
            grouped[landing_file.round_id.partition_key].append(landing_file)
    return dict(grouped)


def unassigned_rejection(landing_file: LandingFile) -> RejectedFile:
    """Why a file belongs to no round: a name and title rows that do not say which."""
    if isinstance(landing_file.read, RejectedFile):
        return landing_file.read.renamed(landing_file.name)
    if landing_file.path.suffix.lower() not in ROUND_FILE_SUFFIXES:
        reason = (
            f"'{landing_file.path.suffix}' files are not a family the warehouse loads; "
            f"for DTM master lists, {NAMING_HINT}"
        )
    else:
        reason = f"cannot tell which round this file is: {NAMING_HINT}"
    return RejectedFile(landing_file.name, reason, sha256=fingerprint(landing_file))


def fingerprint(landing_file: LandingFile) -> str:
    return file_digest(landing_file.path)[0]


def touched_partitions(changed: list[LandingFile], files: list[LandingFile]) -> set[str]:
    """The rounds new or changed files touch: a master list its own round; a KI export or
    cluster workbook the rounds its rows belong to (read to find them); a file that no round
    can be told from, or a KI export or workbook that cannot be read, the latest round, whose
    load refuses it and records why (else it would be neither loaded nor refused, and `dtm`
    would say every file was loaded)."""
    rounds = calendar(files)
    refused_by = set(rounds.keys[-1:])
    touched: set[str] = set()
    for landing_file in changed:
        if landing_file.round_id is not None:
            touched.add(landing_file.round_id.partition_key)
        elif landing_file.family in FIELD_FAMILIES:
            found = field_partitions(landing_file, rounds)
            touched |= refused_by if found is None else found
        else:
            touched |= refused_by
    return touched


def is_new(
    landing_file: LandingFile,
    known_files: Collection[tuple[str, str]],
    held_bytes: Collection[tuple[str | None, str | None, str]] = (),
) -> bool:
    """Whether the warehouse has not seen the file: neither under its name with its bytes (loaded
    or refused) nor as a byte copy, under another name, of its round's list or of a KI export or
    workbook it holds (`held_bytes`, WarehouseStatus): a copy's rows are loaded already, and a
    run that loads it changes nothing, so `dtm run` offered it again after every run. A byte copy
    of an earlier round's file under this round's name is new, and is refused when it loads,
    naming both files."""
    sha256 = fingerprint(landing_file)
    if (landing_file.name, sha256) in known_files:
        return False
    if landing_file.family in FIELD_FAMILIES:
        return (None, None, sha256) not in held_bytes
    if landing_file.round_id is not None:
        return (landing_file.round_id.partition_key, landing_file.list_type, sha256) not in held_bytes
    return True


def pending_partitions(
    files: list[LandingFile],
    known_files: Collection[tuple[str, str]],
    conflicted: Collection[tuple[str, str]] = (),
    held_bytes: Collection[tuple[str | None, str | None, str]] = (),
) -> list[str]:
    """Rounds with a file the warehouse has not seen (is_new). A version of a list refused with
    the others that arrived with it (`conflicted`, list_versions) is new again once no other
    refused version is left."""
    new = [f for f in files if is_new(f, known_files, held_bytes)]
    return sorted(touched_partitions([f for f in new if f not in in_conflict(new, conflicted)], files))


def in_conflict(files: list[LandingFile], conflicted: Collection[tuple[str, str]]) -> set[LandingFile]:
    """The files refused as versions of one list or workbook (`conflicted`: list_versions,
    workbook_versions) that still have another such version beside them, with other bytes: of
    the same round and list, or cluster workbooks of the same year."""
    names = {name for name, _ in conflicted}  # hashed only when the name was refused so
    by_list: dict[tuple, dict[LandingFile, str]] = {}
    for f in files:
        refused = f.name in names and (f.name, sha := fingerprint(f)) in conflicted
        if refused and (group := _versions_of(f, sha)) is not None:
            by_list.setdefault(group, {})[f] = sha
    return {f for versions in by_list.values() if len(set(versions.values())) > 1 for f in versions}


def _versions_of(landing_file: LandingFile, sha256: str) -> tuple | None:
    """What a file is a version of: its round's list, or a cluster workbook of its year."""
    if landing_file.round_id is not None:
        return (landing_file.round_id.partition_key, landing_file.list_type)
    if landing_file.family == "cluster_sheet":
        footprint = file_footprint(landing_file.path, landing_file.family, sha256)
        return None if footprint is None else ("cluster_sheet", footprint.year)
    return None


def field_partitions(landing_file: LandingFile, rounds: RoundCalendar) -> set[str] | None:
    """The rounds a KI export's or workbook's rows belong to (None when it cannot be read)."""
    footprint = file_footprint(landing_file.path, landing_file.family, fingerprint(landing_file))
    return None if footprint is None else set().union(*footprint.partitions(rounds).values())
