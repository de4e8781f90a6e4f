"""``visualize_atoms``: the SAE atoms merged into one topic, their weights and the words they emit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ._common import (
    COLORS,
    HOVERLABEL,
    atom_topics,
    fitted_merger,
    title_layout,
    top_words,
    topic_name,
    vocabulary,
)

__all__ = ["topic_atom_table", "visualize_atoms"]


def topic_atom_table(topic_model, topic: int, n_words: int = 5) -> pd.DataFrame:
    """The atoms of ``topic``, heaviest first: one row per atom.

    Columns: ``atom`` (index in the SAE), ``weight`` (θ̄, the atom's mean normalised activation over
    the training documents), ``share`` (its part of the topic's θ̄ mass, sums to 1), ``documents``
    (training documents it fires on) and ``words`` (its ``n_words`` most probable emitted words,
    '' when the model learned no words).

    Arguments:
        topic_model: a fitted :class:`bertopic_sae.BERTopic` (or BERTopic with an SAEAtomMerger).
        topic: a topic id as ``topic_model.get_topic_info()`` numbers it.
        n_words: words shown per atom.

    Usage:

    ```python
    from bertopic_sae.plotting import topic_atom_table
    topic_atom_table(topic_model, 0).head()
    ```
    """
    merger = fitted_merger(topic_model)
    current = atom_topics(topic_model, merger)
    known = sorted(set(current[current >= 0].tolist()))
    if topic not in known:
        raise ValueError(f"Topic {topic!r} has no atoms; choose one of the topics {known[0]}..{known[-1]}.")
    atoms = np.flatnonzero(current == topic)
    weights = merger.atom_weights_[atoms]
    order = np.argsort(-weights, kind="stable")
    atoms, weights = atoms[order], weights[order]
    fires = np.asarray((merger.codes_[:, atoms] > 0).sum(axis=0)).ravel()
    words = vocabulary(topic_model, merger)
    rows = merger.emission_model_.emission_[atoms] if words is not None else np.zeros((atoms.size, 0))
    return pd.DataFrame({
        "atom": atoms,
        "weight": weights,
        "share": weights / max(weights.sum(), 1e-12),
        "documents": fires,
        "words": top_words(rows, words, n_words),
    })


def visualize_atoms(
    topic_model,
    topic: int,
    top_n_atoms: int | None = 15,
    n_words: int = 5,
    title: str | None = None,
    width: int = 800,
    height: int | None = None,
) -> go.Figure:
    """Bar chart of the atoms that make ``topic``: each atom's share of the topic and its top words.

    A topic of an SAE topic model is a group of SAE atoms (k-means over the atoms); this shows which
    atoms carry it and what each one emits, heaviest first. The atom ids are in each bar's
    ``customdata`` (``fig.data[0].customdata``).

    Arguments:
        topic_model: a fitted :class:`bertopic_sae.BERTopic` (or BERTopic with an SAEAtomMerger).
        topic: a topic id as ``topic_model.get_topic_info()`` numbers it.
        top_n_atoms: show the heaviest this many atoms (``None``: all of them).
        n_words: words shown per atom.
        title: figure title (default: the topic's label and how much of it the shown atoms cover).
        width: figure width in pixels.
        height: figure height in pixels (default: grows with the number of atoms).

    Usage:

    ```python
    from bertopic_sae.plotting import visualize_atoms
    visualize_atoms(topic_model, 0)          # or topic_model.visualize_atoms(0)
    ```
    """
    if top_n_atoms is not None and top_n_atoms < 1:
        raise ValueError(f"top_n_atoms must be a positive integer or None, got {top_n_atoms!r}.")
    table = topic_atom_table(topic_model, topic, n_words=n_words)
    shown = table if top_n_atoms is None else table.head(top_n_atoms)
    if title is None:
        title = (f"<b>Atoms of topic {topic}</b><br><sup>{topic_name(topic_model, topic)}: {len(shown)} of "
                 f"{len(table)} atoms, {shown.share.sum():.0%} of its weight</sup>")
    labels = [f"atom {a}  {w}".rstrip() + "  " for a, w in zip(shown.atom, shown.words, strict=True)]
    figure = go.Figure(go.Bar(
        x=shown.share[::-1], y=labels[::-1], orientation="h", marker_color=COLORS[topic % len(COLORS)],
        customdata=np.stack([shown.atom, shown.weight, shown.documents], axis=1)[::-1],
        hovertemplate="atom %{customdata[0]}<br>share of topic %{x:.1%}<br>θ̄ %{customdata[1]:.2e}"
                      "<br>fires on %{customdata[2]} documents<extra></extra>",
    ))
    figure.update_layout(
        template="plotly_white", showlegend=False, title=title_layout(title), width=width,
        height=height or 160 + 28 * len(shown), hoverlabel=HOVERLABEL,
        xaxis={"title": "share of the topic's atom weight (θ̄)", "tickformat": ".0%", "showgrid": True},
        yaxis={"showgrid": True, "automargin": True},
    )
    return figure
