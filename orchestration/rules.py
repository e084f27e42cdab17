"""One home for every rule that the readers (Python), the quality gate (SQL run by DuckDB) and
dbt all apply to the same cells. dbt's copies are generated from this module into
`dbt_project/macros/rules.sql` (`python -m orchestration.rules`; a test fails when they drift),
and `tests/test_rules_parity.py` runs every copy over the same tricky cells.

Each rule is written once, as data (characters, patterns, sentinels) and one SQL template with
`{0}` for the expression it applies to; the Python functions use the same data.
"""

from __future__ import annotations

import re
from pathlib import Path

from orchestration.settings import DBT_PROJECT_DIR


def _apply(template: str, *expressions: str) -> str:
    """A rule's SQL for these expressions: `{0}`, `{1}` replaced (not str.format: the templates
    hold RE2's own braces, as in `\\x{00a0}`)."""
    for index, expression in enumerate(expressions):
        template = template.replace(f"{{{index}}}", expression)
    return template


# --- Count cells -------------------------------------------------------------------------------
# A count as files write it: `277,518`, `1 234 567` (a comma, space or no-break space between
# groups of three digits), `6`, `6.0`. Anything else is not a count: the reader refuses it in a
# totals check, the gate reports it, staging reads it as null. Among the rest:
# - `1.5`, `n/a`, `1e3`, Arabic-Indic digits;
# - a separator that does not group thousands: `5,00`, `250,00` and `12,5` write a decimal comma
#   (read as 500, 25000 and 125 when every separator was dropped), and `1.000,00` one thousand;
# - a dot before exactly three zeros after at most three digits (`1.000`, `12.000`): a thousands
#   separator in many locales and a decimal point in others, so the count cannot be told.
COUNT_SEPARATORS = (",", " ", "\t", "\u00a0", "\u202f")
# Blank around a cell: spaces, tabs and the no-break spaces.
COUNT_PADDING = (" ", "\t", "\u00a0", "\u202f")


def _sql_char(char: str) -> str:
    # RE2 (DuckDB) spells a non-ASCII character \x{hhhh}; Python's re would read that as text.
    return char if char.isascii() and char.isprintable() else f"\\x{{{ord(char):04x}}}"


def _count_patterns(char) -> tuple[str, str]:
    """The count rule's patterns, each character written by `char` (Python's re or RE2): the
    separators, and a count between padding, its digits (with their sign and separators) in
    group 1 when it has four digits or more or separators, else in group 2, where a fraction of
    exactly three zeros (`1.000`) is not allowed."""
    separators = "[" + "".join(char(c) for c in COUNT_SEPARATORS) + "]"
    padding = "[" + "".join(char(c) for c in COUNT_PADDING) + "]*"
    long = f"(-?(?:[0-9]{{4,}}|[0-9]{{1,3}}(?:{separators}[0-9]{{3}})+))(?:\\.0+)?"
    short = "(-?[0-9]{1,3})(?:\\.(?:00?|0{4,}))?"
    return separators, f"^{padding}(?:{long}|{short}){padding}$"


_SQL_SEPARATORS, _SQL_COUNT = _count_patterns(_sql_char)
# Most cells are plain digits: read by a cast after one plain match (the full rule alone is
# 2-5x slower).
COUNT_SQL = (
    f"case when regexp_full_match({{0}}, '^-?[0-9]+$') then try_cast({{0}} as bigint) else "
    f"try_cast(nullif(regexp_replace(regexp_extract({{0}}, '{_SQL_COUNT}', 1) || "
    f"regexp_extract({{0}}, '{_SQL_COUNT}', 2), '{_SQL_SEPARATORS}', '', 'g'), '') as bigint) end"
)
# A cell that holds something (not null, not blank) which is not a count ({1}: its count).
UNPARSEABLE_COUNT_SQL = "(trim({0}) <> '' and {1} is null)"

_PY_SEPARATORS, _PY_COUNT = (re.compile(pattern) for pattern in _count_patterns(re.escape))


def parse_count(text: str | None) -> int | None:
    """A count cell to an integer; None when empty; ValueError when it is not a count."""
    if text is None or not text.strip():
        return None
    match = _PY_COUNT.fullmatch(text)
    if match is None:
        raise ValueError(text)
    return int(_PY_SEPARATORS.sub("", match[1] or match[2]))


def count_sql(expression: str) -> str:
    return _apply(COUNT_SQL, expression)


def unparseable_count_sql(expression: str, counted: str | None = None) -> str:
    """Whether the cell is not a count; `counted`: its count_sql, computed once elsewhere."""
    return _apply(UNPARSEABLE_COUNT_SQL, expression, counted or count_sql(expression))


# --- KoBo "don't know" -------------------------------------------------------------------------
# KoBo forms' codes for "don't know" in a household estimate: not a count, and not an error.
KI_SENTINELS = ("-99", "999", "9999")
KI_COUNT_SQL = f"case when trim({{0}}) in {KI_SENTINELS} then null else {COUNT_SQL} end"


# --- Name keys ---------------------------------------------------------------------------------
# The form two spellings of a name or header share: ASCII letters and digits, lower case, so
# `Host families`, `Hostfamilies`, `Ninewa`/`NINEWA` and garbled bilingual headers meet.
NAME_KEY_DROP = "[^a-z0-9]"
NAME_KEY_SQL = f"regexp_replace(lower(trim({{0}})), '{NAME_KEY_DROP}', '', 'g')"
_NAME_KEY_DROP = re.compile(NAME_KEY_DROP)


def name_key(text: str) -> str:
    return _NAME_KEY_DROP.sub("", text.strip().lower())


def name_key_sql(expression: str) -> str:
    return _apply(NAME_KEY_SQL, expression)


# --- HRP codes ---------------------------------------------------------------------------------
# An HRP code as OCHA writes it, IRQ18/CCCM/124317, from what people type
# (`irq18-cccm-124317 `, `IRQ18_CCCM_124317`, `IRQ18\CCCM\124317`).
HRP_CODE_SQL = "upper(regexp_replace(regexp_replace(trim({0}), '\\s+', '', 'g'), '[-_\\\\]', '/', 'g'))"


_HRP_SPACE = re.compile(r"[\t\n\f\r ]+")  # RE2's \s, which the SQL's regular expression uses
_HRP_SEPARATOR = re.compile(r"[-_\\]")


def hrp_code_sql(expression: str) -> str:
    return _apply(HRP_CODE_SQL, expression)


def hrp_code(text: str) -> str:
    return _HRP_SEPARATOR.sub("/", _HRP_SPACE.sub("", text.strip(" "))).upper()


# --- KoBo choices and yes/no flags -------------------------------------------------------------
# A choice as its XML name, whether the export wrote the name or the label (`Not available` →
# not_available); a select_multiple cell's words; `_validation_status` (`validation_status_on_hold`,
# `On hold`) as approved | not_approved | on_hold, empty as null (not validated yet); a yes/no
# flag of a cluster sheet (headline, cumulative) as a boolean, anything else null.
KOBO_CHOICE_SQL = "nullif(regexp_replace(lower(trim({0})), '\\s+', '_', 'g'), '')"
KOBO_CHOICES_SQL = "string_split(lower(trim({0})), ' ')"
VALIDATION_STATUS_SQL = f"nullif(replace({KOBO_CHOICE_SQL}, 'validation_status_', ''), '')"
YES_NO_SQL = (
    "case when lower(trim({0})) in ('yes', 'y', 'true', '1') then true "
    "when lower(trim({0})) in ('no', 'n', 'false', '0') then false end"
)


def kobo_choices_sql(expression: str) -> str:
    return _apply(KOBO_CHOICES_SQL, expression)


def validation_status_sql(expression: str) -> str:
    return _apply(VALIDATION_STATUS_SQL, expression)


def yes_no_sql(expression: str) -> str:
    return _apply(YES_NO_SQL, expression)


# --- Accepted batches --------------------------------------------------------------------------
# Only rows of accepted batches reach staging, sense checks, the UI's totals and publications:
# a superseded or quarantined file never does, whatever a later full refresh does.
ACCEPTED_BATCHES_SQL = "{0} in (select batch_id from {1} where status = 'accepted')"


def accepted_batches_sql(column: str = "batch_id", load_batches: str = "raw.load_batches") -> str:
    return _apply(ACCEPTED_BATCHES_SQL, column, load_batches)


# --- Formula safety ----------------------------------------------------------------------------
# Text a spreadsheet would run as a formula starts with one of these; published text cells that
# do get a leading apostrophe.
FORMULA_PATTERN = r"^[=+\-@\t\r]"
FORMULA_SAFE_SQL = (
    f"case when regexp_matches({{0}}, '{FORMULA_PATTERN}') then chr(39) || {{0}} else {{0}} end"
)


def formula_safe_sql(expression: str) -> str:
    return _apply(FORMULA_SAFE_SQL, expression)


def formula_safe_text(text: str) -> str:
    """One text cell as a spreadsheet may see it (for writers that take cells)."""
    return "'" + text if re.match(FORMULA_PATTERN, text) else text


# --- dbt's copies ------------------------------------------------------------------------------
MACROS_PATH = DBT_PROJECT_DIR / "macros" / "rules.sql"
# dbt macro name → (template, what it does). Each takes the expression it applies to.
DBT_MACROS = {
    "to_count": (COUNT_SQL, "A count cell as text to an integer; anything else is null (gates report it)."),
    "ki_count": (KI_COUNT_SQL, "A KI household estimate; KoBo's don't-know codes are null."),
    "name_key": (NAME_KEY_SQL, "The form two spellings of a name share: ASCII letters and digits."),
    "hrp_code": (HRP_CODE_SQL, "An HRP code as OCHA writes it: IRQ18/CCCM/124317."),
    "kobo_choice": (
        KOBO_CHOICE_SQL,
        "A KoBo choice as its XML name, whether the export wrote the name or the label "
        "('Not available' → not_available).",
    ),
    "kobo_choices": (KOBO_CHOICES_SQL, "The words (choices) of a KoBo select_multiple cell."),
    "validation_status": (
        VALIDATION_STATUS_SQL,
        "KoBo's validation status, field name or label: approved, not_approved, on_hold or null.",
    ),
    "yes_no": (YES_NO_SQL, "A sheet's yes/no flag as a boolean; anything else is null."),
}


def dbt_macros() -> str:
    """The text of dbt_project/macros/rules.sql."""
    parts = [
        "{#- Generated from orchestration/rules.py by `python -m orchestration.rules`: edit the rule",
        "    there, never here (tests/test_rules_parity.py fails when the two drift apart). -#}",
    ]
    for name, (template, description) in DBT_MACROS.items():
        parts += [
            "",
            f"{{#- {description} -#}}",
            f"{{% macro {name}(expression) -%}}",
            "    " + _apply(template, "{{ expression }}"),
            "{%- endmacro %}",
        ]
    parts += [
        "",
        "{#- Only rows of accepted batches (see orchestration/rules.py). -#}",
        "{% macro accepted_batches(column='batch_id') -%}",
        "    " + _apply(ACCEPTED_BATCHES_SQL, "{{ column }}", "{{ source('raw', 'load_batches') }}"),
        "{%- endmacro %}",
    ]
    return "\n".join(parts) + "\n"


def write_dbt_macros(path: Path = MACROS_PATH) -> Path:
    path.write_text(dbt_macros(), encoding="utf-8")
    return path


if __name__ == "__main__":
    print(f"wrote {write_dbt_macros()}")
