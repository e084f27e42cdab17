"""Deterministic sample landing zone: DTM Iraq's master lists as IOM publishes them.

One IDP master list per (round, date) entry of IOM's per-governorate series, plus a returnee
master list once returns begin (2015). Same seed, same bytes. See DATA_CONTRACTS.md for the
formats reproduced here: title rows, a totals row with thousands separators, header spellings by
era, households/individuals by era, renamed governorates in Round 134.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import xlsxwriter

from orchestration.reference import breakdown_categories, governorates, header_aliases, read_seed
from orchestration.rounds import round_file_name
from orchestration.sample import targets as tg
from orchestration.sample.apportion import largest_remainder
from orchestration.sample.cluster_sheets import generate_cluster_workbooks
from orchestration.sample.ki_reports import KI_ROUNDS, KiRound, generate_ki_exports
from orchestration.sample.pool import sample_pool

SEED = 20140401
HOUSEHOLD_SIZE = 6  # DTM's standard household size while individuals were derived
HOUSEHOLDS_PER_LOCATION = {"idp": 150, "returnee": 250}

# Header eras (DATA_CONTRACTS.md): Round-64 style early, Round-109 style later, `Households`
# from Round 119, renamed governorates in Round 134. Some Round-64-era files have garbled headers.
ERAS = ((1, 70, "r64"), (71, 118, "r109"), (119, 133, "hh"), (134, 9999, "r134"))
GARBLED_ROUNDS = frozenset({64, 68})
# Rounds published as XLSX as well as CSV-only rounds: at least two of every header era.
XLSX_ROUNDS = frozenset({62, 64, 88, 106, 109, 112, 120, 132, 133, 134})
TITLE_ROWS = 4
SHEET_NAMES = {"idp": "IDP DATASET", "returnee": "RETURNEE DATASET"}
CAMP_SHARE_OF_LOCATIONS = {
    "IQG09": 0.12,
    "IQG15": 0.08,
    "IQG11": 0.06,
    "IQG01": 0.06,
    "IQG16": 0.05,
    "IQG06": 0.04,
    "IQG13": 0.04,
    "IQG10": 0.03,
    "IQG08": 0.02,
}
CONFLICT_GOVERNORATES = frozenset({"IQG01", "IQG15", "IQG16", "IQG10", "IQG13", "IQG08", "IQG07"})
ORIGIN_WEIGHTS = {
    "IQG15": 0.36,
    "IQG01": 0.30,
    "IQG16": 0.13,
    "IQG10": 0.06,
    "IQG13": 0.05,
    "IQG08": 0.04,
    "IQG07": 0.03,
    "IQG11": 0.01,
}
LAST_DISPLACEMENT_WEIGHTS = {
    "IQG11": 0.15,
    "IQG09": 0.12,
    "IQG08": 0.08,
    "IQG13": 0.08,
    "IQG06": 0.07,
    "IQG15": 0.05,
    "IQG01": 0.03,
    "IQG16": 0.03,
    "abroad": 0.01,
}
PERIOD_WAVES = {
    "pre_2014_06": 0.05,
    "2014_06": 0.25,
    "2014_08": 0.20,
    "2014_09": 0.12,
    "2015_04": 0.12,
    "2016_03": 0.08,
    "2016_10": 0.15,
    "2017_07": 0.04,
}
RETURN_SHELTER_WEIGHTS = {
    "habitual_residence": 0.92,
    "host_families": 0.02,
    "rented": 0.025,
    "informal_settlements": 0.008,
    "religious_building": 0.004,
    "school_building": 0.004,
    "unfinished_building": 0.012,
    "other": 0.007,
}
RETURNS_BY_YEAR = {
    2015: 0.45,
    2016: 0.8,
    2017: 1.95,
    2018: 0.95,
    2019: 0.2,
    2020: 0.45,
    2021: 0.1,
    2022: 0.05,
    2023: 0.02,
    2024: 0.02,
}
NAME_PREFIXES = (
    ("Tal", "تل"),
    ("Bir", "بئر"),
    ("Qasr", "قصر"),
    ("Ain", "عين"),
    ("Kafr", "كفر"),
    ("Hay", "حي"),
    ("Qaryat", "قرية"),
    ("Umm", "أم"),
    ("Abu", "أبو"),
    ("Sheikh", "الشيخ"),
)
NAME_ROOTS = (
    ("Hamdan", "حمدان"),
    ("Zahra", "الزهراء"),
    ("Nour", "النور"),
    ("Salam", "السلام"),
    ("Rashid", "الرشيد"),
    ("Jadida", "الجديدة"),
    ("Khadra", "الخضراء"),
    ("Karama", "الكرامة"),
    ("Amal", "الأمل"),
    ("Wahda", "الوحدة"),
    ("Furat", "الفرات"),
    ("Sadr", "الصدر"),
    ("Mansour", "المنصور"),
    ("Askari", "العسكري"),
    ("Shuhada", "الشهداء"),
    ("Tahrir", "التحرير"),
    ("Andalus", "الأندلس"),
    ("Yarmouk", "اليرموك"),
)
DESTROYED_ARABIC = "?????"  # what an earlier export left of some Arabic names
LOCATION_COLUMNS = (
    "location_id",
    "place_id",
    "governorate",
    "district",
    "location_name",
    "location_name_ar",
    "latitude",
    "longitude",
    "households",
    "individuals",
)
COUNT_COLUMNS = ("households", "individuals")
MAP_COLUMNS = ("map_osm", "map_google", "map_bing")


def header_era(round_number: int) -> str:
    era = next(name for first, last, name in ERAS if first <= round_number <= last)
    return "r64g" if era == "r64" and round_number in GARBLED_ROUNDS else era


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng([SEED, *key])


def allocate(total: int, weights: np.ndarray, floor: np.ndarray | int = 1) -> np.ndarray:
    """Split `total` over the weights, each at least `floor`."""
    floor = np.broadcast_to(np.asarray(floor, dtype=np.int64), weights.shape)
    rest = total - int(floor.sum())
    if rest < 0:
        raise ValueError(f"cannot give {len(weights)} locations at least {floor.max()} of {total}")
    return floor + largest_remainder(weights[None, :], np.array([rest]))[0]


def rake(seed: np.ndarray, rows: np.ndarray, columns: np.ndarray, iterations: int = 40) -> np.ndarray:
    """Iterative proportional fitting: a matrix near `seed` with these row and column sums."""
    matrix = seed.astype(float).copy()
    for _ in range(iterations):
        matrix *= (rows / np.maximum(matrix.sum(axis=1), 1e-12))[:, None]
        matrix *= columns / np.maximum(matrix.sum(axis=0), 1e-12)
    return matrix


@dataclass
class LocationPool:
    """The places a governorate's lists draw from; the same place keeps its ID across rounds."""

    admin1_pcode: str
    location_id: np.ndarray
    place_id: np.ndarray
    district: np.ndarray
    name: np.ndarray
    name_ar: np.ndarray
    latitude: np.ndarray
    longitude: np.ndarray
    weight: np.ndarray
    is_camp: np.ndarray
    arabic_destroyed: np.ndarray
    returnee_order: np.ndarray  # which places returnee lists use first


def _districts_by_governorate() -> dict[str, list[dict[str, str]]]:
    by_code = {g["dtm_governorate_code"]: g["admin1_pcode"] for g in governorates()}
    result: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in read_seed("reference/dtm_districts.csv"):
        result[by_code[row["dtm_governorate_code"]]].append(row)
    return result


def build_pool(
    index: int, governorate: dict[str, str], districts: list[dict[str, str]], size: int
) -> LocationPool:
    rng = _rng(1, index)
    pcode = governorate["admin1_pcode"]
    district_weights = rng.gamma(1.5, size=len(districts))
    district_weights /= district_weights.sum()
    # Kut and Al-Na'maniya share DTM district code 06: the sequence is counted per code.
    sequence: dict[str, int] = defaultdict(int)
    chosen = rng.choice(len(districts), size=size, p=district_weights)
    ids, names, names_ar, district_names = [], [], [], []
    by_weight = [districts[j] for j in np.argsort(-district_weights, kind="stable")]
    for pick in chosen:
        row = districts[pick]
        code = row["dtm_governorate_code"] + row["dtm_district_code"]
        if sequence[code] == 999:
            # The Location ID has three digits for the sequence: a scaled sample's places go to
            # the heaviest district with room (never reached at scale 1).
            row = next(
                (d for d in by_weight if sequence[d["dtm_governorate_code"] + d["dtm_district_code"]] < 999),
                None,
            )
            if row is None:
                raise ValueError(f"governorate {pcode} would need more than 999 locations a district")
            code = row["dtm_governorate_code"] + row["dtm_district_code"]
        sequence[code] += 1
        ids.append(f"{code}{sequence[code]:03d}")
        district_names.append(row["dtm_district"])
    is_camp = rng.random(size) < CAMP_SHARE_OF_LOCATIONS.get(pcode, 0.01)
    prefix = rng.integers(len(NAME_PREFIXES), size=size)
    root = rng.integers(len(NAME_ROOTS), size=size)
    for i in range(size):
        en_root, ar_root = NAME_ROOTS[root[i]]
        if is_camp[i]:
            names.append(f"{en_root} Camp {i % 7 + 1}")
            names_ar.append(f"مخيم {ar_root} {i % 7 + 1}")
        else:
            en_prefix, ar_prefix = NAME_PREFIXES[prefix[i]]
            names.append(f"{en_prefix} {en_root}")
            names_ar.append(f"{ar_prefix} {ar_root}")
    lat0, lon0 = float(governorate["centroid_lat"]), float(governorate["centroid_lon"])
    return LocationPool(
        admin1_pcode=pcode,
        location_id=np.array(ids),
        place_id=np.array([f"{index + 1:02d}{i + 1:05d}" for i in range(size)]),
        district=np.array(district_names),
        name=np.array(names),
        name_ar=np.array(names_ar),
        latitude=np.round(lat0 + rng.uniform(-0.25, 0.25, size), 6),
        longitude=np.round(lon0 + rng.uniform(-0.25, 0.25, size), 6),
        weight=rng.lognormal(0.0, 0.9, size),
        is_camp=is_camp,
        arabic_destroyed=rng.random(size) < 0.03,
        returnee_order=rng.permutation(size),
    )


@dataclass
class MasterList:
    """One generated master list, in canonical columns, before it is written in its era's form."""

    list_type: str
    target: tg.RoundTarget
    frame: pd.DataFrame  # canonical columns, numbers as ints
    breakdown_unit: str


def _units() -> list[dict[str, str]]:
    return read_seed("config/units_by_era.csv")


def _era_of_units(list_type: str, round_number: int) -> dict[str, str]:
    return next(
        u
        for u in _units()
        if u["list_type"] == list_type and int(u["first_round"]) <= round_number <= int(u["last_round"])
    )


def _available(dimension: str, list_type: str, day: date, era: str) -> list[dict[str, str]]:
    """Breakdown categories a list of this date carries: never a period after the round."""
    with_header = {
        a.canonical_column
        for a in header_aliases()
        if a.list_type == list_type and (era in a.eras or (era == "r64g" and "r64" in a.eras))
    }
    chosen = []
    for category in breakdown_categories():
        if category["list_type"] != list_type or category["dimension"] != dimension:
            continue
        if category["canonical_column"] not in with_header:
            continue
        if category["appears_from"] and date.fromisoformat(category["appears_from"]) > day:
            continue
        if category["retired_from"] and date.fromisoformat(category["retired_from"]) <= day:
            continue
        chosen.append(category)
    return chosen


def _location_counts(list_type: str, target: tg.RoundTarget) -> dict[str, tuple[int, int]]:
    """(households, individuals) per governorate for one list."""
    counted = _era_of_units(list_type, target.round_number)["individuals_method"] != "6 x households"
    rng = _rng(2, target.round_number, list_type == "idp")
    if list_type == "idp":
        individuals = target.idps
    else:
        national = tg.national_returnees(target.reporting_date)
        if not counted:
            national = round(national / HOUSEHOLD_SIZE) * HOUSEHOLD_SIZE
        shares = tg.returnee_shares(target.reporting_date)
        pcodes = sorted(shares)
        unit = 1 if counted else HOUSEHOLD_SIZE
        split = allocate(national // unit, np.array([shares[p] for p in pcodes]), floor=0) * unit
        individuals = {p: int(v) for p, v in zip(pcodes, split, strict=True) if v > 0}
    result = {}
    for pcode, people in individuals.items():
        if counted:
            households = max(1, min(people, round(people / rng.uniform(5.4, 6.2))))
        else:
            if people % HOUSEHOLD_SIZE:
                raise ValueError(f"{pcode} round {target.round_number}: {people} is not 6 × households")
            households = people // HOUSEHOLD_SIZE
        result[pcode] = (households, people)
    return result


def plan_sizes(round_targets: list[tg.RoundTarget], scale: int = 1) -> dict[str, int]:
    """How many places each governorate's pool needs, across every list of the history."""
    need: dict[str, int] = defaultdict(lambda: 1)
    for target in round_targets:
        for list_type in ("idp", "returnee"):
            if list_type == "returnee" and target.reporting_date < tg.RETURNS_BEGIN:
                continue
            for pcode, (households, _) in _location_counts(list_type, target).items():
                need[pcode] = max(need[pcode], _n_locations(list_type, households, scale))
    return dict(need)


def _n_locations(list_type: str, households: int, scale: int = 1) -> int:
    """Places a governorate's list names; `scale` times as many (smaller) places in a scaled
    sample, the same people."""
    return int(min(households, max(1, round(households * scale / HOUSEHOLDS_PER_LOCATION[list_type]))))


def generate_master_list(
    list_type: str, target: tg.RoundTarget, pools: dict[str, LocationPool], scale: int = 1
) -> MasterList:
    era = header_era(target.round_number)
    units = _era_of_units(list_type, target.round_number)
    counted = units["individuals_method"] != "6 x households"
    rng = _rng(3, target.round_number, list_type == "idp")
    day = target.reporting_date
    camp_boost = _camp_boost(day)
    pieces = []
    for pcode, (households, individuals) in sorted(_location_counts(list_type, target).items()):
        pool = pools[pcode]
        n = _n_locations(list_type, households, scale)
        rows = np.arange(n) if list_type == "idp" else pool.returnee_order[:n]
        weights = pool.weight[rows] * rng.lognormal(0, 0.1, n)
        if list_type == "idp":
            weights = np.where(pool.is_camp[rows], weights * camp_boost, weights)
        hh = allocate(households, weights)
        if counted:
            ind = allocate(individuals, hh * (rng.uniform(4.6, 5.8, n)), floor=hh)
        else:
            ind = hh * HOUSEHOLD_SIZE
        pieces.append(
            pd.DataFrame(
                {
                    "admin1_pcode": pcode,
                    "location_id": pool.location_id[rows],
                    "place_id": pool.place_id[rows],
                    "district": pool.district[rows],
                    "location_name": pool.name[rows],
                    "location_name_ar": np.where(
                        pool.arabic_destroyed[rows] & (era in ("r64", "r64g")),
                        DESTROYED_ARABIC,
                        pool.name_ar[rows],
                    ),
                    "latitude": pool.latitude[rows],
                    "longitude": pool.longitude[rows],
                    "households": hh,
                    "individuals": ind,
                    "is_camp": pool.is_camp[rows],
                }
            )
        )
    frame = pd.concat(pieces, ignore_index=True)
    breakdown_total = frame["households" if units["breakdown_unit"] == "households" else "individuals"]
    breakdown_total = breakdown_total.to_numpy()
    if list_type == "idp":
        blocks = [
            _origin_block(frame, rng, "origin", ORIGIN_WEIGHTS, breakdown_total, era, day),
            _shelter_block(frame, rng, breakdown_total, era, day),
            _period_block(rng, breakdown_total, era, day),
        ]
    else:
        blocks = [
            _origin_block(
                frame, rng, "last_displacement", LAST_DISPLACEMENT_WEIGHTS, breakdown_total, era, day
            ),
            _simple_block(rng, "return_shelter", RETURN_SHELTER_WEIGHTS, breakdown_total, era, day),
            _simple_block(
                rng,
                "return_period",
                {str(y): w for y, w in RETURNS_BY_YEAR.items()},
                breakdown_total,
                era,
                day,
            ),
        ]
    frame = pd.concat([frame, *blocks], axis=1)
    return MasterList(list_type, target, frame, units["breakdown_unit"])


def _camp_boost(day: date) -> float:
    """How much heavier camp places weigh, so that camps can hold the round's camp share."""
    share = (
        float(
            tg.shelter_targets(
                day,
                ["camp", "host_families", "hotel_motel", "other", "unknown", *tg.CRITICAL_SPLIT, "rented"],
            )[0]
        )
        + 0.05
    )
    return share * 0.95 / (0.05 * (1 - share))


def _block(matrix: np.ndarray, categories: list[dict[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(matrix, columns=[c["canonical_column"] for c in categories])


def _origin_block(
    frame: pd.DataFrame,
    rng: np.random.Generator,
    dimension: str,
    weights: dict[str, float],
    totals: np.ndarray,
    era: str,
    day: date,
) -> pd.DataFrame:
    list_type = "idp" if dimension == "origin" else "returnee"
    categories = _available(dimension, list_type, day, era)
    codes = [c["category"].upper() if c["category"] != "abroad" else "abroad" for c in categories]
    national = np.array([weights.get(c, 0.003) for c in codes])
    own = (np.array(codes)[None, :] == frame["admin1_pcode"].to_numpy()[:, None]).astype(float)
    local = np.isin(frame["admin1_pcode"], list(CONFLICT_GOVERNORATES))[:, None]
    own_weight = 0.35 if dimension == "last_displacement" else 0.4
    seed = (national[None, :] + np.where(local, own_weight, 0.0) * own) * rng.gamma(2.0, size=own.shape)
    return _block(largest_remainder(seed, totals), categories)


def _shelter_block(
    frame: pd.DataFrame, rng: np.random.Generator, totals: np.ndarray, era: str, day: date
) -> pd.DataFrame:
    categories = _available("shelter", "idp", day, era)
    names = [c["category"] for c in categories]
    shares = tg.shelter_targets(day, names)
    seed = rng.gamma(2.0, size=(len(frame), len(names))) * shares[None, :]
    camp = names.index("camp")
    camps = frame["is_camp"].to_numpy()
    seed[:, camp] = np.where(camps, 20.0 * seed.sum(axis=1), 1e-3 * seed[:, camp])
    seed[camps] *= np.where(np.arange(len(names)) == camp, 1.0, 0.05)
    fitted = rake(seed, totals.astype(float), shares * totals.sum())
    return _block(largest_remainder(fitted, totals), categories)


def _period_block(rng: np.random.Generator, totals: np.ndarray, era: str, day: date) -> pd.DataFrame:
    categories = _available("period", "idp", day, era)
    waves = np.array([PERIOD_WAVES.get(c["category"], 0.01) for c in categories])
    seed = waves[None, :] * rng.gamma(1.5, size=(len(totals), len(categories)))
    return _block(largest_remainder(seed, totals), categories)


def _simple_block(
    rng: np.random.Generator,
    dimension: str,
    weights: dict[str, float],
    totals: np.ndarray,
    era: str,
    day: date,
) -> pd.DataFrame:
    categories = _available(dimension, "returnee", day, era)
    base = np.array([weights.get(c["category"], 0.0) for c in categories])
    seed = base[None, :] * rng.gamma(3.0, size=(len(totals), len(categories)))
    return _block(largest_remainder(seed, totals), categories)


# --- writing the files as IOM publishes them -------------------------------------------------


def _headers(list_type: str, era: str) -> dict[str, str]:
    """Canonical column → the header this era's files print."""
    result: dict[str, str] = {}
    for alias in header_aliases():
        if alias.list_type != list_type:
            continue
        if era in alias.eras or (
            era == "r64g" and "r64" in alias.eras and alias.canonical_column not in result
        ):
            result[alias.canonical_column] = alias.alias
    return result


def to_published_rows(master: MasterList) -> tuple[list[str], list[list[object]], list[object]]:
    """Header, data rows and the totals row, as the era's file lays them out."""
    era = header_era(master.target.round_number)
    headers = _headers(master.list_type, era)
    names = {g["admin1_pcode"]: g["dtm_2024_name" if era == "r134" else "dtm_name"] for g in governorates()}
    frame = master.frame.assign(governorate=master.frame["admin1_pcode"].map(names))
    lead = ("place_id", "location_id") if era in ("r64", "r64g") else ("location_id", "place_id")
    columns = [*lead, *LOCATION_COLUMNS[2:]]
    columns += [c for c in frame.columns if "__" in c]
    if era in ("r64", "r64g"):
        frame = frame.assign(
            map_osm="https://www.openstreetmap.org/?mlat="
            + frame["latitude"].astype(str)
            + "&mlon="
            + frame["longitude"].astype(str),
            map_google="https://maps.google.com/?q="
            + frame["latitude"].astype(str)
            + ","
            + frame["longitude"].astype(str),
            map_bing="https://www.bing.com/maps?cp="
            + frame["latitude"].astype(str)
            + "~"
            + frame["longitude"].astype(str),
        )
        columns += list(MAP_COLUMNS)
    body = frame[columns]
    numeric = [c for c in columns if c in COUNT_COLUMNS or "__" in c]
    totals: list[object] = [f"Totals: Locations:{len(body):,}"]
    for column in columns[1:]:
        totals.append(f"{int(body[column].sum()):,}" if column in numeric else "")
    rows = body.astype(object).to_numpy().tolist()
    return [headers[c] for c in columns], rows, totals


def title_rows(master: MasterList) -> list[str]:
    label = "IDP" if master.list_type == "idp" else "Returnee"
    return [
        "International Organization for Migration (IOM) - Displacement Tracking Matrix (DTM) Iraq",
        f"{label} Master List - Round {master.target.round_number}",
        f"Data collection ending {master.target.file_date:%d %B %Y}",
        "",
    ]


def write_csv(master: MasterList, path: Path) -> None:
    header, rows, totals = to_published_rows(master)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    writer.writerow(totals)
    path.write_text(buffer.getvalue(), encoding="utf-8-sig")


def write_xlsx(master: MasterList, path: Path) -> None:
    header, rows, totals = to_published_rows(master)
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    # A pinned creation date makes the same seed give the same bytes.
    stamp = datetime.combine(master.target.file_date, datetime.min.time())
    workbook.set_properties({"title": title_rows(master)[1], "author": "IOM DTM Iraq", "created": stamp})
    if master.list_type == "returnee":
        notes = workbook.add_worksheet("NOTES")
        notes.write(0, 0, "Returnee figures are cumulative since the start of the crisis.")
    sheet = workbook.add_worksheet(SHEET_NAMES[master.list_type])
    bold = workbook.add_format({"bold": True})
    for i, text in enumerate(title_rows(master)):
        if text:
            sheet.merge_range(i, 0, i, 8, text, bold)
    sheet.write_row(TITLE_ROWS, 0, header, bold)
    for offset, row in enumerate(rows, start=TITLE_ROWS + 1):
        sheet.write_row(offset, 0, row)
    sheet.write_row(TITLE_ROWS + 1 + len(rows), 0, totals, bold)
    workbook.close()


@cache
def history(scale: int = 1) -> tuple[list[tg.RoundTarget], dict[str, LocationPool]]:
    """The rounds and the places their lists draw from (kept per process: the writers ask for
    them once for every list they write)."""
    targets = tg.round_targets()
    sizes = plan_sizes(targets, scale)
    districts = _districts_by_governorate()
    pools = {
        g["admin1_pcode"]: build_pool(i, g, districts[g["admin1_pcode"]], sizes[g["admin1_pcode"]])
        for i, g in enumerate(governorates())
    }
    return targets, pools


def list_types(target: tg.RoundTarget) -> tuple[str, ...]:
    """The master lists a round publishes: returnee lists once returns begin."""
    return ("idp", "returnee") if target.reporting_date >= tg.RETURNS_BEGIN else ("idp",)


def master_lists(targets: list[tg.RoundTarget], pools: dict[str, LocationPool], scale: int = 1):
    for target in targets:
        for list_type in list_types(target):
            yield generate_master_list(list_type, target, pools, scale)


def write_master_list(landing: Path, list_type: str, round_index: int, xlsx: bool, scale: int) -> Path:
    """Generate one master list (its own seed: lists do not depend on each other) and write it
    as its round is published. The round is its index in the history, which repeats numbers."""
    targets, pools = history(scale)
    master = generate_master_list(list_type, targets[round_index], pools, scale)
    number = master.target.round_number
    as_xlsx = xlsx and number in XLSX_ROUNDS
    path = landing / round_file_name(list_type, number, master.target.file_date, "xlsx" if as_xlsx else "csv")
    (write_xlsx if as_xlsx else write_csv)(master, path)
    return path


def generate(
    landing: Path,
    rounds: set[int] | None = None,
    *,
    xlsx: bool = True,
    field_families: bool | None = None,
    scale: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> list[Path]:
    """Write the sample landing zone; `rounds` limits it to some round numbers (tests, bench),
    `scale` multiplies the places every list names, with the same people (the bench's 10x);
    `progress` is told (lists written, lists) as master lists are written.

    KI exports (the last twelve rounds written) and cluster workbooks come with the whole sample,
    or when `field_families` asks for them. A manifest of what was written lets a run key the
    sample's made-up informants with the documented sample secret."""

    targets, _ = history(scale)
    chosen = [i for i, t in enumerate(targets) if rounds is None or t.round_number in rounds]
    with_field = rounds is None if field_families is None else field_families
    jobs = [(list_type, i) for i in chosen for list_type in list_types(targets[i])]
    landing.mkdir(parents=True, exist_ok=True)
    report = progress or (lambda written, total: None)

    with sample_pool(len(jobs)) as pool:
        lists = [pool.submit(write_master_list, landing, t, i, xlsx, scale) for t, i in jobs]
        done = itertools.count(1)
        for future in lists:
            future.add_done_callback(lambda _: report(next(done), len(jobs)))
        field = []
        if with_field:
            numbers = {targets[i].round_number for i in chosen[-KI_ROUNDS:]}
            ki = ki_rounds([targets[i] for i in chosen], numbers, scale)
            field = generate_ki_exports(landing, ki, pool=pool) + generate_cluster_workbooks(landing)
        written = [future.result() for future in lists] + field
    write_manifest(landing, written)
    return written


def ki_rounds(chosen: list[tg.RoundTarget], numbers: set[int] | None = None, scale: int = 1) -> list[KiRound]:
    """The KI rounds among `chosen` (those numbered in `numbers`, else all): each round's period,
    from the day after the round before it, and the locations of its master lists (made again
    here from their seeds, as they were written)."""
    _, pools = history(scale)
    result = []
    for previous, target in zip([None, *chosen], chosen, strict=False):
        if numbers is not None and target.round_number not in numbers:
            continue
        columns = ["location_id", "admin1_pcode", "district", "location_name", "households"]
        lists = {t: generate_master_list(t, target, pools, scale).frame[columns] for t in list_types(target)}
        frame = lists["idp"].rename(columns={"households": "idp_hh"})
        if "returnee" in lists:
            frame = frame.merge(
                lists["returnee"].rename(columns={"households": "returnee_hh"}),
                how="outer",
                on=["location_id", "admin1_pcode", "district", "location_name"],
            )
        frame = frame.fillna({"idp_hh": 0, "returnee_hh": 0}).astype({"idp_hh": int, "returnee_hh": int})
        start = (previous.file_date + timedelta(days=1)) if previous else target.file_date.replace(day=1)
        result.append(KiRound(target.round_number, start, target.file_date, frame.reset_index(drop=True)))
    return result


def write_manifest(landing: Path, written: list[Path]) -> None:
    """sha256 of every file the generator wrote (merged with an earlier manifest)."""
    from orchestration.informants import SAMPLE_MANIFEST
    from orchestration.readers.round_files import file_digest

    manifest_path = landing / SAMPLE_MANIFEST
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
    manifest.update({path.relative_to(landing).as_posix(): file_digest(path)[0] for path in written})
    manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
