from orchestration.rules import formula_safe_text


def test_text_that_a_spreadsheet_would_run_is_defused():
    names = ["=HYPERLINK(http://x)", "+964 750 000", "-Kut", "@SUM(A1)", "Kut", "Kut - centre", ""]
    assert [formula_safe_text(n) for n in names] == [
        "'=HYPERLINK(http://x)",
        "'+964 750 000",
        "'-Kut",
        "'@SUM(A1)",
        "Kut",
        "Kut - centre",
        "",
    ]


def test_csv_exports_defuse_formula_text_but_keep_numbers(tmp_path):
    import csv

    import duckdb

    from orchestration.publish.files import _safe_select

    con = duckdb.connect()
    con.execute(
        "create table t as select * from (values ('=SUM(A1)', -5), ('+964 750', 3), ('Kut', -1)) v(name, n)"
    )
    columns = [(r[0], r[1]) for r in con.execute("describe t").fetchall()]
    out = tmp_path / "t.csv"
    con.execute(f"copy (select {_safe_select(columns)} from t) to '{out}' (format csv, header true)")
    with out.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[1:] == [["'=SUM(A1)", "-5"], ["'+964 750", "3"], ["Kut", "-1"]]
