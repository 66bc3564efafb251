"""Charts as inline SVG (no JavaScript, no external files): what the roll-up and progress pages draw."""
from markupsafe import escape

PALETTE = ["#1f4e79", "#c0392b", "#1e7b34", "#8e44ad", "#d35400", "#16a085", "#7f8c8d", "#b7950b", "#2c3e50",
           "#e84393", "#0984e3", "#6c5ce7"]


def fmt_number(v) -> str:
    """For the page: 10 → «10», 2.5 → «2,5», None → «—»."""
    if v is None:
        return "—"
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return f"{v:.0f}" if float(v).is_integer() else f"{v:.2f}".rstrip("0").replace(".", ",")
    return str(v)


def _fmt(v: float) -> str:
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.1f}".replace(".", ",")


def svg_line_chart(labels: list[str], series: dict[str, list], *, title: str, y_max: float | None = None,
                   unit: str = "") -> str:
    """A line per series over the periods; a thick dashed line for the region total if present."""
    w, h, left, right, top, bottom = 860, 360, 56, 220, 36, 56
    pw, ph = w - left - right, h - top - bottom
    values = [v for vs in series.values() for v in vs if v is not None]
    top_value = y_max if y_max is not None else (max(values) if values else 1) or 1
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
             f'role="img" aria-label="{escape(title)}" class="chart" font-family="PT Sans, DejaVu Sans, sans-serif">',
             f'<text x="{left}" y="20" font-size="15" font-weight="bold">{escape(title)}</text>']
    for i in range(5):
        y = top + ph - ph * i / 4
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#d6dde6"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">'
                     f'{escape(_fmt(top_value * i / 4))}{escape(unit)}</text>')
    n = len(labels)
    x = (lambda i: left + (pw * i / (n - 1) if n > 1 else pw / 2))
    for i, lab in enumerate(labels):
        parts.append(f'<text x="{x(i):.1f}" y="{top + ph + 18}" font-size="11" text-anchor="middle">'
                     f'{escape(lab)}</text>')
    if not values:
        parts.append(f'<text x="{left + pw / 2}" y="{top + ph / 2}" text-anchor="middle" fill="#5f6b7a">'
                     f'Нет принятых отчётов</text>')
    for k, (name, vs) in enumerate(series.items()):
        color = "#000" if name.startswith("Итого") else PALETTE[k % len(PALETTE)]
        dash = ' stroke-dasharray="6 4" stroke-width="3"' if name.startswith("Итого") else ' stroke-width="2"'
        pts = [(x(i), top + ph - ph * (v / top_value)) for i, v in enumerate(vs) if v is not None]
        if len(pts) > 1:
            parts.append(f'<polyline fill="none" stroke="{color}"{dash} points="'
                         + " ".join(f"{px:.1f},{py:.1f}" for px, py in pts) + '"/>')
        for px, py in pts:
            parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3.5" fill="{color}"/>')
        ly = top + 14 + 18 * k
        parts.append(f'<rect x="{left + pw + 16}" y="{ly - 9}" width="12" height="12" fill="{color}"/>')
        parts.append(f'<text x="{left + pw + 34}" y="{ly + 1}" font-size="12">{escape(name[:30])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def svg_stacked_bars(rows: list[tuple[str, list[int]]], segments: list[str], *, title: str) -> str:
    """One horizontal bar per row (municipality), split into segments (stages), with counts."""
    bar_h, gap, left, right, top = 22, 10, 200, 30, 40
    legend_rows = (len(segments) + 1) // 2
    w = 980
    h = top + len(rows) * (bar_h + gap) + 30 + legend_rows * 20
    pw = w - left - right
    biggest = max((sum(c) for _, c in rows), default=0) or 1
    colors = ["#b0b8c4", "#f0c419", "#e67e22", "#d35400", "#9b59b6", "#2980b9", "#16a085", "#27ae60", "#1e7b34",
              "#145a32", "#5d6d7e", "#a04000"]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
             f'aria-label="{escape(title)}" class="chart" font-family="PT Sans, DejaVu Sans, sans-serif">',
             f'<text x="0" y="20" font-size="15" font-weight="bold">{escape(title)}</text>']
    for r, (label, counts) in enumerate(rows):
        y = top + r * (bar_h + gap)
        parts.append(f'<text x="{left - 8}" y="{y + bar_h * 0.7:.1f}" font-size="12" text-anchor="end">'
                     f'{escape(label[:32])}</text>')
        x: float = left
        for k, cnt in enumerate(counts):
            if not cnt:
                continue
            bw = pw * cnt / biggest
            parts.append(f'<rect x="{x:.1f}" y="{y}" width="{bw:.1f}" height="{bar_h}" '
                         f'fill="{colors[k % len(colors)]}"><title>{escape(segments[k])}: {cnt}</title></rect>')
            if bw > 14:
                parts.append(f'<text x="{x + bw / 2:.1f}" y="{y + bar_h * 0.7:.1f}" font-size="11" fill="#fff" '
                             f'text-anchor="middle">{cnt}</text>')
            x += bw
        if not sum(counts):
            parts.append(f'<text x="{left}" y="{y + bar_h * 0.7:.1f}" font-size="11" fill="#5f6b7a">'
                         f'нет школ в перечне</text>')
    ly = top + len(rows) * (bar_h + gap) + 14
    for k, seg in enumerate(segments):
        lx, yy = (k % 2) * (w // 2), ly + (k // 2) * 20
        label = seg if len(seg) <= 70 else seg[:69] + "…"
        parts.append(f'<rect x="{lx}" y="{yy - 10}" width="12" height="12" fill="{colors[k % len(colors)]}"/>')
        parts.append(f'<text x="{lx + 18}" y="{yy}" font-size="11">{escape(label)}<title>{escape(seg)}</title></text>')
    parts.append("</svg>")
    return "".join(parts)
