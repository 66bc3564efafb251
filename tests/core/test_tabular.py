import io

from openpyxl import load_workbook

from core.tabular import workbook_bytes


def test_formula_looking_cells_stay_text():
    data = workbook_bytes(["Школа", "Комментарий"], [["=HYPERLINK(\"http://x\")", "+7 900"], ["-1+1", "@SUM(A1)"],
                                                      ["обычный текст", 42]])
    ws = load_workbook(io.BytesIO(data)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == ("Школа", "Комментарий")
    assert rows[1] == ("'=HYPERLINK(\"http://x\")", "'+7 900")
    assert rows[2] == ("'-1+1", "'@SUM(A1)")
    assert rows[3] == ("обычный текст", 42)
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)
