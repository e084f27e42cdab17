"""Sample cluster workbooks (sheets Projects, Activities, Reach), one per year.

2018 is built on IOM Iraq's real 2018 projects and activities (the reference seeds: codes,
budgets, targets, identified needs; the Projects totals row states the appeal's own total,
USD 26,782,341, one dollar more than its rows). Monthly reach is synthetic. 2017 and 2019 are
synthetic workbooks of the same form. What real sheets do is here too: HRP codes typed with
stray spaces, lower case and dashes; title rows, header cells merged over two rows, totals rows;
some months reported as running totals (2018: flagged in a Cumulative column; 2017: no such
column, so the warehouse must detect it); activities reaching the same people; female + male
off the total in some rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np
import xlsxwriter

from orchestration.reference import governorates, read_seed
from orchestration.sample.apportion import largest_remainder

SEED = 20180201
APPEAL_TOTAL_2018 = "IOM emergency appeal total (stated)"
GROUPS = ("IDP", "Returnee", "Host community", "Newly displaced")
# Share of its headline target each project reaches in a year (PHRRL goes past its target).
REACH_FACTOR = {"CSS": 0.82, "CCCM": 0.96, "H": 0.88, "SNF": 0.91, "PHRRL": 1.12, "ER": 0.94}
PEOPLE_UNITS = frozenset({"individuals", "people trained"})
PROJECT_HEADER = (
    ("HRP code", None),
    ("Cluster", None),
    ("Project title", None),
    ("Budget (USD)", None),
    (
        "Target beneficiaries",
        ("Total", "Female", "Male", "IDPs", "Returnees", "Host community", "Newly displaced"),
    ),
    ("IOM identified needs", ("USD", "People")),
)
# Governorates each cluster works in (p-codes), for the reach rows.
AREAS = {
    "CSS": ("IQG15", "IQG01", "IQG07", "IQG10", "IQG13"),
    "CCCM": ("IQG15", "IQG09", "IQG11"),
    "H": ("IQG15", "IQG01", "IQG13"),
    "SNF": ("IQG15", "IQG01", "IQG09", "IQG11", "IQG16"),
    "PHRRL": ("IQG15", "IQG01"),
    "ER": ("IQG15", "IQG01", "IQG13"),
}


@dataclass
class Project:
    hrp_code: str
    cluster: str
    title: str
    budget: int
    target_total: int
    target_female: int | None
    target_male: int | None
    needs_usd: int | None
    needs_people: int | None
    funding: int | None
    activities: list[dict]


def _int(text: str) -> int | None:
    return int(text) if text else None


def projects_2018() -> list[Project]:
    activities = read_seed("reference/hrp_2018_iom_activities.csv")
    return [
        Project(
            p["hrp_code"],
            p["cluster"],
            p["project_title"],
            int(p["budget_usd"]),
            int(p["target_beneficiaries"]),
            _int(p["target_female"]),
            _int(p["target_male"]),
            _int(p["iom_identified_needs_usd"]),
            _int(p["iom_identified_needs_people"]),
            None,
            [a for a in activities if a["hrp_code"] == p["hrp_code"]],
        )
        for p in read_seed("reference/hrp_2018_iom_projects.csv")
    ]


def synthetic_projects(year: int) -> list[Project]:
    """The 2018 projects carried to another year: new codes, scaled budgets and targets."""
    rng = np.random.default_rng([SEED, year])
    projects = []
    for p in projects_2018():
        scale = float(rng.uniform(0.7, 1.3))
        number = int(p.hrp_code.rsplit("/", 1)[1]) + (year - 2018) * 7000
        code = f"IRQ{year % 100:02d}/{_short(p.hrp_code)}/{number}"
        female = round(p.target_total * scale * 0.52)
        total = round(p.target_total * scale)
        projects.append(
            Project(
                code,
                p.cluster,
                p.title,
                round(p.budget * scale, -3),
                total,
                female,
                total - female,
                round(p.needs_usd * scale, -3) if p.needs_usd else None,
                round(p.needs_people * scale) if p.needs_people else None,
                round(p.budget * scale * float(rng.uniform(0.4, 0.9)), -3) if year == 2019 else None,
                [
                    {**a, "hrp_code": code, "target": str(round(int(a["target"]) * scale))}
                    for a in p.activities
                ],
            )
        )
    return projects


def _short(code: str) -> str:
    return code.split("/")[1]


def _as_typed(code: str, rng: np.random.Generator) -> str:
    """HRP codes as people type them: lower case, dashes, stray spaces, or as they should be."""
    style = rng.integers(5)
    if style == 0:
        return code.lower().replace("/", "-") + " "
    if style == 1:
        return " " + code.replace("/", " / ")
    if style == 2:
        return code.lower()
    return code


def reach_rows(projects: list[Project], year: int) -> list[dict]:
    """Monthly reach per activity, governorate and population group (monthly figures)."""
    rng = np.random.default_rng([SEED, year, 1])
    names = {g["admin1_pcode"]: g["dtm_name"] for g in governorates()}
    rows = []
    for project in projects:
        areas = AREAS[_short(project.hrp_code)]
        for activity in project.activities:
            target = int(activity["target"])
            factor = REACH_FACTOR[_short(project.hrp_code)] if activity["headline"] == "yes" else 0.9
            groups = GROUPS[: 2 + rng.integers(3)]  # each series is reported every month
            cells = [(m, a, g) for m in range(1, 13) for a in areas for g in groups]
            weights = rng.gamma(2.0, 1.0, len(cells))
            totals = largest_remainder(weights[None, :], np.array([round(target * factor)]))[0]
            people = activity["unit"] in PEOPLE_UNITS
            for (month, area, group), total in zip(cells, totals, strict=True):
                female = round(total * float(rng.uniform(0.45, 0.56))) if people else None
                male = total - female if people else None
                if people and total > 50 and rng.random() < 0.02:
                    male += int(rng.integers(1, 9))  # female + male off the total, as real sheets are
                rows.append(
                    {
                        "month": date(year, month, 1),
                        "hrp_code": project.hrp_code,
                        "activity": activity["activity"],
                        "governorate": names[area],
                        "population_group": group,
                        "female": female,
                        "male": male,
                        "total": int(total),
                        "households": round(total / 6) if activity["unit"] == "individuals" else None,
                    }
                )
    return rows


def cumulative_series(rows: list[dict], keys: set[tuple[str, str]], from_month: int) -> None:
    """Turn some series into running totals from a month on (in place), as some months are
    reported. `keys` are (hrp_code, activity)."""
    running: dict[tuple, dict[str, int]] = {}
    for row in sorted(rows, key=lambda r: r["month"]):
        if (row["hrp_code"], row["activity"]) not in keys:
            continue
        series = (row["hrp_code"], row["activity"], row["governorate"], row["population_group"])
        sums = running.setdefault(series, {"female": 0, "male": 0, "total": 0, "households": 0})
        for field in sums:
            if row[field] is not None:
                sums[field] += row[field]
        if row["month"].month >= from_month:
            row["cumulative"] = "yes"
            for field, value in sums.items():
                if row[field] is not None:
                    row[field] = value


def write_workbook(
    path: Path,
    year: int,
    projects: list[Project],
    rows: list[dict],
    *,
    flag: bool,
    funding: bool,
    stated_budget_total: int | None,
) -> None:
    rng = np.random.default_rng([SEED, year, 2])
    workbook = xlsxwriter.Workbook(path)
    workbook.set_properties({"created": datetime(year + 1, 1, 15)})
    bold = workbook.add_format({"bold": True, "align": "center", "valign": "vcenter", "text_wrap": True})
    title = workbook.add_format({"bold": True, "font_size": 13})
    money = workbook.add_format({"num_format": "#,##0"})

    sheet = workbook.add_worksheet("Projects")
    sheet.write(0, 0, f"IOM Iraq: Humanitarian Response Plan {year}, projects", title)
    note = "budgets, targets and needs from IOM Iraq's 2018 appeal" if year == 2018 else "synthetic sample"
    sheet.write(1, 0, f"Source: {note}; reach figures are synthetic (sample data).")
    column = 0
    header = list(PROJECT_HEADER) + ([("Funding received (USD)", None)] if funding else [])
    for text, children in header:
        if children:
            sheet.merge_range(3, column, 3, column + len(children) - 1, text, bold)
            for i, child in enumerate(children):
                sheet.write(4, column + i, child, bold)
            column += len(children)
        else:
            sheet.merge_range(3, column, 4, column, text, bold)
            column += 1
    for r, p in enumerate(projects, start=5):
        values = [
            p.hrp_code,
            p.cluster,
            p.title,
            p.budget,
            p.target_total,
            p.target_female,
            p.target_male,
            None,
            None,
            None,
            None,
            p.needs_usd,
            p.needs_people,
        ] + ([p.funding] if funding else [])
        for c, value in enumerate(values):
            if value is not None:
                sheet.write(r, c, value, money if isinstance(value, int) and c >= 3 else None)
    total_row = 5 + len(projects)
    sheet.write(total_row, 0, "Total")
    sheet.write(total_row, 3, stated_budget_total or sum(p.budget for p in projects), money)
    sheet.write(total_row, 4, sum(p.target_total for p in projects), money)

    sheet = workbook.add_worksheet("Activities")
    sheet.write_row(0, 0, ["HRP code", "Activity", "Unit", "Target", "Headline indicator"], bold)
    r = 1
    for p in projects:
        for a in p.activities:
            sheet.write_row(
                r, 0, [_as_typed(p.hrp_code, rng), a["activity"], a["unit"], int(a["target"]), a["headline"]]
            )
            r += 1

    sheet = workbook.add_worksheet("Reach")
    columns = [
        "Reporting month",
        "HRP code",
        "Activity",
        "Governorate",
        "District",
        "Population group",
        "Female",
        "Male",
        "Total",
        "Households",
    ] + (["Cumulative"] if flag else [])
    sheet.write(0, 0, f"Monthly reach {year}", title)
    sheet.write_row(2, 0, columns, bold)
    date_format = workbook.add_format({"num_format": "mmm yyyy"})
    r = 3
    for row in rows:
        sheet.write_datetime(r, 0, datetime.combine(row["month"], datetime.min.time()), date_format)
        values = [
            _as_typed(row["hrp_code"], rng),
            row["activity"],
            row["governorate"],
            None,
            row["population_group"],
            row["female"],
            row["male"],
            row["total"],
            row["households"],
        ]
        if flag:
            values.append(row.get("cumulative", "no"))
        for c, value in enumerate(values, start=1):
            if value is not None:
                sheet.write(r, c, value)
        r += 1
    sheet.write(r, 0, "Total")
    for c, field in ((6, "female"), (7, "male"), (8, "total")):
        sheet.write(r, c, sum(row[field] or 0 for row in rows))
    workbook.close()


def workbook_name(year: int) -> str:
    return f"IOM_Iraq_HRP_cluster_sheets_{year}.xlsx"


def generate_cluster_workbooks(landing: Path) -> list[Path]:
    appeal = next(
        int(float(f["value"]))
        for f in read_seed("reference/published_figures.csv")
        if f["figure"] == APPEAL_TOTAL_2018
    )
    written = []
    for year in (2017, 2018, 2019):
        projects = projects_2018() if year == 2018 else synthetic_projects(year)
        rows = reach_rows(projects, year)
        if year == 2018:  # NFI distributions reported as running totals from July, flagged
            nfi = next(p for p in projects if _short(p.hrp_code) == "SNF")
            cumulative_series(rows, {(nfi.hrp_code, "Emergency and seasonal NFI distributions")}, 7)
        if year == 2017:  # camp management reported as running totals all year, unflagged
            cccm = next(p for p in projects if _short(p.hrp_code) == "CCCM")
            cumulative_series(rows, {(cccm.hrp_code, "Camp management services")}, 1)
        path = landing / workbook_name(year)
        write_workbook(
            path,
            year,
            projects,
            rows,
            flag=year != 2017,
            funding=year == 2019,
            stated_budget_total=appeal if year == 2018 else None,
        )
        written.append(path)
    return written
