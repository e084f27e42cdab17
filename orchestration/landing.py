"""The landing zone: which files are there, which family and round each belongs to.

Files are never modified or deleted here. A file is identified by its name where the name
tells the round (as IOM names them); otherwise its title rows are read.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from orchestration.readers.round_files import RejectedFile, file_digest, read_round_file
from orchestration.rounds import NAMING_HINT, RoundId, parse_round_text

ROUND_FILE_SUFFIXES = frozenset({".csv", ".xlsx", ".xlsm", ".xls", ".txt"})


@dataclass(frozen=True)
class LandingFile:
    path: Path
    name: str  # relative to the landing folder: the name provenance records
    list_type: str | None
    round_id: RoundId | None


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
        if parsed.list_type and parsed.round_number and parsed.file_date:
            found.append(
                LandingFile(path, name, parsed.list_type, RoundId.of(parsed.round_number, parsed.file_date))
            )
        elif path.suffix.lower() in ROUND_FILE_SUFFIXES:
            found.append(_identify_from_content(path, name))
        else:
            found.append(LandingFile(path, name, None, None))
    return found


def _identify_from_content(path: Path, name: str) -> LandingFile:
    try:
        read = read_round_file(path)
    except RejectedFile:
        return LandingFile(path, name, None, None)
    return LandingFile(path, name, read.list_type, read.round_id)


def by_partition(files: list[LandingFile]) -> dict[str, list[LandingFile]]:
    grouped: dict[str, list[LandingFile]] = defaultdict(list)
    for landing_file in files:
        if landing_file.round_id is not None:
            grouped[landing_file.round_id.partition_key].append(landing_file)
    return dict(grouped)


def unassigned_rejection(landing_file: LandingFile) -> RejectedFile:
    """Why a file belongs to no round: a name and title rows that do not say which."""
    if landing_file.path.suffix.lower() not in ROUND_FILE_SUFFIXES:
        reason = (
            f"'{landing_file.path.suffix}' files are not a family the warehouse loads; "
            f"for DTM master lists, {NAMING_HINT}"
        )
        return RejectedFile(landing_file.name, reason)
    try:
        read_round_file(landing_file.path)
    except RejectedFile as error:
        return RejectedFile(
            landing_file.name, error.reason, sheet=error.sheet, row=error.row, column=error.column
        )
    return RejectedFile(landing_file.name, f"cannot tell which round this file is: {NAMING_HINT}")


def fingerprint(landing_file: LandingFile) -> str:
    return file_digest(landing_file.path)[0]


def pending_partitions(files: list[LandingFile], known_digests: set[str]) -> list[str]:
    """Rounds with a file whose bytes the warehouse has not seen (loaded or refused)."""
    return sorted(
        {
            f.round_id.partition_key
            for f in files
            if f.round_id is not None and fingerprint(f) not in known_digests
        }
    )
