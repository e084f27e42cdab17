"""Every copy of a rule that must remain (Python, the gates' SQL, dbt's macros) gives the same
answer on the same tricky cells; dbt's copies are the ones generated from orchestration/rules.py."""

import duckdb
import jinja2
import pandas as pd
import pytest

from orchestration import rules
from orchestration.quality import field_frames, frames
from orchestration.quality.gate import load_suite
from orchestration.readers import round_files

CELLS = [
    "1,234",
    "1 234",
    "1\u00a0234",
    "1\u202f234",
    "1234.0",
    " 12 ",
    "-5",
    "1.5",
    "-99",
    "n/a",
    "",
    "   ",
    None,
    "1e3",
    "+5",
    "1_000",
    "\u0661\u0662",  # Arabic-Indic digits
    ",",
    "5,00",  # a decimal comma
    "250,00",
    "12,5",
    "1.000,00",
    "1,0000",
    "1 2 3",
    "1.000",  # one thousand, or one
    "12.000",
    "1234.000",
    "1,234,567",
    "-1,234",
    "\u00a012\u00a0",
]
NOT_A_COUNT = "not a count"
# What a person reads in each cell (the rule's answer, written out by hand).
READ_AS = {
    "1,234": 1234,
    "1\u00a0234": 1234,
    "1234.0": 1234,
    "1234.000": 1234,
    "1,234,567": 1_234_567,
    "-1,234": -1234,
    "\u00a012\u00a0": 12,
    "5,00": NOT_A_COUNT,
    "250,00": NOT_A_COUNT,
    "12,5": NOT_A_COUNT,
    "1.000,00": NOT_A_COUNT,
    "1,0000": NOT_A_COUNT,
    "1 2 3": NOT_A_COUNT,
    "1.000": NOT_A_COUNT,
    "12.000": NOT_A_COUNT,
}


def python_count(cell: str | None):
    try:
        return rules.parse_count(cell)
    except ValueError:
        return NOT_A_COUNT


def dbt_macro(name: str, *args: str) -> str:
    """A macro of dbt_project/macros/rules.sql rendered by Jinja, as dbt renders it."""
    text = rules.MACROS_PATH.read_text(encoding="utf-8")
    call = ", ".join(f"'{a}'" for a in args)
    return jinja2.Environment().from_string(text + f"{{{{ {name}({call}) }}}}").render().strip()


def sql_values(expressions: dict[str, str]) -> pd.DataFrame:
    """Each expression over every cell, in DuckDB, one column per expression."""
    con = duckdb.connect()
    con.register("cells", pd.DataFrame({"c": pd.array(CELLS, dtype="string")}))
    selected = ", ".join(f'{sql} as "{name}"' for name, sql in expressions.items())
    return con.execute(f"select c, {selected} from cells").df()


def test_a_decimal_comma_or_a_dot_before_three_zeros_is_not_a_count():
    """Separators must group thousands (`5,00` is five in a decimal-comma locale, not 500), and
    `1.000` may be one or one thousand: neither may become a number."""
    assert {cell: python_count(cell) for cell in READ_AS} == READ_AS


def test_dbt_macros_are_generated_from_the_rules_module():
    assert rules.MACROS_PATH.read_text(encoding="utf-8") == rules.dbt_macros(), (
        "dbt_project/macros/rules.sql is stale: run `python -m orchestration.rules`"
    )


def test_count_cells_read_the_same_in_the_reader_the_gates_and_dbt():
    values = sql_values(
        {
            "gate_count": frames._count("c"),
            "gate_unparseable": frames._unparseable("c"),
            "field_gate_bad": field_frames._bad_count("c"),
            "dbt_count": dbt_macro("to_count", "c"),
        }
    )
    for row in values.itertuples(index=False):
        cell = row.c if isinstance(row.c, str) else None
        expected = python_count(cell)
        gate = NOT_A_COUNT if row.gate_unparseable else (None if pd.isna(row.gate_count) else row.gate_count)
        dbt = None if pd.isna(row.dbt_count) else int(row.dbt_count)
        assert gate == expected, row
        assert dbt == (None if expected == NOT_A_COUNT else expected), row
        assert bool(row.field_gate_bad) == (expected == NOT_A_COUNT or (expected or 0) < 0), row
        # The reader's totals check sums a column by the same rule, or names the bad cell.
        column = pd.Series([cell, "10"], dtype="string")
        total, bad = round_files._column_sum(column)
        if expected == NOT_A_COUNT:
            assert bad == 0, row
        else:
            assert (total, bad) == ((expected or 0) + 10, None), row


def test_spaced_thousands_pass_the_totals_check_and_reach_staging_as_numbers():
    assert rules.parse_count("1 234") == 1234
    assert round_files._column_sum(pd.Series(["1 234", "1\u00a0000"], dtype="string")) == (2234, None)


def test_ki_dont_know_sentinels_are_null_in_dbt_and_allowed_by_the_gate():
    values = sql_values(
        {
            "dbt": dbt_macro("ki_count", "c"),
            "python": rules.KI_COUNT_SQL.replace("{0}", "c"),
            "gate_bad": field_frames._bad_count("c", rules.KI_SENTINELS),
        }
    )
    for row in values.itertuples(index=False):
        assert (pd.isna(row.dbt) and pd.isna(row.python)) or row.dbt == row.python, row
        if row.c in rules.KI_SENTINELS:
            assert pd.isna(row.dbt) and row.gate_bad == 0


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("irq18-cccm-124317 ", "IRQ18/CCCM/124317"),
        ("IRQ18_CCCM_124317", "IRQ18/CCCM/124317"),
        ("IRQ18\\CCCM\\124317", "IRQ18/CCCM/124317"),
        (" IRQ 18/CCCM/124317", "IRQ18/CCCM/124317"),
        ("\tirq18 - cccm -\n124317", "IRQ18/CCCM/124317"),
    ],
)
def test_hrp_codes_read_the_same_in_python_the_gate_and_dbt(typed, code):
    con = duckdb.connect()
    gate, dbt = con.execute(
        f"select {rules.hrp_code_sql('c')}, {dbt_macro('hrp_code', 'c')} from (select ? as c)", [typed]
    ).fetchall()[0]
    assert gate == dbt == rules.hrp_code(typed) == code


@pytest.mark.parametrize(
    ("written", "status"),
    [
        ("validation_status_approved", "approved"),
        ("validation_status_not_approved", "not_approved"),
        (" validation_status_on_hold", "on_hold"),
        ("Not approved", "not_approved"),  # a label export
        ("On hold", "on_hold"),
        ("", None),
        (None, None),
    ],
)
def test_kobo_validation_statuses_read_the_same_in_the_gate_and_dbt(written, status):
    con = duckdb.connect()
    gate, dbt = con.execute(
        f"select {rules.validation_status_sql('c')}, {dbt_macro('validation_status', 'c')} "
        "from (select ?::varchar as c)",
        [written],
    ).fetchall()[0]
    assert gate == dbt == status
    (suite_statuses,) = [
        e["kwargs"]["value_set"]
        for e in load_suite("ki_report")["expectations"]
        if e["kwargs"].get("column") == "validation_status"
    ]
    assert (status or "") in suite_statuses


@pytest.mark.parametrize("name", ["Ninewa", " NINEWA ", "Salah al-Din", "Salah Al Din", "Sulaymaniyah\u200f"])
def test_name_keys_agree_in_python_the_gates_and_dbt(name):
    con = duckdb.connect()
    gate, dbt = con.execute(
        f"select {rules.name_key_sql('c')}, {dbt_macro('name_key', 'c')} from (select ? as c)", [name]
    ).fetchall()[0]
    assert gate == dbt == rules.name_key(name)


def test_formula_safety_is_one_rule_for_cells_and_sql():
    texts = ["=SUM(A1)", "+964 750", "-Kut", "@x", "\tx", "\rx", "Kut", "", None]
    con = duckdb.connect()
    con.register("t", pd.DataFrame({"c": pd.array(texts, dtype="string")}))
    sql = [r[0] for r in con.execute(f"select {rules.formula_safe_sql('c')} from t").fetchall()]
    cells = [None if t is None else rules.formula_safe_text(t) for t in texts]
    assert cells == sql
    assert sql[:3] == ["'=SUM(A1)", "'+964 750", "'-Kut"]


def test_governorates_match_by_name_or_by_location_id_in_every_gate_frame():
    """The gates' one governorate rule: a spelling of the name, else the Location ID's first two
    digits (DTM's governorate code), as dbt's harmonised locations do."""
    con = duckdb.connect()
    frames.register_reference(con)
    con.execute(
        "create table r as select * from (values ('Ninewa', '27001'), ('NINEWA ', null), "
        "('???', '27002'), ('Atlantis', null)) v(governorate, location_id)"
    )
    rows = con.execute(
        f"select governorate, {frames.GOVERNORATE_PCODE} from r {frames.governorate_join('r')} order by all"
    ).fetchall()
    by_name = dict(rows)
    assert by_name["Ninewa"] == by_name["NINEWA "] == by_name["???"] == "IQG15"
    assert by_name["Atlantis"] is None
