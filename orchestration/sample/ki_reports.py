"""Sample key-informant reports: KoBoToolbox exports for the last twelve rounds.

Several informants report on a sample of each round's locations (the places and households of
that round's master lists, with estimates near them). The exports do what real ones do: CSV
with XML field names and select_multiple both as a field and as 0/1 columns, XLSX with labels
(headers and choices), KoBo JSON with `_validation_status` as an object; re-exports that repeat
the end of the previous export on `_uuid`; test and not-approved submissions; -99/999/9999 for
"don't know"; Arabic free text; informants' phones written four ways. Every informant is made up.
"""

from __future__ import annotations

import csv
import json
import uuid
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import xlsxwriter

from orchestration.reference import governorates, header_aliases
from orchestration.sample.pool import InlineExecutor

SEED = 20180131
KI_ROUNDS = 12
SUBMISSIONS_PER_ROUND = 2000
INFORMANTS_PER_LOCATION = (2, 3, 3, 4)
OVERLAP_SHARE = 0.05  # the share of an export repeated at the start of the next one
ROLES = ("mukhtar", "local_official", "community_leader", "camp_manager", "religious_leader", "teacher")
ROLE_WEIGHTS = (0.45, 0.15, 0.2, 0.05, 0.1, 0.05)
NEEDS = ("food", "nfi", "shelter", "health", "water", "livelihoods", "education", "legal", "psychosocial")
NEED_LABELS = {
    "food": "Food",
    "nfi": "NFI",
    "shelter": "Shelter",
    "health": "Health",
    "water": "Water",
    "livelihoods": "Livelihoods",
    "education": "Education",
    "legal": "Legal",
    "psychosocial": "Psychosocial",
}
CONDITIONS = {
    "security": ("good", "fair", "poor"),
    "water": ("available", "partial", "not_available"),
    "electricity": ("available", "partial", "not_available"),
    "health": ("available", "partial", "not_available"),
    "education": ("available", "partial", "not_available"),
}
INTENTIONS = ("stay", "return", "move_elsewhere", "unknown")
SENTINELS = ("-99", "999", "9999")
FIRST_NAMES = (
    ("أحمد", "Ahmed"),
    ("محمد", "Mohammed"),
    ("علي", "Ali"),
    ("حسين", "Hussein"),
    ("عمر", "Omar"),
    ("خالد", "Khalid"),
    ("سعد", "Saad"),
    ("جاسم", "Jassim"),
    ("كريم", "Kareem"),
    ("يوسف", "Yousif"),
    ("فاطمة", "Fatima"),
    ("زينب", "Zainab"),
    ("مريم", "Maryam"),
    ("نور", "Noor"),
    ("هدى", "Huda"),
)
FAMILY_NAMES = (
    ("الجبوري", "Al-Jubouri"),
    ("الدليمي", "Al-Dulaimi"),
    ("العبيدي", "Al-Obaidi"),
    ("الشمري", "Al-Shammari"),
    ("الزبيدي", "Al-Zubaidi"),
    ("التميمي", "Al-Tamimi"),
    ("الكردي", "Al-Kurdi"),
    ("البياتي", "Al-Bayati"),
)
COMMENTS = (
    "الوضع مستقر نسبياً",
    "نقص في المياه الصالحة للشرب",
    "عودة بعض العوائل خلال الشهر الماضي",
    "الكهرباء متقطعة",
    "يرجى الاتصال بي على {phone}",
    "",
)


@dataclass(frozen=True)
class Informant:
    name_ar: str
    name_en: str
    phone: str | None  # E.164 digits; None: the informant gave no phone
    role: str
    gender: str


@dataclass(frozen=True)
class KiRound:
    """What a round's KI reports are drawn from: its period and its master lists' locations."""

    round_number: int
    start: date  # first day of the period
    end: date  # the round's reporting date
    locations: pd.DataFrame  # location_id, admin1_pcode, district, location_name, idp_hh, returnee_hh


def _informant(location_id: str, index: int) -> Informant:
    rng = np.random.default_rng([SEED, int(location_id), index])
    first = FIRST_NAMES[rng.integers(len(FIRST_NAMES))]
    family = FAMILY_NAMES[rng.integers(len(FAMILY_NAMES))]
    role = str(rng.choice(ROLES, p=ROLE_WEIGHTS))
    gender = "female" if first[1] in ("Fatima", "Zainab", "Maryam", "Noor", "Huda") else "male"
    phone = None if rng.random() < 0.05 else f"+9647{rng.choice([5, 7, 8, 9])}{rng.integers(10**7, 10**8)}"
    return Informant(f"{first[0]} {family[0]}", f"{first[1]} {family[1]}", phone, role, gender)


def _phone_as_typed(phone: str | None, rng: np.random.Generator) -> str:
    if phone is None:
        return ""
    national = phone[4:]  # 7XXXXXXXXX
    style = rng.integers(4)
    if style == 0:
        return f"+964 {national[:3]} {national[3:6]} {national[6:]}"
    if style == 1:
        return "0" + national
    if style == 2:
        return f"00964{national}"
    return f"964-{national[:3]}-{national[3:6]}-{national[6:]}"


def round_submissions(ki_round: KiRound, submissions: int, first_id: int) -> pd.DataFrame:
    """One round's submissions in canonical fields (values as XML names)."""
    rng = np.random.default_rng([SEED, ki_round.round_number, submissions])
    names = {g["admin1_pcode"]: g["dtm_name"] for g in governorates()}
    places = ki_round.locations
    per_place = rng.choice(INFORMANTS_PER_LOCATION, size=len(places))
    weights = (places["idp_hh"] + places["returnee_hh"] + 20).to_numpy(float)
    chosen: list[int] = []
    order = rng.choice(len(places), size=len(places), replace=False, p=weights / weights.sum())
    while len(chosen) < submissions:  # a big month visits places again, with more informants
        for place in order:
            if len(chosen) >= submissions:
                break
            chosen += [place] * int(per_place[place])
    chosen = chosen[:submissions]
    seen: dict[int, int] = {}
    days = (ki_round.end - ki_round.start).days + 1
    need_weights = rng.dirichlet(np.ones(len(NEEDS)) * 2, size=len(names))
    gov_index = {pcode: i for i, pcode in enumerate(sorted(names))}
    # Each place's row as pandas gives it (numbers as numpy integers), read once into a dict:
    # indexing the frame and its rows again for every informant took 1.5 s of the KI sample's 20.
    rows: dict[int, dict] = {}
    records = []
    for n, place in enumerate(chosen):
        if place not in rows:
            rows[place] = dict(places.iloc[place].items())
        row = rows[place]
        index = seen.get(place, 0)
        seen[place] = index + 1
        informant = _informant(row["location_id"], index)
        submitted = datetime.combine(
            ki_round.start + timedelta(days=int(rng.integers(days))), time(8)
        ) + timedelta(minutes=int(rng.integers(600)))
        chosen_needs = rng.choice(
            NEEDS, size=int(rng.integers(1, 4)), replace=False, p=need_weights[gov_index[row["admin1_pcode"]]]
        )
        picked = set(chosen_needs)
        needs = [need for need in NEEDS if need in picked]
        status = rng.choice(
            ["validation_status_approved", "validation_status_not_approved", "", "validation_status_on_hold"],
            p=[0.92, 0.03, 0.04, 0.01],
        )
        is_test = rng.random() < 0.01
        typed_phone = _phone_as_typed(informant.phone, rng)
        comment = COMMENTS[rng.integers(len(COMMENTS))].format(phone=typed_phone or "-")
        records.append(
            {
                "started_at": (submitted - timedelta(minutes=25)).isoformat() + "+03:00",
                "ended_at": (submitted - timedelta(minutes=2)).isoformat() + "+03:00",
                "survey_date": submitted.date().isoformat(),
                "device_id": f"collect:{rng.integers(16**12):012x}",
                "enumerator_id": "test"
                if is_test
                else f"enum_{row['admin1_pcode'][-2:]}_{rng.integers(1, 6)}",
                "ki_name": "Test KI"
                if is_test
                else (informant.name_ar if rng.random() < 0.6 else informant.name_en),
                "ki_phone": typed_phone,
                "ki_role": informant.role,
                "ki_gender": informant.gender,
                "governorate": names[row["admin1_pcode"]],
                "district": row["district"],
                "place_id": row["location_id"],
                "location_name": row["location_name"],
                "idp_households": _estimate(row["idp_hh"], rng),
                "returnee_households": _estimate(row["returnee_hh"], rng),
                "host_households": _estimate(int(rng.integers(20, 400)), rng),
                **{field: str(rng.choice(choices)) for field, choices in CONDITIONS.items()},
                "priority_needs": " ".join(needs),
                **{f"priority_needs__{need}": "1" if need in needs else "0" for need in NEEDS},
                "majority_intention": str(rng.choice(INTENTIONS, p=[0.5, 0.3, 0.1, 0.1])),
                "comments": comment,
                "kobo_id": str(first_id + n),
                "submission_uuid": str(uuid.UUID(bytes=rng.bytes(16), version=4)),
                "submission_time": submitted.isoformat(),
                "validation_status": status,
                "kobo_index": str(n + 1),
            }
        )
    return pd.DataFrame.from_records(records)


def _estimate(listed: int, rng: np.random.Generator) -> str:
    if rng.random() < 0.03:
        return str(rng.choice(SENTINELS))
    return str(round(listed * rng.uniform(0.85, 1.15)))


def _headers(form: str) -> dict[str, str]:
    """Canonical field → the header an export of this form prints (field names or labels)."""
    result: dict[str, str] = {}
    for alias in header_aliases():
        if alias.list_type == "ki_report" and form in alias.eras:
            result.setdefault(alias.canonical_column, alias.alias)
    return result


def _as_labels(frame: pd.DataFrame) -> pd.DataFrame:
    """Choice values as the form's labels, as KoBo's label exports write them."""
    labelled = frame.copy()
    for field in (*CONDITIONS, "ki_role", "ki_gender", "majority_intention"):
        labelled[field] = labelled[field].str.replace("_", " ").str.capitalize()
    labelled["priority_needs"] = labelled["priority_needs"].map(
        lambda text: " ".join(NEED_LABELS[n] for n in text.split())
    )
    return labelled


def export_name(form: str, exported: datetime, suffix: str) -> str:
    return f"DTM_KI_Assessment_-_all_versions_-_{form}_-_{exported:%Y-%m-%d-%H-%M-%S}.{suffix}"


def write_export(frame: pd.DataFrame, path: Path, kind: str) -> None:
    """kind: csv (field names, both select_multiple forms), xlsx (labels, 0/1 columns only),
    json (KoBo JSON, field names, select_multiple as a field)."""
    if kind == "csv":
        headers = _headers("field")
        frame[list(headers)].rename(columns=headers).to_csv(
            path, sep=";", index=False, quoting=csv.QUOTE_MINIMAL
        )
    elif kind == "xlsx":
        labelled = _as_labels(frame).drop(columns=["priority_needs"])
        headers = _headers("label")
        columns = [c for c in headers if c in labelled]
        workbook = xlsxwriter.Workbook(path)
        workbook.set_properties({"created": datetime(2024, 1, 1)})
        sheet = workbook.add_worksheet("DTM KI Assessment")
        sheet.write_row(0, 0, [headers[c] for c in columns])
        for r, values in enumerate(labelled[columns].itertuples(index=False), start=1):
            sheet.write_row(r, 0, list(values))
        workbook.close()
    else:
        headers = _headers("field")
        records = []
        for record in frame.drop(columns=[f"priority_needs__{n}" for n in NEEDS]).to_dict("records"):
            out = {headers[k]: v for k, v in record.items() if v != ""}
            status = record["validation_status"]
            out["_validation_status"] = {"uid": status, "label": status.rsplit("_", 1)[-1]} if status else {}
            records.append(out)
        path.write_text(
            json.dumps({"count": len(records), "results": records}, ensure_ascii=False, indent=1),
            encoding="utf-8",
        )


EXPORT_KINDS = ("csv", "xlsx", "json")


def generate_ki_exports(
    landing: Path,
    rounds: list[KiRound],
    submissions: int = SUBMISSIONS_PER_ROUND,
    pool: Executor | None = None,
) -> list[Path]:
    """One export per round (CSV, XLSX, JSON in turn), each repeating the end of the one before.
    Each round's submissions have their own seed and `submissions` rows, so their ids are known
    before they are drawn and `pool` may draw and write them side by side."""
    pool = pool or InlineExecutor()
    drawn = [
        pool.submit(round_submissions, ki_round, submissions, 41_000_000 + i * submissions)
        for i, ki_round in enumerate(rounds)
    ]
    written, writes = [], []
    previous_tail = None
    for i, (ki_round, future) in enumerate(zip(rounds, drawn, strict=True)):
        frame = future.result()
        exported = frame if previous_tail is None else pd.concat([previous_tail, frame], ignore_index=True)
        previous_tail = frame.tail(int(len(frame) * OVERLAP_SHARE))
        kind = EXPORT_KINDS[i % len(EXPORT_KINDS)]
        moment = datetime.combine(ki_round.end + timedelta(days=3), time(10, 15))
        path = landing / export_name("labels" if kind == "xlsx" else "xml", moment, kind)
        writes.append(pool.submit(write_export, exported, path, kind))
        written.append(path)
    for write in writes:
        write.result()  # a failed write fails the generation
    return written
