"""A chart's label column fits its longest department name, so English names are not cut off at the left."""
import re

from app.oversight.charts import bar_chart, text_width

LONG = "Municipal Commission of Economy and Informatization"


def test_the_label_column_fits_the_longest_name():
    svg = str(bar_chart([{"department": LONG, "share": 0.5}, {"department": "市民政局", "share": None}], "share",
                        "On-time share"))
    label_ends = {float(x) for x in re.findall(r'<text x="([\d.]+)"[^>]*text-anchor="end"', svg)}
    assert len(label_ends) == 1
    assert label_ends.pop() >= text_width(LONG) > 350  # at 13 px, the name is about 358 px wide in Chromium
    width = int(re.search(r'viewBox="0 0 (\d+) ', svg).group(1))
    assert width >= text_width(LONG) + 360  # the label, then the 360 px plot and its value


def test_a_short_name_keeps_a_narrow_label_column():
    svg = str(bar_chart([{"department": "市民政局", "share": 1.0}], "share", "按时率"))
    assert re.search(r'<text x="(\d+)"', svg).group(1) == "152"
