"""What the sample history must add up to: IOM's real figures and the shapes around them.

Every number a governorate shows for IDPs comes from IOM's own per-governorate series (the DTM
API, copied into the seeds). Returnees are synthetic but pinned to the figure IOM published for
Round 88, and the shelter mix is pinned to the Round 88 shares of the 2018 appeal.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

import numpy as np

from orchestration.reference import governorates, read_seed

# Round 112's file is dated 2019-10-31 where the API says 2019-10-30: real files drift by a day.
FILE_DATE_QUIRKS = {(112, date(2019, 10, 30)): date(2019, 10, 31)}

# Two extrapolated rounds after the API's last one, so that Round 134's renamed governorates appear.
EXTRAPOLATED_ROUNDS = ((133, date(2024, 8, 31)), (134, date(2024, 12, 31)))
EXTRAPOLATION_FACTOR = 0.975  # IDPs fell about 2.5 % a round in 2023-24

# Returns begin in 2015. National returnees (individuals) at anchor dates, interpolated between;
# Round 88 (2018-01-31) is IOM's published 3,346,704.
RETURNEE_ANCHORS: tuple[tuple[date, int], ...] = (
    (date(2015, 1, 1), 18_000),
    (date(2015, 6, 1), 150_000),
    (date(2015, 12, 1), 450_000),
    (date(2016, 6, 1), 720_000),
    (date(2016, 12, 1), 1_250_000),
    (date(2017, 6, 30), 1_900_000),
    (date(2017, 12, 31), 3_200_000),
    (date(2018, 1, 31), 3_346_704),
    (date(2018, 6, 30), 3_800_000),
    (date(2018, 12, 30), 4_150_000),
    (date(2019, 12, 31), 4_350_000),
    (date(2020, 12, 31), 4_800_000),
    (date(2021, 12, 31), 4_900_000),
    (date(2022, 12, 31), 4_950_000),
    (date(2024, 12, 31), 4_990_000),
)
RETURNS_BEGIN = RETURNEE_ANCHORS[0][0]

# Where returnees go: early returns were mostly Salah al-Din and Diyala, later Ninewa and Anbar.
RETURNEE_SHARES_EARLY = {
    "IQG16": 0.45,
    "IQG10": 0.25,
    "IQG01": 0.12,
    "IQG15": 0.05,
    "IQG13": 0.05,
    "IQG08": 0.04,
    "IQG11": 0.02,
    "IQG07": 0.02,
}
RETURNEE_SHARES_LATE = {
    "IQG15": 0.39,
    "IQG01": 0.31,
    "IQG16": 0.14,
    "IQG13": 0.07,
    "IQG10": 0.05,
    "IQG08": 0.02,
    "IQG11": 0.01,
    "IQG07": 0.01,
}

# National shelter mix of IDP households by date. Round 88: 26 % camps, 11 % critical shelters.
SHELTER_PROFILE_DATES = (
    date(2014, 4, 1),
    date(2015, 1, 1),
    date(2016, 3, 1),
    date(2017, 1, 1),
    date(2018, 1, 31),
    date(2019, 4, 30),
    date(2020, 12, 31),
    date(2024, 12, 31),
)
SHELTER_PROFILE = {
    "camp": (0.08, 0.10, 0.13, 0.20, 0.26, 0.30, 0.20, 0.16),
    "critical": (0.30, 0.22, 0.16, 0.13, 0.11, 0.09, 0.08, 0.07),
    "host_families": (0.35, 0.30, 0.28, 0.25, 0.22, 0.20, 0.22, 0.24),
    "hotel_motel": (0.02, 0.015, 0.01, 0.01, 0.005, 0.003, 0.002, 0.002),
    "other": (0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02),
    "unknown": (0.03, 0.02, 0.02, 0.01, 0.005, 0.002, 0.001, 0.001),
}
# How critical shelter splits, and how rented splits once the columns are split (Round 109).
CRITICAL_SPLIT = {
    "informal_settlements": 0.30,
    "religious_building": 0.15,
    "school_building": 0.15,
    "unfinished_building": 0.40,
}
RENTED_SPLIT = {"rented_pre_2019_04": 0.25, "rented_habitable": 0.65, "rented_uninhabitable": 0.10}


@dataclass(frozen=True)
class RoundTarget:
    round_number: int
    reporting_date: date  # the API's date
    file_date: date  # the date in the file name
    idps: dict[str, int]  # admin1 p-code → IDP individuals (IOM's figure)
    extrapolated: bool = False


def api_to_cod_pcode() -> dict[str, str]:
    return {g["api_pcode"]: g["admin1_pcode"] for g in governorates()}


def round_targets() -> list[RoundTarget]:
    """One entry per (round, date) of the API series, in reporting order, plus the extrapolated."""
    to_cod = api_to_cod_pcode()
    figures: dict[tuple[int, date], dict[str, int]] = defaultdict(dict)
    for row in read_seed("reference/dtm_api_idps_admin1_by_round.csv"):
        entry = (int(row["round_number"]), date.fromisoformat(row["reporting_date"]))
        figures[entry][to_cod[row["admin1_pcode"]]] = int(row["idps_individuals"])
    targets = [
        RoundTarget(number, day, FILE_DATE_QUIRKS.get((number, day), day), idps)
        for (number, day), idps in sorted(figures.items(), key=lambda item: item[0][1])
    ]
    last = targets[-1].idps
    for step, (number, day) in enumerate(EXTRAPOLATED_ROUNDS, start=1):
        idps = {p: int(v * EXTRAPOLATION_FACTOR**step) for p, v in last.items()}
        targets.append(RoundTarget(number, day, day, idps, extrapolated=True))
    return targets


def national_returnees(day: date) -> int:
    """National returnees (individuals) on a date: 0 before returns begin, interpolated after."""
    if day < RETURNS_BEGIN:
        return 0
    ordinals = [d.toordinal() for d, _ in RETURNEE_ANCHORS]
    values = [v for _, v in RETURNEE_ANCHORS]
    return round(float(np.interp(day.toordinal(), ordinals, values)))


def returnee_shares(day: date) -> dict[str, float]:
    weight = float(np.clip((day.toordinal() - date(2015, 6, 1).toordinal()) / (365 * 2.5), 0, 1))
    pcodes = set(RETURNEE_SHARES_EARLY) | set(RETURNEE_SHARES_LATE)
    shares = {
        p: (1 - weight) * RETURNEE_SHARES_EARLY.get(p, 0) + weight * RETURNEE_SHARES_LATE.get(p, 0)
        for p in sorted(pcodes)
    }
    total = sum(shares.values())
    return {p: s / total for p, s in shares.items()}


def shelter_targets(day: date, categories: list[str]) -> np.ndarray:
    """Shares of IDP households per shelter category (in the order given) on a date."""
    ordinals = [d.toordinal() for d in SHELTER_PROFILE_DATES]
    at = {k: float(np.interp(day.toordinal(), ordinals, v)) for k, v in SHELTER_PROFILE.items()}
    shares = {k: at[k] for k in ("camp", "host_families", "hotel_motel", "other", "unknown")}
    for category, split in CRITICAL_SPLIT.items():
        shares[category] = at["critical"] * split
    rented = 1.0 - sum(shares.values())
    if "rented" in categories:
        shares["rented"] = rented
    else:
        for category, split in RENTED_SPLIT.items():
            shares[category] = rented * split
    return np.array([shares[c] for c in categories])
