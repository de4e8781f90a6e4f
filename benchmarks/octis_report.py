"""Summarise ``benchmarks/results/octis_grid.csv``: a Markdown table and NPMI / C_V-vs-K plots per dataset.

Writes ``octis_grid.md`` (the SAE model against the best other model per dataset x K, then mean ± sd over
seeds per dataset x K x model, n = number of seeds; sd is blank for one seed) and ``octis_<dataset>.png``
(NPMI and C_V against K, one line per model, error bars = sd) next to the CSV.

Usage:

```bash
python -m benchmarks.octis_report                      # benchmarks/results/octis_grid.csv
python -m benchmarks.octis_report --csv other.csv --out-dir /tmp/report
```
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results"
METRICS = [
    "n_topics_found",
    "npmi",
    "c_v",
    "td",
    "irbo",
    "we_coherence",
    "intrusion",
    "ci_smollm2",
    "purity",
    "nmi",
    "fit_seconds",
    "peak_rss_mb",
]
MODEL_ORDER = ["sae", "kmeans", "bertopic", "fastopic", "ctm", "prodlda", "lda"]


def _cell(values: pd.Series, digits: int) -> str:
    values = values.dropna()
    if values.empty:
        return ""
    if len(values) == 1:
        return f"{values.iloc[0]:.{digits}f}"
    return f"{values.mean():.{digits}f} ± {values.std(ddof=1):.{digits}f}"


def summary_table(frame: pd.DataFrame) -> str:
    """Markdown: one section per dataset, rows = K x model, columns = metrics (mean ± sd over seeds)."""
    lines = []
    metrics = [m for m in METRICS if m in frame.columns]
    order = {m: i for i, m in enumerate(MODEL_ORDER)}
    for dataset, group in frame.groupby("dataset", sort=True):
        lines += [
            f"## {dataset}",
            "",
            "| K | model | n | " + " | ".join(metrics).replace("n_topics_found", "K found") + " |",
            "|---|---|---|" + "---|" * len(metrics),
        ]
        keys = sorted(
            group.groupby(["num_topics", "model"]).groups, key=lambda k: (k[0], order.get(k[1], 99), k[1])
        )
        for k, model in keys:
            cell = group[(group.num_topics == k) & (group.model == model)]
            values = [
                _cell(
                    cell[m], 0 if m == "n_topics_found" else 1 if m in ("fit_seconds", "peak_rss_mb") else 3
                )
                for m in metrics
            ]
            lines.append(f"| {k} | {model} | {cell.seed.nunique()} | " + " | ".join(values) + " |")
        lines.append("")
    return "\n".join(lines)


def comparison_table(frame: pd.DataFrame, model: str = "sae") -> str:
    """Markdown: ``model`` against the best other model per dataset x K on NPMI and C_V (means over seeds).

    Rank = place of ``model`` among the models that ran in that cell (1 = first); a best model that returned
    fewer topics than K (BERTopic when HDBSCAN finds fewer clusters) is marked. Also TD and the NPMI change
    from the smallest to the largest K of each model (the issue's goal: at most a 20% drop from K=20 to 200).
    """
    if model not in set(frame.model):
        return ""
    means = frame.groupby(["dataset", "num_topics", "model"])[["npmi", "c_v", "td", "n_topics_found"]].mean()
    lines = [
        f"## {model} against the best other model (means over seeds)",
        "",
        f"| dataset | K | models | {model} NPMI | best other NPMI | rank | {model} C_V | best other C_V | "
        "rank "
        f"| {model} TD |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (dataset, k), cell in means.groupby(level=[0, 1]):
        cell = cell.droplevel([0, 1])
        if model not in cell.index:
            continue
        others = cell.drop(index=model)
        row = [dataset, str(k), str(len(cell))]
        for metric in ("npmi", "c_v"):
            ours = cell.loc[model, metric]
            if others[metric].notna().any():
                best = others[metric].idxmax()
                found = others.loc[best, "n_topics_found"]
                note = f", {found:.0f} topics found" if found < k else ""
                row += [f"{ours:.3f}", f"{others.loc[best, metric]:.3f} ({best}{note})"]
            else:
                row += [f"{ours:.3f}", ""]
            row.append(str(int((cell[metric] > ours).sum()) + 1))
        row.append(f"{cell.loc[model, 'td']:.3f}")
        lines.append("| " + " | ".join(row) + " |")
    lines += [
        "",
        "NPMI change from the smallest to the largest K (mean over seeds; models with both ends only; the "
        "relative change is over |NPMI at K min|, so it means little when that is near 0 or negative):",
        "",
        "| dataset | model | K range | NPMI at K min | NPMI at K max | change | relative change |",
        "|---|---|---|---|---|---|---|",
    ]
    order = {m: i for i, m in enumerate(MODEL_ORDER)}
    for dataset, group in means.groupby(level=0):
        group = group.droplevel(0)
        for name in sorted(group.index.get_level_values(1).unique(), key=lambda m: (order.get(m, 99), m)):
            series = group.xs(name, level=1)["npmi"].sort_index()
            if len(series) < 2:
                continue
            lo, hi = series.iloc[0], series.iloc[-1]
            relative = f"{100 * (hi - lo) / abs(lo):+.0f}%" if lo else ""
            lines.append(
                f"| {dataset} | {name} | {series.index[0]}-{series.index[-1]} | {lo:.3f} | {hi:.3f} "
                f"| {hi - lo:+.3f} | {relative} |"
            )
    lines.append("")
    return "\n".join(lines)


def plot_dataset(frame: pd.DataFrame, dataset: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    group = frame[frame.dataset == dataset]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    models = sorted(group.model.unique(), key=lambda m: (MODEL_ORDER.index(m) if m in MODEL_ORDER else 99, m))
    for ax, metric, title in zip(axes, ("npmi", "c_v"), ("NPMI", "C_V"), strict=True):
        for model in models:
            stats = (
                group[group.model == model].groupby("num_topics")[metric].agg(["mean", "std"]).sort_index()
            )
            ax.errorbar(
                stats.index, stats["mean"], yerr=stats["std"].fillna(0), marker="o", capsize=3, label=model
            )
        ax.set_xscale("log")
        ks = sorted(group.num_topics.unique())
        ax.set_xticks(ks, [str(k) for k in ks])
        ax.minorticks_off()
        ax.set_xlabel("number of topics K")
        ax.set_title(f"{title}, {dataset}")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.octis_report", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--csv", type=Path, default=RESULTS / "octis_grid.csv")
    parser.add_argument("--out-dir", type=Path, default=None, help="default: the CSV's folder")
    parser.add_argument("--llm-csv", type=Path, default=RESULTS / "octis_grid_llm.csv",
                        help="C_I of the stored topics (python -m bertopic_sae.judges.cli), if present")
    args = parser.parse_args(argv)
    if not args.csv.exists():
        print(f"{args.csv} not found; run `python -m benchmarks.octis_grid` first.", file=sys.stderr)
        return 1
    frame = pd.read_csv(args.csv)
    if args.llm_csv.exists():  # C_I by the SmolLM2 judge, for the cells scored so far
        llm = pd.read_csv(args.llm_csv)
        keys = ["model", "dataset", "num_topics", "seed"]
        ci = llm[llm.metric == "C_I"][[*keys, "mean"]].rename(columns={"mean": "ci_smollm2"})
        frame = frame.merge(ci.drop_duplicates(keys), on=keys, how="left")
    out_dir = args.out_dir or args.csv.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    machines = ", ".join(sorted(frame.machine.dropna().unique()))
    if "code" in frame.columns:
        codes = frame.groupby(frame.code.fillna("").astype(str).replace("", "unrecorded")).model.unique()
        machines += "; code: " + "; ".join(f"{c} ({', '.join(sorted(m))})" for c, m in codes.items())
    header = [
        "# OCTIS benchmark grid",
        "",
        f"Source: `{args.csv.name}` ({len(frame)} cells; {frame.date.min()} to {frame.date.max()}; "
        f"{machines}).",
        (
            "Mean ± sd over seeds (n = seeds). Metrics: top-10 words; NPMI / C_V = OCTIS Coherence on the "
            "dataset's own token lists; TD = OCTIS TopicDiversity; IRBO = OCTIS InvertedRBO; we_coherence = "
            "mean pairwise GloVe-50d cosine; intrusion = automatic word intrusion on GloVe (chance 1/6); "
            "ci_smollm2 = SAE-TM's LLM intruder detection C_I judged by SmolLM2-135M (chance 1/6; blank = "
            "not scored); purity / NMI of the argmax topic against the labels (BERTopic outliers = one "
            "cluster). fit_seconds = wall clock on a shared "
            "machine (see load1 in the CSV); peak_rss_mb = process peak during the fit."
        ),
        "",
    ]
    body = comparison_table(frame) + "\n" + summary_table(frame)
    (out_dir / args.csv.with_suffix(".md").name).write_text("\n".join(header) + "\n" + body)
    for dataset in sorted(frame.dataset.unique()):
        if frame[frame.dataset == dataset].num_topics.nunique() >= 1:
            plot_dataset(
                frame,
                dataset,
                out_dir / f"octis_{dataset.replace('[', '_').replace(':', '').replace(']', '')}.png",
            )
    print(
        f"wrote {out_dir / args.csv.with_suffix('.md').name} and {frame.dataset.nunique()} plot(s)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
