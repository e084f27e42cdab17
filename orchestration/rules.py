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
# A count as files write it: `277,518`, `1 234` (a space or no-break space as thousands
# separator), `6`, `6.0`. Anything else (`1.5`, `n/a`, `1e3`, Arabic-Indic digits) is not a count:
# the reader refuses it in a totals check, the gate reports it, staging reads it as null.
COUNT_SEPARATORS = (",", " ", "\t", "\u00a0", "\u202f")
COUNT_DIGITS = "(-?[0-9]+)(\\.0+)?"


def _sql_char(char: str) -> str:
    # RE2 (DuckDB) spells a non-ASCII character \x{hhhh}; Python's re would read that as text.
    return char if char.isascii() and char.isprintable() else f"\\x{{{ord(char):04x}}}"


_SQL_SEPARATORS = "[" + "".join(_sql_char(c) for c in COUNT_SEPARATORS) + "]"
COUNT_SQL = (
    f"try_cast(nullif(regexp_extract(regexp_replace({{0}}, '{_SQL_SEPARATORS}', '', 'g'), "
    f"'^{COUNT_DIGITS}$', 1), '') as bigint)"
)
# A cell that holds something (not null, not blank) which is not a count.
UNPARSEABLE_COUNT_SQL = f"(trim({{0}}) <> '' and {COUNT_SQL} is null)"

_SEPARATORS = re.compile("[" + "".join(map(re.escape, COUNT_SEPARATORS)) + "]")
_DIGITS = re.compile(COUNT_DIGITS)


def parse_count(text: str | None) -> int | None:
    """A count cell to an integer; None when empty; ValueError when it is not a count."""
    if text is None or not text.strip():
        return None
    match = _DIGITS.fullmatch(_SEPARATORS.sub("", text))
    if match is None:
        raise ValueError(text)
    return int(match[1])


def count_sql(expression: str) -> str:
    return _apply(COUNT_SQL, expression)


def unparseable_count_sql(expression: str) -> str:
    return _apply(UNPARSEABLE_COUNT_SQL, expression)


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


def hrp_code_sql(expression: str) -> str:
    return _apply(HRP_CODE_SQL, expression)


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
