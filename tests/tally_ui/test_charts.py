"""Charts never render Stripe text as markup (issue #13 item 17)."""
import datetime as dt

import pandas as pd

from tally_ui import charts

LINK = '<a href="https://evil.example/login">Team & co</a>'
SHOWN = '&lt;a href="https://evil.example/login"&gt;Team &amp; co&lt;/a&gt;'


def test_series_names_and_category_labels_are_escaped():
    months = [dt.date(2026, 1, 1), dt.date(2026, 2, 1)]
    frame = pd.DataFrame({"month": months * 2, "currency": ["usd"] * 4, "mrr": [100, 200, 300, 400],
                          "product_name": [LINK, LINK, "Starter", "Starter"]})
    lines = charts.lines(frame, "month", "mrr", by="product_name")
    assert [t.name for t in lines.data] == [SHOWN, "Starter"]
    bars = charts.bars(frame, "product_name", "mrr", by="product_name", horizontal=True)
    assert {t.name for t in bars.data} == {SHOWN, "Starter"}
    assert set(bars.data[0].y) == {SHOWN}
    grid = pd.DataFrame({0: [1.0]}, index=[LINK])
    assert list(charts.heatmap(grid).data[0].y) == [SHOWN]


def test_numbers_and_dates_on_an_axis_are_left_alone():
    values = pd.Series([dt.datetime(2026, 1, 1)])
    assert charts.plain_values(values) is values
