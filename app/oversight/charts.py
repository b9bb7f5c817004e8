"""Server-rendered SVG bar charts (they work without JavaScript and print cleanly)."""
from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape


def chart_series() -> list[tuple[str, Any]]:
    return [("on_time_share", _l("按时发布反馈报告的比例")), ("answered_share", _l("意见答复率")),
            ("adoption_rate", _l("采纳率（含部分采纳）"))]


def bar_chart(rows: list[dict], key: str, title) -> Markup:
    """Horizontal bars of a 0–1 share per department, with the value written beside each bar."""
    bar_h, gap, label_w, plot_w = 22, 8, 260, 360
    several = len({row.get("period") for row in rows}) > 1

    def suffix(row) -> str:
        return f" {row['period']}" if several else ""

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
