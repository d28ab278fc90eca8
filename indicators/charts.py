"""Charts of the indicators with matplotlib (object API, Agg canvas: thread-safe enough for
one drawing at a time, no display): PNG for the Word and PowerPoint reports, SVG inlined in
the auditors' pages. French labels, decimal commas, the State's blue and red.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from indicators.periods import month_label  # noqa: E402

BLUE = "#000091"  # bleu France
RED = "#E1000F"  # rouge Marianne
GREEN = "#18753C"
GREY = "#929292"
LIGHT = "#CACAFB"
CHANNEL_COLOURS = {"phone": BLUE, "mail": "#6A6AF4", "chat": "#B1B1F9", "portal": "#DDDDFB"}
CHANNEL_FR = {"phone": "Téléphone", "mail": "Courriel", "chat": "Chat", "portal": "Portail"}

_LOCK = threading.Lock()

matplotlib.rcParams.update({
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titleweight": "bold",
    "axes.titlesize": 10,
    "svg.fonttype": "none",  # text stays text in the SVG (selectable, small)
})


def _pct(v: float, _pos: object = None) -> str:
    return f"{v * 100:.0f}\u202f%".replace(".", ",")


def _pct_tick(v: float, _pos: object = None) -> str:
    """Axis ticks: whole percents as such, others with their decimal (77.5 % must not read 78 %)."""
    p = v * 100
    text = f"{p:.0f}" if abs(p - round(p)) < 1e-6 else f"{p:.1f}"
    return f"{text}\u202f%".replace(".", ",")


def _num(v: float, _pos: object = None) -> str:
    return f"{v:,.0f}".replace(",", "\u202f")


def _save(fig: Figure, fmt: str, dpi: int = 170) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi, bbox_inches="tight", metadata={"Date": None} if fmt == "svg" else None)
    return buf.getvalue()


def _short_months(keys: Sequence[str]) -> list[str]:
    return [month_label(k, short=True) for k in keys]


def trend(keys: Sequence[str], values: Sequence[float | None], previous: Sequence[float | None] | None = None, *,
          target: float | None = None, higher_is_better: bool = True, title: str = "", fmt: str = "png",
          size: tuple[float, float] = (6.4, 2.8), percent: bool = True) -> bytes:
    """A 13-month trend: the months (points coloured met/missed), the same months a year
    before (dashed grey), the target (red dotted line). ``None`` values are gaps."""
    with _LOCK:
        fig = Figure(figsize=size)
        ax = fig.add_axes((0.11, 0.34, 0.86, 0.54))
        x = list(range(len(keys)))
        if previous is not None and any(v is not None for v in previous):
            ax.plot(x, [float("nan") if v is None else v for v in previous], color=GREY, linestyle="--",
                    linewidth=1.1, marker="o", markersize=2.5, label="même mois, année précédente")
        ys = [float("nan") if v is None else v for v in values]
        ax.plot(x, ys, color=BLUE, linewidth=1.8, label="mois")
        for xi, v in zip(x, values, strict=True):
            if v is None:
                continue
            ok = target is None or (v >= target if higher_is_better else v <= target)
            ax.plot([xi], [v], marker="o", markersize=4.5, color=BLUE if ok else RED, zorder=3)
        if target is not None:
            ax.axhline(target, color=RED, linestyle=":", linewidth=1.3,
                       label=f"objectif {_pct(target)}" if percent else "objectif")
        known = [v for v in list(values) + list(previous or []) + ([target] if target is not None else [])
                 if v is not None]
        if percent and known:
            lo, hi = min(known), max(known)
            span = max(hi - lo, 0.02)
            top = min(1.0, hi + span * 0.25) if hi <= 1 else hi * 1.05
            ax.set_ylim(max(0.0, lo - span * 0.25), max(top, hi + 0.002))
            ax.yaxis.set_major_formatter(FuncFormatter(_pct_tick))
        elif known:
            ax.yaxis.set_major_formatter(FuncFormatter(_num))
        if not known:
            ax.text(0.5, 0.5, "pas de données", transform=ax.transAxes, ha="center", va="center", color=GREY)
        ax.set_xticks(x, _short_months(keys), rotation=45, ha="right", fontsize=7.5)
        ax.grid(axis="y", color="#E5E5E5", linewidth=0.6)
        if title:
            fig.text(0.02, 0.96, title, fontsize=10, fontweight="bold", va="top")
        handles, labels = ax.get_legend_handles_labels()
        fig.legend(handles, labels, fontsize=7, frameon=False, loc="lower center", ncols=3,
                   bbox_to_anchor=(0.5, 0.0))
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=170, metadata={"Date": None} if fmt == "svg" else None)
        return buf.getvalue()


def stacked_volumes(keys: Sequence[str], series: dict[str, Sequence[int]], *, title: str = "", fmt: str = "png",
                    size: tuple[float, float] = (6.4, 2.8), colours: dict[str, str] | None = None,
                    labels: dict[str, str] | None = None) -> bytes:
    """Stacked bars per month (tickets by channel, by default)."""
    colours = colours or CHANNEL_COLOURS
    labels = labels or CHANNEL_FR
    with _LOCK:
        fig = Figure(figsize=size)
        ax = fig.add_subplot()
        x = list(range(len(keys)))
        bottom = [0] * len(keys)
        palette = [BLUE, "#6A6AF4", "#B1B1F9", "#DDDDFB", GREY, "#5E2A2B"]
        for n, (name, vals) in enumerate(series.items()):
            ax.bar(x, vals, bottom=bottom, color=colours.get(name, palette[n % len(palette)]),
                   label=labels.get(name, name), width=0.7)
            bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
        ax.set_xticks(x, _short_months(keys), rotation=45, ha="right", fontsize=7.5)
        ax.yaxis.set_major_formatter(FuncFormatter(_num))
        ax.grid(axis="y", color="#E5E5E5", linewidth=0.6)
        ax.set_axisbelow(True)
        if title:
            ax.set_title(title, loc="left")
        ax.legend(fontsize=7, frameon=False, ncols=min(4, len(series)), loc="upper left", bbox_to_anchor=(0, -0.22))
        return _save(fig, fmt)


def against_targets(rows: Sequence[tuple[str, float | None, float | None, bool]], *, title: str = "",
                    fmt: str = "png", size: tuple[float, float] = (6.4, 3.4)) -> bytes:
    """Each indicator's value for the month (bar) against its target (tick):
    rows = (label, value, target, higher_is_better)."""
    with _LOCK:
        fig = Figure(figsize=size)
        ax = fig.add_subplot()
        y = list(range(len(rows)))[::-1]
        for yi, (label, value, target, higher) in zip(y, rows, strict=True):
            if value is None:
                ax.text(0.01, yi, "pas de données", va="center", fontsize=7.5, color=GREY)
                continue
            ok = target is None or (value >= target if higher else value <= target)
            ax.barh(yi, value, color=BLUE if ok else RED, height=0.6)
            label = _pct(value) if value < 0.995 or value > 1 else "100\u202f%"
            if value >= 0.15:  # inside the bar's end, clear of the target mark
                ax.text(min(value, 1.1) - 0.012, yi, label, va="center", ha="right", fontsize=7.5, color="white",
                        fontweight="bold")
            else:
                ax.text(value + 0.012, yi, label, va="center", fontsize=7.5)
            if target is not None:
                ax.plot([target, target], [yi - 0.38, yi + 0.38], color="#161616", linewidth=1.6)
        ax.set_yticks(y, [r[0] for r in rows], fontsize=8)
        ax.set_xlim(0, 1.12)
        ax.xaxis.set_major_formatter(FuncFormatter(_pct_tick))
        ax.grid(axis="x", color="#E5E5E5", linewidth=0.6)
        ax.set_axisbelow(True)
        if title:
            ax.set_title(title, loc="left")
        ax.text(1.0, -0.16, "trait noir : objectif ; rouge : objectif non atteint", transform=ax.transAxes,
                ha="right", fontsize=7, color="#3A3A3A")
        return _save(fig, fmt)


def package_chart(keys: Sequence[str], consumed: Sequence[int], allowance: Sequence[int], package: int, *,
                  year_starts: Sequence[str] | None = None, title: str = "", fmt: str = "png",
                  size: tuple[float, float] = (6.4, 2.8)) -> bytes:
    """Cumulative tickets of the contract year against the twelfths and the yearly package;
    the twelfths line restarts with each contract year."""
    with _LOCK:
        fig = Figure(figsize=size)
        ax = fig.add_subplot()
        x = list(range(len(keys)))
        ax.bar(x, consumed, color=LIGHT, width=0.7, label="tickets cumulés de l'année contractuelle")
        starts = list(year_starts or [""] * len(keys))
        first = True
        i = 0
        while i < len(x):
            j = i
            while j + 1 < len(x) and starts[j + 1] == starts[i]:
                j += 1
            ax.plot(x[i:j + 1], allowance[i:j + 1], color=BLUE, marker="o", markersize=3.5, linewidth=1.5,
                    label="douzièmes du forfait facturés" if first else None)
            first = False
            i = j + 1
        ax.axhline(package, color=RED, linestyle=":", linewidth=1.2, label=f"forfait annuel ({_num(package)})")
        ax.set_xticks(x, _short_months(keys), rotation=45, ha="right", fontsize=7.5)
        ax.yaxis.set_major_formatter(FuncFormatter(_num))
        ax.set_ylim(0, max([package] + list(consumed)) * 1.12)
        ax.grid(axis="y", color="#E5E5E5", linewidth=0.6)
        ax.set_axisbelow(True)
        if title:
            ax.set_title(title, loc="left")
        ax.legend(fontsize=7, frameon=False, ncols=3, loc="upper left", bbox_to_anchor=(0, -0.25))
        return _save(fig, fmt)


def horizontal_counts(items: Sequence[tuple[str, int]], *, title: str = "", fmt: str = "png",
                      size: tuple[float, float] = (6.4, 3.0)) -> bytes:
    """Counts by category (request types, applications…), largest first."""
    with _LOCK:
        fig = Figure(figsize=size)
        ax = fig.add_subplot()
        y = list(range(len(items)))[::-1]
        ax.barh(y, [n for _, n in items], color=BLUE, height=0.6)
        top = max([n for _, n in items] or [1])
        for yi, (_, n) in zip(y, items, strict=True):
            ax.text(n + top * 0.01, yi, _num(n), va="center", fontsize=7.5)
        ax.set_yticks(y, [label for label, _ in items], fontsize=7.5)
        ax.set_xlim(0, top * 1.15)
        ax.xaxis.set_major_formatter(FuncFormatter(_num))
        ax.grid(axis="x", color="#E5E5E5", linewidth=0.6)
        ax.set_axisbelow(True)
        if title:
            ax.set_title(title, loc="left")
        return _save(fig, fmt)


def svg_inline(svg: bytes) -> str:
    """The SVG document without its XML prologue, to be inlined in HTML."""
    text = svg.decode("utf-8")
    start = text.find("<svg")
    return text[start:] if start >= 0 else text
