"""``visualize_topic_tree``: how topics split as K grows, from re-merging the atoms (no SAE refit)."""

from __future__ import annotations

import copy
from typing import NamedTuple

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from tqdm.auto import tqdm

from ._common import COLORS, HOVERLABEL, fitted_merger, title_layout, top_words, vocabulary

__all__ = ["TopicTree", "topic_tree", "visualize_topic_tree"]


class TopicTree(NamedTuple):
    """The atom partitions of one SAE at several numbers of topics, and the documents between them."""

    ks: tuple[int, ...]
    """The numbers of topics, increasing."""
    labels: np.ndarray
    """``(len(ks), n_docs)`` topic of every training document at each K (0 = the largest topic)."""
    words: list[list[str]]
    """Per K, a label of every topic: its top words from the emission model ('' without words)."""
    flows: pd.DataFrame
    """Columns ``level`` (index into ``ks`` of the source), ``source``, ``target``, ``documents``:
    how many documents move from topic ``source`` at ``ks[level]`` to ``target`` at ``ks[level + 1]``."""


def _check_ks(ks, n_atoms: int, n_docs: int) -> tuple[int, ...]:
    values = tuple(int(k) for k in ks)
    if len(values) < 2 or any(k < 1 for k in values) or list(values) != sorted(set(values)):
        raise ValueError(f"ks must be two or more increasing integers (e.g. 10, 20, 50), got {ks!r}.")
    limit = min(n_atoms, n_docs)
    if values[-1] > limit:
        raise ValueError(f"ks goes up to {values[-1]}, but this model has {n_atoms} active atoms and "
                         f"{n_docs} training documents; keep every K <= {limit}.")
    return values


def topic_tree(topic_model, ks=(10, 20, 50, 100), embeddings=None, n_words: int = 3,
               verbose: bool = False) -> TopicTree:
    """Re-merge the model's SAE atoms at every K in ``ks`` and count the documents shared between levels.

    Runs only the merge (k-means over atoms, then the document assignment) on a copy of the merger;
    the SAE, the emission model and the topic model itself are left as they are.

    Arguments:
        topic_model: a fitted :class:`bertopic_sae.BERTopic` (or BERTopic with an SAEAtomMerger).
        ks: numbers of topics, increasing.
        embeddings: the training documents' embeddings, for the most faithful assignment (else the
            SAE reconstructions stand in for them, as in ``set_n_topics``).
        n_words: words per topic label.
        verbose: show a progress bar over ``ks``.

    Usage:

    ```python
    tree = topic_tree(topic_model, ks=(5, 10, 20), embeddings=embeddings)
    tree.flows.head()
    ```
    """
    merger = fitted_merger(topic_model)
    ks = _check_ks(ks, int((merger.atom_weights_ > 0).sum()), merger.codes_.shape[0])
    words = vocabulary(topic_model, merger)
    labels, names = [], []
    for k in tqdm(ks, desc="re-merging atoms", disable=not verbose):
        # merge_atoms rebinds the fitted arrays rather than writing into them, so a shallow copy
        # keeps the model's own partition untouched while sharing codes, SAE and emission model.
        level = copy.copy(merger).merge_atoms(k, embeddings)
        order = np.argsort(-np.bincount(level.labels_, minlength=k), kind="stable")
        rank = np.empty(k, dtype=np.int64)
        rank[order] = np.arange(k)
        labels.append(rank[level.labels_])
        if words is None:
            names.append(["" for _ in range(k)])
        else:
            atom_topic = np.where(level.atom_topic_ >= 0, rank[np.maximum(level.atom_topic_, 0)], -1)
            names.append(top_words(merger.emission_model_.topic_word(atom_topic, k), words, n_words))
    stacked = np.stack(labels)
    flows = []
    for level in range(len(ks) - 1):
        pairs = pd.DataFrame({"source": stacked[level], "target": stacked[level + 1]})
        counts = pairs.groupby(["source", "target"]).size().reset_index(name="documents")
        flows.append(counts.assign(level=level))
    table = pd.concat(flows, ignore_index=True)[["level", "source", "target", "documents"]]
    return TopicTree(ks, stacked, names, table)


def visualize_topic_tree(
    topic_model,
    ks=(10, 20, 50, 100),
    embeddings=None,
    tree: TopicTree | None = None,
    n_words: int = 3,
    title: str = "<b>How topics split as K grows</b>",
    width: int = 1200,
    height: int = 800,
    verbose: bool = False,
) -> go.Figure:
    """Sankey diagram of the model's topics at several K, with flows weighted by documents.

    Each column is one K; a node is a topic (its top words), a band the documents it passes to a
    topic of the next K. Nodes are coloured by the topic of the first K that holds most of their
    documents, so one can follow a theme as it splits. The model's own topics are not changed.

    Arguments:
        topic_model: a fitted :class:`bertopic_sae.BERTopic` (or BERTopic with an SAEAtomMerger).
        ks: numbers of topics, increasing (ignored when ``tree`` is given).
        embeddings: the training documents' embeddings (see :func:`topic_tree`).
        tree: a :func:`topic_tree` already computed, to draw it again without re-merging.
        n_words: words per topic label.
        title: figure title.
        width: figure width in pixels.
        height: figure height in pixels.
        verbose: show a progress bar while re-merging.

    Usage:

    ```python
    from bertopic_sae.plotting import visualize_topic_tree
    visualize_topic_tree(topic_model, ks=(5, 10, 20), embeddings=embeddings)
    ```
    """
    if tree is None:
        tree = topic_tree(topic_model, ks, embeddings=embeddings, n_words=n_words, verbose=verbose)
    offsets = np.concatenate([[0], np.cumsum(tree.ks)])
    roots = [COLORS[0]] * offsets[-1]
    node_labels, node_sizes = [], []
    for level, k in enumerate(tree.ks):
        sizes = np.bincount(tree.labels[level], minlength=k)
        for topic in range(k):
            root = np.bincount(tree.labels[0][tree.labels[level] == topic], minlength=tree.ks[0]).argmax()
            roots[offsets[level] + topic] = COLORS[int(root) % len(COLORS)]
            node_labels.append(f"{topic}: {tree.words[level][topic]}".rstrip(": "))
            node_sizes.append(int(sizes[topic]))
    source = offsets[tree.flows.level.to_numpy()] + tree.flows.source.to_numpy()
    target = offsets[tree.flows.level.to_numpy() + 1] + tree.flows.target.to_numpy()
    figure = go.Figure(go.Sankey(
        arrangement="snap",
        node={"label": node_labels, "color": roots, "pad": 6, "thickness": 14, "customdata": node_sizes,
              "hovertemplate": "%{label}<br>%{customdata} documents<extra></extra>"},
        link={"source": source.tolist(), "target": target.tolist(), "value": tree.flows.documents.tolist(),
              "color": [_fade(roots[s]) for s in source],
              "hovertemplate": "%{value} documents<br>%{source.label} → %{target.label}<extra></extra>"},
    ))
    for level, k in enumerate(tree.ks):  # one heading per column
        figure.add_annotation(x=level / (len(tree.ks) - 1), y=1.04, xref="paper", yref="paper",
                              text=f"<b>K = {k}</b>", showarrow=False, font={"size": 14})
    figure.update_layout(template="plotly_white", title=title_layout(title), width=width, height=height,
                         hoverlabel=HOVERLABEL, font={"size": 10}, margin={"t": 90})
    return figure


def _fade(color: str, alpha: float = 0.35) -> str:
    red, green, blue = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red}, {green}, {blue}, {alpha})"
