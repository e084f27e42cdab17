import pandas as pd

from orchestration.publish.files import formula_safe


def test_text_that_a_spreadsheet_would_run_is_defused_and_numbers_are_not():
    frame = pd.DataFrame(
        {
            "name": ["=HYPERLINK(http://x)", "+964 750 000", "-Kut", "@SUM(A1)", "Kut", None],
            "change": [-5, 3, -1, 0, 2, 1],
        }
    )
    safe = formula_safe(frame)
    assert safe["name"].tolist()[:5] == [
        "'=HYPERLINK(http://x)",
        "'+964 750 000",
        "'-Kut",
        "'@SUM(A1)",
        "Kut",
    ]
    assert pd.isna(safe["name"].iloc[5])
    assert safe["change"].tolist() == [-5, 3, -1, 0, 2, 1]
