"""Corpus comparison: which topics each corpus (or source) over- or under-represents, with intervals."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from scipy.stats import binomtest, norm

from ._common import COLORS, HOVERLABEL, title_layout, topic_name

__all__ = ["corpus_composition", "visualize_corpus_comparison"]


def corpus_composition(
    document_topics: Sequence[int], groups: Sequence, confidence: float = 0.95
) -> pd.DataFrame:
    """Topic shares of every group of documents (a corpus, a source) against all the other groups.

    One row per (group, topic). Columns: ``group``, ``topic``, ``documents`` (the group's documents in
    the topic), ``group_documents``, ``share`` with its Wilson interval ``share_low``/``share_high``,
    ``rest_share`` (the topic's share among the other groups' documents), and ``ratio`` =
    share / rest_share with its Katz log interval ``ratio_low``/``ratio_high`` (ratio > 1: the group
    over-represents the topic). A zero count gets the usual 0.5 added to each of its cells first, so
    topics found in one corpus only still get a finite ratio and interval.

    Arguments:
        document_topics: the topic of every document (e.g. ``topic_model.topics_``).
        groups: the group (corpus, source) of every document, same length.
        confidence: level of the intervals.

    Usage:

    ```python
    table = corpus_composition(topic_model.topics_, corpus_of_each_document)
    table.sort_values("ratio").tail()          # what each corpus over-represents most
    ```
    """
    topics = np.asarray(document_topics)
    group_of = np.asarray(groups, dtype=object)
    if topics.shape != group_of.shape or topics.ndim != 1:
        raise ValueError(f"Pass one topic and one group per document: got {topics.shape} topics and "
                         f"{group_of.shape} groups.")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}.")
    names = list(dict.fromkeys(group_of.tolist()))
    if len(names) < 2:
        raise ValueError("Comparing corpora needs documents from at least two groups; got "
                         f"{len(names)} ({names}).")
    counts = pd.crosstab(pd.Series(group_of, name="group"), pd.Series(topics, name="topic")).reindex(names)
    z = norm.ppf(0.5 + confidence / 2)
    rows = []
    for name in names:
        inside = counts.loc[name].to_numpy()
        rest = counts.drop(index=name).sum(axis=0).to_numpy()
        n_in, n_rest = inside.sum(), rest.sum()
        for topic, a, c in zip(counts.columns, inside, rest, strict=True):
            low, high = binomtest(int(a), int(n_in)).proportion_ci(confidence, method="wilson")
            # Katz interval for a ratio of proportions (scipy's relative_risk leaves it open at zero counts).
            fix = 0.5 if a == 0 or c == 0 else 0.0
            a_, c_, n_in_, n_rest_ = a + fix, c + fix, n_in + 2 * fix, n_rest + 2 * fix
            log_ratio = np.log((a_ / n_in_) / (c_ / n_rest_))
            spread = z * np.sqrt(1 / a_ - 1 / n_in_ + 1 / c_ - 1 / n_rest_)
            rows.append({"group": name, "topic": topic, "documents": int(a), "group_documents": int(n_in),
                         "share": a / n_in, "share_low": low, "share_high": high, "rest_share": c / n_rest,
                         "ratio": np.exp(log_ratio), "ratio_low": np.exp(log_ratio - spread),
                         "ratio_high": np.exp(log_ratio + spread)})
    return pd.DataFrame(rows)


def visualize_corpus_comparison(
    topic_model,
    groups: Sequence,
    document_topics: Sequence[int] | None = None,
    topics: Sequence[int] | None = None,
    top_n_topics: int = 12,
    relative: bool = True,
    confidence: float = 0.95,
    title: str = "<b>Topic composition by corpus</b>",
    width: int = 1100,
    height: int | None = None,
) -> go.Figure:
    """Forest plot of each group's topic shares, with confidence intervals.

    ``relative=True`` (default): one panel per group with the ratio of the topic's share in that
    group to its share in all other groups, on a log axis (1 = as common as elsewhere). ``False``:
    the topic shares themselves, one colour per group.

    Arguments:
        topic_model: a fitted BERTopic (for topic labels and, by default, the documents' topics).
        groups: the group (corpus, source) of every training document.
        document_topics: the topic of every document (default: ``topic_model.topics_``).
        topics: the topics to show (default: the ``top_n_topics`` largest).
        top_n_topics: how many of the largest topics to show when ``topics`` is not given.
        relative: plot ratios to the other groups (True) or plain shares (False).
        confidence: level of the intervals.
        title: figure title.
        width: figure width in pixels.
        height: figure height in pixels (default: grows with the number of topics).

    Usage:

    ```python
    from bertopic_sae.plotting import visualize_corpus_comparison
    visualize_corpus_comparison(topic_model, corpus_names)   # or topic_model.visualize_corpus_comparison(...)
    ```
    """
    document_topics = topic_model.topics_ if document_topics is None else document_topics
    table = corpus_composition(document_topics, groups, confidence)
    if topics is None:
        sizes = pd.Series(np.asarray(document_topics)).value_counts()
        topics = sorted(sizes.index[:top_n_topics].tolist())
    missing = sorted(set(topics) - set(table.topic))
    if missing:
        raise ValueError(f"Topics {missing} hold none of these documents; "
                         f"choose among {sorted(set(table.topic))}.")
    table = table[table.topic.isin(topics)]
    names = list(dict.fromkeys(table.group))
    labels = {t: _short(topic_name(topic_model, t)) for t in topics}
    order = [labels[t] for t in sorted(topics)][::-1]
    height = height or 160 + 26 * len(topics)
    if relative:
        figure = make_subplots(rows=1, cols=len(names), shared_yaxes=True, horizontal_spacing=0.02,
                               subplot_titles=[str(n) for n in names])
        for column, name in enumerate(names, start=1):
            part = table[table.group == name]
            trace = _points(part, labels, name, column - 1, "ratio", percent=False)
            figure.add_trace(trace, row=1, col=column)
            figure.add_vline(x=1, line_dash="dot", line_color="grey", row=1, col=column)
        figure.update_xaxes(type="log", title_text="share here / share elsewhere", showgrid=True)
    else:
        figure = go.Figure([_points(table[table.group == name], labels, name, i, "share", percent=True)
                            for i, name in enumerate(names)])
        figure.update_xaxes(title_text="share of the group's documents", tickformat=".0%", showgrid=True)
    figure.update_yaxes(categoryorder="array", categoryarray=order, showgrid=True, automargin=True)
    figure.update_layout(template="plotly_white", title=title_layout(title), width=width, height=height,
                         hoverlabel=HOVERLABEL, showlegend=not relative)
    return figure


def _points(part: pd.DataFrame, labels: dict, name, index: int, column: str, percent: bool) -> go.Scatter:
    value, low, high = part[column], part[f"{column}_low"], part[f"{column}_high"]
    return go.Scatter(
        x=value, y=[labels[t] for t in part.topic], mode="markers", name=str(name),
        marker={"color": COLORS[index % len(COLORS)], "size": 9},
        error_x={"type": "data", "symmetric": False, "array": high - value, "arrayminus": value - low},
        customdata=np.stack([part.topic, part.documents, part.group_documents], axis=1),
        hovertemplate=f"{name}<br>topic %{{customdata[0]}}: %{{customdata[1]}} of "
                      "%{customdata[2]} documents"
                      + ("<br>share %{x:.1%}" if percent else "<br>ratio %{x:.2f}") + "<extra></extra>",
    )


def _short(label: str, limit: int = 40) -> str:
    return label if len(label) <= limit else label[: limit - 3] + "..."
