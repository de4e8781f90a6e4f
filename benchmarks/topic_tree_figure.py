"""The README's picture: how BBC News topics split as K grows, drawn from ``topic_tree``.

Fits ``bertopic_sae.BERTopic`` (shipped MiniLM SAE) on all 2,225 BBC News articles, re-merges its atoms at
K = 5, 10 and 20 with :func:`bertopic_sae.plotting.topic_tree` (the numbers ``visualize_topic_tree`` draws)
and re-draws that Sankey with matplotlib (plotly's static export needs a browser that is not installed
here), into ``benchmarks/results/topic_tree_bbc.png``.

Usage:

```bash
python benchmarks/topic_tree_figure.py            # about a minute once the embeddings are cached
```
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
COLORS = ("#D55E00", "#0072B2", "#CC79A7", "#E69F00", "#56B4E9", "#009E73", "#F0E442")  # BERTopic's


def _layout(tree, gap: float) -> list[dict[int, tuple[float, float]]]:
    """Vertical extent (bottom, top) of every topic at every K; each column's topics are ordered by the
    mean position of their documents in the previous column, which keeps bands from crossing."""
    n_docs = tree.labels.shape[1]
    extents, position = [], None
    for level, k in enumerate(tree.ks):
        sizes = np.bincount(tree.labels[level], minlength=k) / n_docs
        order = np.arange(k) if position is None else np.argsort(
            [-position[tree.labels[level] == t].mean() for t in range(k)], kind="stable")  # top first
        spare = gap / max(k - 1, 1)
        top, column = 1.0 + gap, {}
        for topic in order:
            column[int(topic)] = (top - sizes[topic], top)
            top -= sizes[topic] + spare
        extents.append(column)
        position = np.array([sum(column[int(t)]) / 2 for t in tree.labels[level]])
    return extents


def draw(tree, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import PathPatch, Rectangle
    from matplotlib.path import Path as Curve

    extents = _layout(tree, gap=0.25)
    n_docs = tree.labels.shape[1]
    root = []  # each topic takes the colour of the first-K topic that holds most of its documents
    for level, k in enumerate(tree.ks):
        first = [np.bincount(tree.labels[0][tree.labels[level] == t]).argmax() for t in range(k)]
        root.append([COLORS[int(f) % len(COLORS)] for f in first])
    figure, axes = plt.subplots(figsize=(13, 8.5))
    width, spacing = 0.035, 1.0
    for level in range(len(tree.ks) - 1):
        flows = tree.flows[tree.flows.level == level]
        # Stack each node's bands in the order of the nodes they go to (come from).
        out_top = {t: extents[level][t][1] for t in extents[level]}
        in_top = {t: extents[level + 1][t][1] for t in extents[level + 1]}
        flows = flows.assign(to=[-extents[level + 1][t][1] for t in flows.target],
                             frm=[-extents[level][s][1] for s in flows.source])
        placed = {}
        for row in flows.sort_values(["source", "to"]).itertuples():
            height = row.documents / n_docs
            placed[(row.source, row.target)] = [out_top[row.source], out_top[row.source] - height]
            out_top[row.source] -= height
        for row in flows.sort_values(["target", "frm"]).itertuples():
            height = row.documents / n_docs
            placed[(row.source, row.target)] += [in_top[row.target], in_top[row.target] - height]
            in_top[row.target] -= height
        x0, x1 = level * spacing + width, (level + 1) * spacing
        middle = (x0 + x1) / 2
        for (source, _), (a_top, a_bottom, b_top, b_bottom) in placed.items():
            vertices = [(x0, a_top), (middle, a_top), (middle, b_top), (x1, b_top), (x1, b_bottom),
                        (middle, b_bottom), (middle, a_bottom), (x0, a_bottom), (x0, a_top)]
            codes = [Curve.MOVETO, Curve.CURVE4, Curve.CURVE4, Curve.CURVE4, Curve.LINETO,
                     Curve.CURVE4, Curve.CURVE4, Curve.CURVE4, Curve.CLOSEPOLY]
            axes.add_patch(PathPatch(Curve(vertices, codes), facecolor=root[level][source], alpha=0.3, lw=0))
    for level, k in enumerate(tree.ks):
        x = level * spacing
        for topic, (bottom, top) in extents[level].items():
            axes.add_patch(Rectangle((x, bottom), width, top - bottom, color=root[level][topic]))
            if level == len(tree.ks) - 1 or top - bottom > 0.025:
                axes.text(x + width + 0.01, (bottom + top) / 2, tree.words[level][topic], va="center",
                          fontsize=8 if level < len(tree.ks) - 1 else 7.5)
        axes.text(x + width / 2, 1.31, f"K = {k}", ha="center", fontsize=13, weight="bold")
    axes.set_xlim(-0.05, (len(tree.ks) - 1) * spacing + 0.55)
    axes.set_ylim(-0.02, 1.36)
    axes.axis("off")
    axes.set_title("How BBC News topics split as K grows (one SAE, atoms re-merged; bands = documents)",
                   fontsize=14)
    handle, staging = tempfile.mkstemp(suffix=".png", dir=path.parent)
    os.close(handle)
    figure.savefig(staging, dpi=110, bbox_inches="tight")
    os.replace(staging, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ks", type=int, nargs="+", default=[5, 10, 20])
    parser.add_argument("--out", type=Path, default=RESULTS / "topic_tree_bbc.png")
    args = parser.parse_args()
    from bertopic_sae import BERTopic, SAEAtomMerger
    from bertopic_sae.data import default_embedding_model, embed, load_corpus
    from bertopic_sae.plotting import topic_tree

    corpus = load_corpus("bbc_news")
    model = default_embedding_model()
    embeddings = embed(corpus.texts, model)
    topic_model = BERTopic(clustering_model=SAEAtomMerger(n_topics=args.ks[0]), embedding_model=model)
    topic_model.fit_transform(corpus.texts, embeddings)
    tree = topic_tree(topic_model, args.ks, embeddings=embeddings, verbose=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    draw(tree, args.out)
    print(f"wrote {args.out} ({len(corpus.texts)} documents, K = {args.ks})")


if __name__ == "__main__":
    main()
