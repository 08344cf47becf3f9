"""Draw docs/analysis/court-list-fit.svg from the committed fit (no simulation, no refit).

    python docs/analysis/court_list_chart.py [docs/analysis/court-list-fit/residuals.json] [out.svg]

Reads the residuals.json that ``credsim calibrate`` wrote for court-defaulters-history and draws,
per quantity, every published point (filled) and the model's mean over the seeds (open, with a bar
from the lowest to the highest seed), per 1,000 people, against the date. Points the fit does not
meet within their tolerance are drawn in red. Standard library only.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
PANELS = [
    ("cumulative:entries", "Listings of people (cumulative person-times)"),
    ("cumulative:denied_flight", "Flight purchases blocked (cumulative)"),
    ("cumulative:denied_high_speed_rail", "High-speed-rail purchases blocked (cumulative)"),
    ("cumulative:settlements", "Listings paid off (cumulative)"),
]
W, H, PW, PH, ML, MT = 960, 710, 400, 240, 70, 60  # canvas, panel size, left and top margins
X0, X1 = dt.date(2013, 10, 1), dt.date(2019, 10, 1)


def _nice(top: float) -> tuple[float, float]:
    """A round axis maximum above ``top`` and its tick step (5 ticks)."""
    step = 10 ** len(str(int(top / 5))) / 10 if top >= 5 else 1.0
    for m in (1, 2, 2.5, 5, 10):
        if top <= 5 * m * step:
            return 5 * m * step, m * step
    return top, top / 5


def panel(rows: list[dict], title: str, ox: float, oy: float) -> list[str]:
    out = [f'<text x="{ox}" y="{oy - 12}" font-size="14" font-weight="bold">{title}</text>']
    top, step = _nice(max(max(r["target"], r["seed_max"]) for r in rows) * 1000 * 1.05)
    sx = lambda d: ox + (d - X0).days / (X1 - X0).days * PW  # noqa: E731
    sy = lambda v: oy + PH - v * 1000 / top * PH  # noqa: E731
    out.append(f'<rect x="{ox}" y="{oy}" width="{PW}" height="{PH}" fill="none" stroke="#888"/>')
    k = 0.0
    while k <= top + 1e-9:
        y = sy(k / 1000)
        out.append(f'<line x1="{ox}" x2="{ox + PW}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(f'<text x="{ox - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">{k:g}</text>')
        k += step
    for year in range(2014, 2020):
        x = sx(dt.date(year, 1, 1))
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{oy + PH}" y2="{oy + PH + 4}" stroke="#888"/>')
        out.append(f'<text x="{x:.1f}" y="{oy + PH + 17}" font-size="11" text-anchor="middle">{year}</text>')
    model = [f"{sx(X0):.1f},{sy(0):.1f}"]  # every quantity here is cumulative: 0 before day 1
    for r in rows:
        d = dt.date.fromisoformat(r["date"])
        x, colour = sx(d), "#c0392b" if r["met"] is False else "#1f6f3f"
        model.append(f"{x:.1f},{sy(r['simulated']):.1f}")
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{sy(r["seed_min"]):.1f}" y2="{sy(r["seed_max"]):.1f}" '
                   f'stroke="#2c5d8a" stroke-width="2"/>')  # fmt: skip
        out.append(f'<rect x="{x - 4:.1f}" y="{sy(r["simulated"]) - 4:.1f}" width="8" height="8" fill="white" '
                   f'stroke="#2c5d8a" stroke-width="1.5"/>')  # fmt: skip
        out.append(f'<circle cx="{x:.1f}" cy="{sy(r["target"]):.1f}" r="4.5" fill="{colour}"/>')
        note = f"{100 * r['relative_residual']:+.0f}%" + ("" if r["weight"] else " (not fitted)")
        side = ("start", x + 6) if x < ox + PW / 4 else ("end", x - 6)
        out.append(f'<text x="{side[1]:.1f}" y="{sy(max(r["target"], r["simulated"])) - 9:.1f}" font-size="10" '
                   f'text-anchor="{side[0]}" fill="{colour}">{note}</text>')  # fmt: skip
    out.insert(1, f'<polyline points="{" ".join(model)}" fill="none" stroke="#2c5d8a" stroke-dasharray="4 3"/>')
    return out


def chart(doc: dict) -> str:
    rows = [r for r in doc["residuals"] if r.get("date")]
    s = doc["settings"]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
             'font-family="sans-serif">', f'<rect width="{W}" height="{H}" fill="white"/>',
             f'<text x="{ML}" y="24" font-size="16" font-weight="bold">court-defaulters-history fitted to the '
             f"published series (per 1,000 people)</text>",
             f'<text x="{ML}" y="42" font-size="12">{s["population"]:,} agents, {s["days"]:,} days from '
             f'{s["start_date"]}, seeds {s["seeds"][0]}..{s["seeds"][-1]}, {s["trials"]} trials. '
             "</text>", f'<text x="{ML}" y="58" font-size="12">Filled: published (green: the model is within 15%, '
             "red: it is not); open square: the model's mean over the seeds, bar: the seeds' range.</text>"]  # fmt: skip
    for k, (quantity, title) in enumerate(PANELS):
        sel = [r for r in rows if r["metric"] == quantity]
        if sel:
            parts += panel(sel, title, ML + (k % 2) * (PW + 90), MT + 40 + (k // 2) * (PH + 70))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main(argv: list[str]) -> None:
    src = Path(argv[0]) if argv else HERE / "court-list-fit" / "residuals.json"
    out = Path(argv[1]) if len(argv) > 1 else HERE / "court-list-fit.svg"
    out.write_text(chart(json.loads(src.read_text(encoding="utf-8"))), encoding="utf-8")
    print(out)


if __name__ == "__main__":
    main(sys.argv[1:])
