"""Server-rendered SVG bar charts (they work without JavaScript and print cleanly)."""
from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape


def chart_series() -> list[tuple[str, Any]]:
    return [("on_time_share", _l("按时发布反馈报告的比例")), ("answered_share", _l("意见答复率")),
            ("adoption_rate", _l("采纳率（含部分采纳）"))]


def text_width(text: str, font_size: int = 13) -> int:
    """A generous estimate of the width of ``text`` at ``font_size`` px: CJK and full-width characters take a
    full em, capitals and digits about two thirds of one, other Latin characters a bit over half."""
    ems = sum(1.05 if ord(c) >= 0x2E80 else 0.7 if c.isupper() or c.isdigit() else 0.58 for c in str(text))
    return round(ems * font_size)


def bar_chart(rows: list[dict], key: str, title) -> Markup:
    """Horizontal bars of a 0–1 share per department, with the value written beside each bar."""
    bar_h, gap, plot_w = 22, 8, 360
    several = len({row.get("period") for row in rows}) > 1

    def suffix(row) -> str:
        return f" {row['period']}" if several else ""

    # The label column fits the longest label (English names are long: "Municipal Housing Administration Bureau"),
    # so no name is cut off at the left edge; the SVG scales down to the screen as a whole.
    label_w = max(160, max((text_width(f"{row['department']}{suffix(row)}") for row in rows), default=0) + 16)

    height = max(1, len(rows)) * (bar_h + gap) + 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {label_w + plot_w + 70} {height}" '
             f'width="{label_w + plot_w + 70}" height="{height}" aria-labelledby="chart-{key}-title">',
             f'<title id="chart-{key}-title">{escape(str(title))}</title>']
    for i, row in enumerate(rows):
        y = 10 + i * (bar_h + gap)
        value = row.get(key)
        width = 0 if value is None else round(plot_w * value)
        text = "—" if value is None else f"{value * 100:.0f}%"
        parts.append(f'<text x="{label_w - 8}" y="{y + bar_h - 6}" text-anchor="end" font-size="13" '
                     f'fill="#1a1a1a">{escape(row["department"])}{escape(suffix(row))}</text>')
        parts.append(f'<rect x="{label_w}" y="{y}" width="{plot_w}" height="{bar_h}" fill="#e6e6e6"/>')
        parts.append(f'<rect x="{label_w}" y="{y}" width="{width}" height="{bar_h}" fill="#1d4f91"/>')
        parts.append(f'<text x="{label_w + plot_w + 6}" y="{y + bar_h - 6}" font-size="13" fill="#1a1a1a">'
                     f'{text}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
