"""out.report.html: the run's report as one self-contained page (inline CSS and hand-written SVG).

It opens from disk with no server and no network, so it can be mailed or opened on an air-gapped
machine. Charts use fixed bins, so the file stays small however many records the run had; the figures come
from qaug.report_measures, gathered while the run wrote its lines (per-variant measures on a sample).
"""

from __future__ import annotations

import html
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

from qaug.report_measures import BINS as _BINS
from qaug.report_measures import Measures, Sampled
# Okabe-Ito: told apart by colour-blind readers too
PALETTE = ["#0072B2", "#E69F00", "#56B4E9", "#009E73", "#D55E00", "#CC79A7", "#F0E442", "#000000",
           "#999999", "#882255"]


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


# -- SVG -------------------------------------------------------------------------------------
def _stacked(rows: list[tuple[str, list[tuple[str, int]]]], keys: list[str]) -> str:
    """Horizontal stacked bars, one per row, with a legend; keys pick the colours."""
    colour = {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(keys)}
    width, label_w, bar_h = 860, 150, 22
    top = max((sum(n for _, n in parts) for _, parts in rows), default=0) or 1
    h = len(rows) * (bar_h + 8) + 10
    out = [f'<svg class="chart" role="img" viewBox="0 0 {width} {h}" width="{width}" height="{h}">']
    for r, (name, parts) in enumerate(rows):
        y = 5 + r * (bar_h + 8)
        out.append(f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{_esc(name)}</text>')
        x = float(label_w)
        for key, n in parts:
            w = (width - label_w - 70) * n / top
            if w > 0:
                out.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour[key]}" '
                           f'stroke="#fff"><title>{_esc(key)}: {n:,}</title></rect>')
            x += w
        out.append(f'<text x="{x + 6:.1f}" y="{y + 15}">{sum(n for _, n in parts):,}</text>')
    out.append("</svg>")
    legend = "".join(f'<span class="key"><i style="background:{colour[k]}"></i>{_esc(k)}</span>' for k in keys)
    return "".join(out) + f'<div class="legend">{legend}</div>'


def _hist(counts: list[int], title: str, lo: float, hi: float, colour: str = PALETTE[0],
          second: list[int] | None = None) -> str:
    """A small histogram over [lo, hi] in _BINS bins; `second` stacks a second series (orange)."""
    w, h, pad = 270, 130, 22
    total = [a + (second[i] if second else 0) for i, a in enumerate(counts)]
    top = max(total) or 1
    bw = (w - 2 * pad) / _BINS
    out = [f'<svg class="chart hist" role="img" viewBox="0 0 {w} {h + 34}" width="{w}" height="{h + 34}">',
           f'<text x="{w / 2}" y="14" text-anchor="middle" class="t">{_esc(title)} (n={sum(total):,})</text>']
    for i, n in enumerate(counts):
        bh = (h - 30) * n / top
        y = h - bh
        out.append(f'<rect x="{pad + i * bw:.1f}" y="{y:.1f}" width="{bw - 1:.1f}" height="{bh:.1f}" fill="{colour}">'
                   f'<title>{lo + (hi - lo) * i / _BINS:.2f}–{lo + (hi - lo) * (i + 1) / _BINS:.2f}: {n:,}</title>'
                   '</rect>')
        if second and second[i]:
            bh2 = (h - 30) * second[i] / top
            out.append(f'<rect x="{pad + i * bw:.1f}" y="{y - bh2:.1f}" width="{bw - 1:.1f}" height="{bh2:.1f}" '
                       f'fill="{PALETTE[1]}" stroke="#000" stroke-width=".5">'
                       f'<title>rejected: {second[i]:,}</title></rect>')
    out.append(f'<line x1="{pad}" y1="{h}" x2="{w - pad}" y2="{h}" stroke="#333"/>')
    for frac in (0, 0.5, 1):
        out.append(f'<text x="{pad + frac * (w - 2 * pad):.1f}" y="{h + 14}" text-anchor="middle">'
                   f'{lo + (hi - lo) * frac:g}</text>')
    out.append("</svg>")
    return "".join(out)


def _rate_chart(points: list[list[float]]) -> str:
    """Completion tokens/s between consecutive timeline points, over the run's seconds, as one line."""
    rates = [((t0 + t1) / 2, (n1 - n0) / (t1 - t0)) for (t0, n0), (t1, n1) in zip(points, points[1:]) if t1 > t0]
    if not rates:
        return ""
    w, h, pad = 860, 180, 48
    t_end, top = max(points[-1][0], 1e-9), max(r for _, r in rates) or 1.0
    xy = " ".join(f"{pad + (w - 2 * pad) * t / t_end:.1f},{h - 24 - (h - 44) * r / top:.1f}" for t, r in rates)
    return (f'<svg class="chart rate" role="img" viewBox="0 0 {w} {h}" width="{w}" height="{h}">'
            f'<text x="{w / 2}" y="14" text-anchor="middle" class="t">completion tokens/s over the run '
            f'(peak {top:,.1f})</text>'
            f'<polyline points="{xy}" fill="none" stroke="{PALETTE[0]}" stroke-width="2"/>'
            f'<line x1="{pad}" y1="{h - 24}" x2="{w - pad}" y2="{h - 24}" stroke="#333"/>'
            f'<text x="{pad}" y="{h - 8}">0 s</text><text x="{w - pad}" y="{h - 8}" text-anchor="end">'
            f'{t_end:,.{1 if t_end < 10 else 0}f} s</text><text x="{pad - 6}" y="{h - 24}" text-anchor="end">0</text>'
            f'<text x="{pad - 6}" y="28" text-anchor="end">{top:,.0f}</text></svg>')


def _bars(rows: list[tuple[str, float]], fmt: str = "{:.3f}", colour: str = PALETTE[3]) -> str:
    width, label_w, bar_h = 860, 230, 20
    top = max((v for _, v in rows), default=0) or 1
    h = len(rows) * (bar_h + 6) + 10
    out = [f'<svg class="chart" role="img" viewBox="0 0 {width} {h}" width="{width}" height="{h}">']
    for r, (name, v) in enumerate(rows):
        y = 5 + r * (bar_h + 6)
        bw = (width - label_w - 90) * v / top
        out.append(f'<text x="{label_w - 8}" y="{y + 14}" text-anchor="end">{_esc(name)}</text>'
                   f'<rect x="{label_w}" y="{y}" width="{bw:.1f}" height="{bar_h}" fill="{colour}"/>'
                   f'<text x="{label_w + bw + 6:.1f}" y="{y + 14}">{_esc(fmt.format(v))}</text>')
    out.append("</svg>")
    return "".join(out)


_CSS = """body{font:15px/1.5 system-ui,"Noto Sans","Noto Sans CJK SC",sans-serif;color:#1b1f24;max-width:1100px;
margin:0 auto;padding:16px 24px}h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #d5dbe1}
svg.chart{display:block;max-width:100%;height:auto;font-size:12px}svg .t{font-weight:600}.grid{display:flex;
flex-wrap:wrap;gap:8px 18px}.legend{font-size:13px;margin:4px 0 0 150px}.key{margin-right:14px;white-space:nowrap}
.key i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-1px}table{border-collapse:collapse}
td,th{border-bottom:1px solid #e5e9ee;padding:3px 10px;text-align:left;font-variant-numeric:tabular-nums}
pre{background:#f6f8fa;padding:10px;overflow:auto;font-size:13px}.muted{color:#5b6570}"""


def _sample_note(sampled: dict[str, Sampled], cap: int) -> str:
    """Say on the page that the per-variant figures are sampled, and how, so they are not read as totals."""
    each = "; ".join(f"{_esc(n)}: {s.n:,}" + (f" (every {s.stride}th)" if s.stride > 1 else "")
                     for n, s in sampled.items())
    return (f"<p class=muted>Measured on a sample of each method's kept variants, spread evenly over the run: "
            f"every variant up to {cap:,}, then every 2nd, 4th… so that at most {cap:,} remain ({each}). "
            "distinct-2 falls as a sample grows, so compare methods at like sample sizes.</p>")


def render(report: dict[str, Any], m: Measures) -> str:
    """The page for one run's report and its measures."""
    methods = report.get("methods", {})
    sampled = {n: m.sampled(n) for n in methods}
    parts: list[str] = [f"<!doctype html><html lang=en><head><meta charset=utf-8><title>qaug report</title>"
                        f"<style>{_CSS}</style></head><body><h1>qaug run report</h1>"]
    parts.append(f"<p>status <b>{_esc(report.get('status'))}</b> · {report.get('records', 0):,} records · "
                 f"{report.get('originals_written', 0):,} originals and {report.get('variants_written', 0):,} variants "
                 f"written · {report.get('input_rejects', 0):,} input rejects · {report.get('review_marked', 0):,} "
                 f"marked for review · {report.get('timings', {}).get('seconds', 0)} s</p>")
    codes: Counter[str] = Counter()
    for ms in methods.values():
        codes.update(ms.get("rejected", {}))
    keys = ["written"] + [c for c, _ in codes.most_common()]
    rows = [(name, [("written", ms.get("written", 0))] + [(c, ms.get("rejected", {}).get(c, 0)) for c in keys[1:]])
            for name, ms in methods.items()]
    parts.append('<h2 id="written">Written and rejected per method</h2>')
    parts.append(_stacked(rows, keys) if rows else "<p class=muted>no methods ran</p>")
    parts.append('<h2 id="lengths">Length ratio (variant / source) per method</h2><div class=grid>')
    parts.extend(_hist(sampled[n].ratio, n, 0, 3) for n in methods)
    parts.append('</div><h2 id="similarity">Similarity to the source (character bigrams) per method</h2>'
                 '<div class=grid>')
    parts.extend(_hist(sampled[n].sim, n, 0, 1, PALETTE[2]) for n in methods)
    parts.append("</div>" + _sample_note(sampled, m.cap))
    parts.append('<h2 id="chrf">chrF of back-translations to their source</h2>')
    parts.append(_hist(m.chrf_kept, "backtranslate", 0, 100, second=m.chrf_rejected))
    parts.append("<p class=muted>Blue: kept; orange, outlined: rejected by the chrF band."
                 + ("" if sum(m.chrf_kept) + sum(m.chrf_rejected) else " No back-translations in this run.") + "</p>")
    parts.append('<h2 id="judge">Judge verdicts per failure kind</h2>')
    judge_rows = [("passed the judge (kept)", float(m.judged))]
    judge_rows += [(c.removeprefix("judge_").replace("_", " ") + " (rejected)", float(n))
                   for c, n in m.judge_codes.most_common()]
    parts.append(_bars(judge_rows, "{:,.0f}", PALETTE[4]))
    if m.judge_flags:
        parts.append("<p>Flags raised on kept variants: " + ", ".join(f"{_esc(k)} {n:,}" for k, n in
                                                                        m.judge_flags.most_common()) + "</p>")
    parts.append('<h2 id="distinct">distinct-2 of kept variants per method</h2>')
    parts.append(_bars([(f"{n} (n={sampled[n].n:,})", sampled[n].distinct2) for n in methods]))
    model = report.get("model") or {}
    parts.append('<h2 id="speed">Model time and tokens/s</h2>')
    speed: list[tuple[str, float]] = []
    for n, ms in methods.items():
        speed.append((f"{n}: method time", float(ms.get("seconds", 0.0))))
        if ms.get("model_seconds"):
            speed.append((f"{n}: of it, the model", float(ms["model_seconds"])))
        if ms.get("judge"):
            speed.append((f"{n}: of it, the judge", ms["judge"].get("seconds_ms", 0) / 1000))
            if ms["judge"].get("support_seconds_ms"):
                speed.append((f"{n}: of it, the support check", ms["judge"]["support_seconds_ms"] / 1000))
    if model:
        speed.insert(0, ("whole run: model", float(model.get("seconds", 0.0))))
    parts.append(_bars(speed, "{:.2f} s", PALETTE[0]) if speed else "<p class=muted>no methods ran</p>")
    if model:
        parts.append(f"<p>{_esc(model.get('model'))}: {model.get('completion_tokens', 0):,} completion tokens, "
                     f"{model.get('prompt_tokens', 0):,} prompt tokens, <b>{model.get('completion_tokens_per_s')}"
                     f"</b> completion tokens/s over the run.</p>")
    timeline = report.get("timings", {}).get("model_timeline") or []
    if len(timeline) >= 2:
        parts.append(_rate_chart(timeline))
    parts.append('<h2 id="config">Effective configuration</h2><pre>'
                 + _esc(json.dumps(report.get("config", {}), indent=1, ensure_ascii=False, default=str)) + "</pre>")
    parts.append("</body></html>\n")
    return "".join(parts)


def html_path(report_path: Path) -> Path:
    """out.report.json -> out.report.html."""
    name = report_path.name
    return report_path.with_name((name[:-5] if name.endswith(".json") else name) + ".html")


def write_report_html(report: dict[str, Any], output: Path, rejects: Path, report_path: Path,
                      measures: Measures | None = None) -> Path:
    """Write out.report.html beside out.report.json (atomically); returns its path.

    measures: what the run gathered as it wrote; without it they are read back from output and rejects.
    """
    m = measures if measures is not None else Measures.from_files(output, rejects)
    target = html_path(report_path)
    tmp = target.with_name(target.name + ".tmp")
    try:
        tmp.write_text(render(report, m), encoding="utf-8")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target
