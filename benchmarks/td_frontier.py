"""Coherence at a given diversity: SAE-TM's NPMI-TD frontier on the OCTIS grid against the peers' points.

Where SAE-TM loses on NPMI in the grid (BBC K >= 50, M10, DBLP, 20NG K = 200), the winners show lower
topic diversity (k-means K = 200 on BBC: TD .53, CTM .30, against SAE-TM's .70). Repeating frequent words
across topics raises NPMI, so one NPMI number per model mixes coherence with redundancy. This script fits
SAE-TM once per cell at the package defaults (the grid's own adapter, ``make_model("sae", ...)``) and reads
the *same* topics with word readings that trade diversity for coherence, giving one NPMI-TD curve per cell::

    default        the package's words (IDF-weighted emission share, share_prior 10, exclusivity 0.5)
    alpha a        exclusivity a in {0, 0.25, 1, 2}
    prior-200      share_prior 200, exclusivity 0 (a topic's words lean on its parent's)
    background .25 background_tokens 0.25, exclusivity 0 (frequent words come back)
    ctfidf         BERTopic's ClassTfidfTransformer on the same clusters (no emission matrix; reference)

Each committed peer cell (``results/octis_grid.csv``, mean over seeds) is then placed against the curve:
SAE-TM's NPMI interpolated on the upper envelope of its points at the peer's TD. Nothing here chooses a
default (these are the benchmark corpora); it says how much of each lost cell is diversity.

Usage: ``python -m benchmarks.td_frontier run [--datasets bbc_news ...] [--ks 50 100] [--seeds 0]``, then
``python -m benchmarks.td_frontier report`` (writes ``results/td_frontier.md`` and ``td_frontier.png``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._machine import cpu_cores, cpu_model  # noqa: E402
from benchmarks.foundation_sae import append_row, done_cells  # noqa: E402
from benchmarks.octis_grid import DATASETS, KS, make_model  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_CSV = RESULTS / "td_frontier.csv"
PEERS_CSV = RESULTS / "octis_grid.csv"
READINGS = {  # name -> (document_topic_word keywords or "ctfidf", exclusivity)
    "default": ({}, 0.5),
    "alpha 0": ({}, 0.0),
    "alpha 0.25": ({}, 0.25),
    "alpha 1": ({}, 1.0),
    "alpha 2": ({}, 2.0),
    "prior-200": ({"share_prior": 200.0}, 0.0),
    "background .25": ({"background_tokens": 0.25}, 0.0),
    "ctfidf": ("ctfidf", 0.0),
}
FIELDS = [
    "corpus",
    "n_docs",
    "k",
    "seed",
    "reading",
    "npmi",
    "c_v",
    "td",
    "fit_seconds",
    "load1",
    "date",
    "machine",
]


def run(args) -> None:
    import torch

    from benchmarks.words_many_topics_dev import score_readings
    from bertopic_sae.eval import OctisEvaluator, load_octis_corpus, seed_everything

    torch.set_num_threads(args.threads)
    done = {(c, k, s) for c, k, _, s in done_cells(args.out, "reading")}
    machine = f"{cpu_model()}, {cpu_cores()} cores (shared), torch threads {torch.get_num_threads()}"
    for corpus_name in args.datasets:
        corpus = load_octis_corpus(corpus_name)
        embeddings = corpus.embeddings()
        evaluator = OctisEvaluator(corpus.dataset, word_embeddings=False)
        for k in args.ks:
            for seed in args.seeds:
                if (corpus_name, k, seed) in done:
                    continue
                seed_everything(seed)
                topic_model = make_model("sae", k, seed, embeddings, {})
                load, started = os.getloadavg()[0], time.perf_counter()
                output = topic_model.train_model(corpus.dataset, top_words=10)
                seconds = time.perf_counter() - started
                scored = score_readings(topic_model.model_, output, evaluator, READINGS)
                for name, scores in scored.items():
                    append_row(
                        args.out,
                        {
                            "corpus": corpus_name,
                            "n_docs": len(corpus),
                            "k": k,
                            "seed": seed,
                            "reading": name,
                            "npmi": round(scores["npmi"], 4),
                            "c_v": round(scores["c_v"], 4),
                            "td": round(scores["td"], 4),
                            "fit_seconds": round(seconds, 1),
                            "load1": round(load, 2),
                            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                            "machine": machine,
                        },
                        FIELDS,
                    )
                print(corpus_name, k, seed, f"{seconds:.0f}s", flush=True)
    report(args.out, args.peers)


def upper_envelope(td: np.ndarray, npmi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The points no other point beats on both TD and NPMI, sorted by TD (the curve peers are placed on)."""
    order = np.argsort(-td, kind="stable")
    keep, best = [], -np.inf
    for i in order:  # from the most diverse down: keep a point only if it is more coherent than all before
        if npmi[i] > best:
            keep.append(i)
            best = npmi[i]
    keep = np.array(keep[::-1])
    return td[keep], npmi[keep]


def npmi_at(td: float, curve_td: np.ndarray, curve_npmi: np.ndarray) -> float:
    """SAE-TM's NPMI at diversity ``td`` on the envelope; NaN outside the curve's TD range."""
    if len(curve_td) == 0 or not curve_td.min() <= td <= curve_td.max():
        return float("nan")
    return float(np.interp(td, curve_td, curve_npmi))


def placements(frame, peers):
    """One row per (dataset, K, peer): the peer's NPMI / TD and SAE-TM's NPMI at that TD."""
    import pandas as pd

    ours = frame.groupby(["corpus", "k", "reading"])[["npmi", "c_v", "td"]].mean().reset_index()
    rows = []
    for (corpus, k), cell in ours.groupby(["corpus", "k"]):
        curve_td, curve_npmi = upper_envelope(cell["td"].to_numpy(), cell["npmi"].to_numpy())
        default = cell[cell["reading"] == "default"].iloc[0]
        best = cell.loc[cell["npmi"].idxmax()]
        others = peers[(peers["dataset"] == corpus) & (peers["num_topics"] == k) & (peers["model"] != "sae")]
        for model, scores in others.groupby("model")[["npmi", "td", "n_topics_found"]].mean().iterrows():
            at = npmi_at(scores["td"], curve_td, curve_npmi)
            rows.append(
                {
                    "dataset": corpus,
                    "K": k,
                    "peer": model,
                    "topics found": round(scores["n_topics_found"]),
                    "peer NPMI": scores["npmi"],
                    "peer TD": scores["td"],
                    "SAE-TM default NPMI": default["npmi"],
                    "SAE-TM default TD": default["td"],
                    "SAE-TM NPMI at peer TD": at,
                    "margin at peer TD": at - scores["npmi"],
                    "SAE-TM TD range": f"{curve_td.min():.2f}-{curve_td.max():.2f}",
                    "SAE-TM best NPMI": best["npmi"],
                    "SAE-TM best TD": best["td"],
                }
            )
    return pd.DataFrame(rows)


def plot(frame, peers, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    corpora = [c for c in DATASETS if c in set(frame["corpus"])]
    fig, axes = plt.subplots(1, len(corpora), figsize=(4.2 * len(corpora), 3.8), squeeze=False)
    colours = dict(zip(KS, ("tab:blue", "tab:orange", "tab:green", "tab:red"), strict=True))
    markers = {"kmeans": "s", "bertopic": "^", "fastopic": "v", "ctm": "D", "prodlda": "P", "lda": "X"}
    ours = frame.groupby(["corpus", "k", "reading"])[["npmi", "td"]].mean().reset_index()
    for ax, corpus in zip(axes[0], corpora, strict=True):
        for k, cell in ours[ours["corpus"] == corpus].groupby("k"):
            curve_td, curve_npmi = upper_envelope(cell["td"].to_numpy(), cell["npmi"].to_numpy())
            ax.plot(curve_td, curve_npmi, "-o", color=colours.get(k, "grey"), ms=3, label=f"SAE-TM K={k}")
            default = cell[cell["reading"] == "default"]
            ax.plot(default["td"], default["npmi"], "*", color=colours.get(k, "grey"), ms=11)
            cell_peers = (
                peers[(peers["dataset"] == corpus) & (peers["num_topics"] == k) & (peers["model"] != "sae")]
                .groupby("model")[["npmi", "td"]]
                .mean()
            )
            for model, point in cell_peers.iterrows():
                ax.plot(
                    point["td"],
                    point["npmi"],
                    markers.get(model, "o"),
                    color=colours.get(k, "grey"),
                    mfc="none",
                    ms=6,
                )
        ax.set_title(corpus)
        ax.set_xlabel("topic diversity (TD)")
        ax.set_ylabel("NPMI")
        ax.grid(alpha=0.3)
    handles = [plt.Line2D([], [], color=c, marker="o", label=f"SAE-TM K={k}") for k, c in colours.items()]
    handles += [
        plt.Line2D([], [], ls="", marker=m, color="black", mfc="none", label=n) for n, m in markers.items()
    ]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=7, frameon=False)
    fig.suptitle(
        "SAE-TM's readings of one fit (line; star: default) against the peers' grid cells", fontsize=9
    )
    fig.tight_layout(rect=(0, 0.07, 1, 0.95))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def report(path: Path, peers_path: Path = PEERS_CSV) -> None:
    import pandas as pd

    from bertopic_sae._io import atomic_write_text

    frame = pd.read_csv(path)
    peers = pd.read_csv(peers_path)
    placed = placements(frame, peers)
    readings = frame.groupby(["corpus", "k", "reading"])[["npmi", "c_v", "td"]].mean().round(3)
    readings = readings.unstack("reading").swaplevel(axis=1).sort_index(axis=1)
    order = [r for r in READINGS if r in set(frame["reading"])]
    # A peer that found fewer topics than asked (BERTopic's HDBSCAN) is not compared at that K.
    same_k = placed[placed["topics found"] == placed["K"]]
    lost = same_k[same_k["peer NPMI"] > same_k["SAE-TM default NPMI"]]
    decided = lost.dropna(subset=["SAE-TM NPMI at peer TD"])
    above = decided[decided["margin at peer TD"] < 0]
    outside = lost[lost["SAE-TM NPMI at peer TD"].isna()]
    unreached = outside[outside["SAE-TM best NPMI"] < outside["peer NPMI"]]
    summary = [
        f"Peer cells with K topics found and a higher NPMI than SAE-TM's default: {len(lost)} of "
        f"{len(same_k)}. "
        f"Of these, {len(decided)} lie inside SAE-TM's TD range; SAE-TM's curve reaches the "
        f"peer's NPMI at the peer's TD in {len(decided) - len(above)} of them and stays below "
        f"in {len(above)} (mean margin {decided['margin at peer TD'].mean():+.3f}). {len(outside)} "
        "lie outside the range (peer TD below SAE-TM's least diverse reading, or above its most "
        "diverse), where the curve says nothing; SAE-TM's most coherent reading (at its own TD) "
        f"reaches their NPMI in {len(outside) - len(unreached)} and stays below in {len(unreached)}"
        + (
            " ("
            + ", ".join(
                f"{r['dataset']} K={r['K']} {r['peer']} {r['SAE-TM best NPMI'] - r['peer NPMI']:+.3f}"
                for _, r in unreached.iterrows()
            )
            + ")."
            if len(unreached)
            else "."
        ),
    ]
    plot(frame, peers, path.with_suffix(".png"))
    show = placed.copy()
    for column in (
        "peer NPMI",
        "peer TD",
        "SAE-TM default NPMI",
        "SAE-TM default TD",
        "SAE-TM NPMI at peer TD",
        "margin at peer TD",
        "SAE-TM best NPMI",
        "SAE-TM best TD",
    ):
        show[column] = show[column].round(3)
    lines = [
        "# SAE-TM's NPMI-TD frontier on the OCTIS grid",
        "",
        f"`python -m benchmarks.td_frontier run` ({frame['date'].min()} to "
        f"{frame['date'].max()}; {' / '.join(sorted(frame['machine'].unique()))}; seeds "
        f"{sorted(frame['seed'].unique().tolist())}). One SAE-TM fit at the package defaults per "
        "(corpus, K, seed), read with every reading of the module docstring; NPMI / C_V / TD of "
        "the top 10 words by `bertopic_sae.eval.OctisEvaluator` (the grid's scores). Peers: the "
        f"committed cells of `{peers_path.name}`, mean over their seeds. SAE-TM NPMI at peer TD: "
        "linear interpolation on the upper envelope of SAE-TM's readings (blank outside its TD "
        "range). These are benchmark corpora: nothing here chose a default.",
        "",
        *summary,
        "",
        f"![frontier]({path.with_suffix('.png').name})",
        "",
        "## Peers placed on SAE-TM's curve",
        "",
        show.to_markdown(index=False),
        "",
        "## Every reading (NPMI, C_V, TD; mean over seeds)",
        "",
        readings.reindex(columns=order, level=0).to_markdown(),
        "",
    ]
    atomic_write_text(path.with_suffix(".md"), "\n".join(lines))
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.td_frontier", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run")
    p.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    p.add_argument("--ks", nargs="+", type=int, default=list(KS))
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=DEFAULT_CSV)
    p.add_argument("--peers", type=Path, default=PEERS_CSV)
    p = sub.add_parser("report")
    p.add_argument("--out", type=Path, default=DEFAULT_CSV)
    p.add_argument("--peers", type=Path, default=PEERS_CSV)
    args = parser.parse_args()
    run(args) if args.command == "run" else report(args.out, args.peers)


if __name__ == "__main__":
    main()
