"""Several versions of one round's master list in one load, when which is current cannot be told.

A re-issue that arrives after its round's list supersedes it: the later arrival is the current
one. Versions that arrive together (a corrected list beside the first, a second download saved
as `… (1).csv`) carry nothing that says which is current: a file's name and its time on disk
are no evidence. Loaded together, the order of their batch ids chose the one the marts
published. Versions with the same counts for the same locations (IOM publishes each list as
XLSX and as CSV; a list written with and without thousands separators) are one list and load
as before. Versions whose rows differ are
refused, each naming the others with its own locations and individuals, and the round's last
accepted list stays. Such a refusal is not a known file (warehouse.WarehouseStatus.conflicted):
once the other versions are gone from the landing folder, the next run loads the one left.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection

import pandas as pd

from orchestration import landing
from orchestration.readers.round_files import RejectedFile, RoundFile, count_columns, read_master_list
from orchestration.rules import parse_count
from orchestration.warehouse import CONFLICT

# What identifies a location across versions of a list.
KEY_COLUMNS = ("location_id",)

Group = tuple[str, str]  # (partition key, list type)


def new_versions(
    todo: list[landing.LandingFile], loaded: Collection[tuple[str, str, str]]
) -> dict[Group, list[landing.LandingFile]]:
    """The run's master lists that arrive in two or more new versions: by round and list type,
    the files whose bytes no batch of that round and list holds (`loaded`: partition key, list
    type, sha256), where they are of two or more different bytes."""
    by_group: dict[Group, list[landing.LandingFile]] = defaultdict(list)
    for landing_file in todo:
        if landing_file.family == "master_list" and landing_file.round_id and landing_file.list_type:
            by_group[(landing_file.round_id.partition_key, landing_file.list_type)].append(landing_file)
    versions = {}
    for (key, list_type), group in by_group.items():
        if len(group) < 2:  # the usual case: nothing to hash
            continue
        shas = {f: landing.fingerprint(f) for f in group}
        new = [f for f in group if (key, list_type, shas[f]) not in loaded]
        if len({shas[f] for f in new}) > 1:
            versions[(key, list_type)] = new
    return versions


def comparable(cell: object, is_count: bool) -> object:
    """A cell as the comparison sees it: a count as a number (`1,234` and `1234` are one count),
    else its trimmed text ("" for an empty cell)."""
    if cell is None or (not isinstance(cell, str) and pd.isna(cell)):
        return ""
    text = str(cell).strip()
    if is_count:
        try:
            return parse_count(text)
        except ValueError:
            return text
    return text


def rows_held(read: RoundFile) -> Counter:
    """What a list holds for the marts, however it was written: each location's counts, in any
    order. Names and coordinates are left out: IOM's CSV and XLSX of one list may write them
    differently (rounding, spacing)."""
    counts = count_columns(list(read.frame.columns))
    columns = [c for c in KEY_COLUMNS if c in read.frame.columns] + counts
    return Counter(
        tuple((c, comparable(row[c], c in counts)) for c in columns)
        for row in read.frame[columns].to_dict("records")
    )


def _summary(read: RoundFile) -> str:
    """Its locations and, where the list counts them, its individuals (cells that are not counts
    left out: the gate reports those)."""
    text = f"{len(read.frame):,} locations"
    if "individuals" not in read.frame.columns:
        return text
    individuals = (comparable(cell, True) for cell in read.frame["individuals"])
    return f"{text}, {sum(n for n in individuals if isinstance(n, int)):,} individuals"


def resolve(
    group: Group, files: list[landing.LandingFile]
) -> list[tuple[landing.LandingFile, RoundFile | RejectedFile]]:
    """The versions of one list, read, as the loader takes them: their reads when their rows are
    the same (or when fewer than two can be read: an unreadable one is refused for its own
    reason), else a refusal of each readable version naming the others."""
    reads = [(f, f.read or read_master_list(f.path)) for f in files]
    readable = [(f, r) for f, r in reads if isinstance(r, RoundFile)]
    held = [rows_held(r) for _, r in readable]
    if len(readable) < 2 or all(h == held[0] for h in held[1:]):
        return reads
    key, list_type = group
    refusals = {}
    for landing_file, read in readable:
        others = "; ".join(f"{f.name} ({_summary(r)})" for f, r in readable if f is not landing_file)
        reason = (
            f"{key}'s {list_type} list arrived in {len(readable)} versions with different rows, this "
            f"one with {_summary(read)}, and {others}: which is current cannot be told, so none is "
            "loaded (the round keeps the list it had, if any). Leave only the current version in "
            "the landing folder; the next run loads it"
        )
        refusals[landing_file] = RejectedFile(landing_file.name, reason, sha256=read.sha256, kind=CONFLICT)
    return [(f, refusals.get(f, r)) for f, r in reads]
