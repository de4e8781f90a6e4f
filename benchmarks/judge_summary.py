"""One page of judge_all runs: Elo per model and judge, the LLM metrics, and how they rank.

Reads ``results/<prefix>_elo.csv`` and ``results/<prefix>_llm_metrics.csv`` of the given prefixes and writes
``results/<out>.md``: a wide Elo table (models as columns, 95% bootstrap bounds), the C_I / C_R table (models
as rows, the ``random`` floor included), and Spearman correlations across models between each metric, each
judge's Elo and NPMI. Nothing is recomputed: the numbers are the runs' own.

Usage:

```bash
python -m benchmarks.judge_summary --prefixes judge_s9_20ng judge_s9_bbc --out judge_s9_summary
```
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
from pathlib import Path

from benchmarks.judge_all import LABELS, RESULTS

ORDER = ["sae", "bertopic", "kmeans", "lda", "mlda", "metm", "mbertopic"]
METRIC_ORDER = ["C_I_lik", "C_I_cal", "C_I", "C_R", "C_R_cal"]


def _read(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open() as handle:
        return list(csv.DictReader(handle))


def _models(names) -> list[str]:
    known = [m for m in ORDER if m in names]
    return known + sorted(set(names) - set(known))


def _spearman(a: list[float], b: list[float]) -> str:
    from scipy.stats import spearmanr

    if len(a) < 3:
        return ""
    return f"{spearmanr(a, b).statistic:.2f}"


def elo_table(rows: list[dict]) -> list[str]:
    models = _models({r["model"] for r in rows})
    lines = [
        "| dataset | judge | " + " | ".join(LABELS.get(m, m) for m in models) + " | ρ(Elo, NPMI) |",
        "|---|---|" + "---|" * (len(models) + 1),
    ]
    groups: dict[tuple, dict] = {}
    for r in rows:
        groups.setdefault((r["dataset"], r["judge"], r["protocol"]), {})[r["model"]] = r
    for (dataset, judge, protocol), cells in groups.items():
        best = max(cells, key=lambda m: float(cells[m]["elo"]))
        values = []
        for m in models:
            c = cells.get(m)
            text = (
                "" if c is None else f"{float(c['elo']):.0f} [{float(c['low']):.0f}-{float(c['high']):.0f}]"
            )
            values.append(f"**{text}**" if m == best else text)
        name = judge if protocol == "-" else f"{judge} ({protocol})"
        first = next(iter(cells.values()))
        lines.append(
            f"| {dataset} | {name} | " + " | ".join(values) + f" | {float(first['spearman_npmi']):.2f} |"
        )
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        npmi = {r["model"]: float(r["npmi"]) for r in rows if r["dataset"] == dataset}
        lines.append(
            f"| {dataset} | NPMI | "
            + " | ".join(f"{npmi[m]:.3f}" if m in npmi else "" for m in models)
            + " | |"
        )
    return lines


def metric_tables(rows: list[dict], elo: list[dict]) -> list[str]:
    cells: dict[tuple, dict] = {}
    for r in rows:  # later rows (more topics) replace earlier ones
        cells.setdefault((r["dataset"], r["model"]), {})[r["metric"]] = r
    metrics = [m for m in METRIC_ORDER if any(m in c for c in cells.values())]
    npmi = {(r["dataset"].split(" ")[0], r["model"]): float(r["npmi"]) for r in elo}
    lines = [
        "| dataset | model | " + " | ".join(f"{m} (questions)" for m in metrics) + " | failures | NPMI |",
        "|---|---|" + "---|" * (len(metrics) + 2),
    ]
    datasets = list(dict.fromkeys(d for d, _ in cells))
    for dataset in datasets:
        for model in [*_models({m for d, m in cells if d == dataset} - {"random"}), "random"]:
            m = cells.get((dataset, model))
            if m is None:
                continue
            values = " | ".join(
                f"{float(m[k]['mean']):.3f} ({m[k]['n_questions']})" if k in m else "" for k in metrics
            )
            fails = sum(int(x["n_failures"]) for x in m.values())
            score = npmi.get((dataset, model))
            lines.append(
                f"| {dataset} | {LABELS.get(model, model)} | {values} | {fails} | "
                + ("" if score is None else f"{score:.3f}")
                + " |"
            )
    lines += ["", "Spearman across the models (the random row left out):", ""]
    lines += ["| dataset | " + " | ".join(f"ρ({m}, NPMI)" for m in metrics) + " | ρ(C_I_lik, Elo) by judge |"]
    lines += ["|---|" + "---|" * (len(metrics) + 1)]
    for dataset in datasets:
        models = [m for d, m in cells if d == dataset and m != "random" and (d, m) in npmi]
        rhos = []
        for k in metrics:
            have = [m for m in models if k in cells[(dataset, m)]]
            rhos.append(
                _spearman(
                    [float(cells[(dataset, m)][k]["mean"]) for m in have], [npmi[(dataset, m)] for m in have]
                )
            )
        by_judge = []
        for judge in dict.fromkeys(r["judge"] for r in elo if r["dataset"].startswith(dataset)):
            score = {
                r["model"]: float(r["elo"])
                for r in elo
                if r["dataset"].startswith(dataset)
                and r["judge"] == judge
                and r["protocol"] in ("-", "one order")
            }
            have = [m for m in models if m in score and "C_I_lik" in cells[(dataset, m)]]
            if have:
                values = [float(cells[(dataset, m)]["C_I_lik"]["mean"]) for m in have]
                by_judge.append(f"{judge} {_spearman(values, [score[m] for m in have])}")
        lines.append(f"| {dataset} | " + " | ".join(rhos) + " | " + ", ".join(by_judge) + " |")
    return lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prefixes", nargs="+", required=True, help="judge_all --prefix values")
    parser.add_argument("--out", default="judge_summary", help="file name under benchmarks/results/ (no .md)")
    args = parser.parse_args(argv)
    elo = [r for p in args.prefixes for r in _read(RESULTS / f"{p}_elo.csv")]
    metrics = [r for p in args.prefixes for r in _read(RESULTS / f"{p}_llm_metrics.csv")]
    if not elo:
        raise SystemExit(f"no Elo rows under {RESULTS} for prefixes {args.prefixes}: run judge_all first.")
    lines = [
        "# Topic judge Elo and SAE-TM's LLM metrics for every model (K = 50)",
        "",
        f"Written by `python -m benchmarks.judge_summary --prefixes {' '.join(args.prefixes)}` on "
        f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC from the runs' CSVs "
        + ", ".join(f"`results/{p}_*.csv`" for p in args.prefixes)
        + ".",
        "",
        "## Elo (Bradley-Terry, mean 1500, 95% bootstrap bounds; best per row in bold)",
        "",
        *elo_table(elo),
        "",
        "## C_I / C_R (SmolLM2-135M; 5 words + 1 intruder not among the topic's words; chance of C_I 1/6)",
        "",
        *metric_tables(metrics, elo),
    ]
    path = RESULTS / f"{args.out}.md"
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    os.replace(tmp, path)
    print(path.read_text())


if __name__ == "__main__":
    main()
