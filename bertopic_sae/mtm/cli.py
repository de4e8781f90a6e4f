"""Command-line subcommands of the mechanistic topic models: ``features`` and ``mtm-fit``.

``features`` turns texts into SAE feature counts on disk (``features.npz`` + ``manifest.json``), in chunks
of documents that are each written atomically, so a rerun after an interruption does only the missing
chunks. ``fit --model mlda|metm|mbertopic`` (alias ``mtm-fit``) fits a model (reusing a ``features``
folder when given), saves it, writes its topic table and prints its topics as words and features.
:func:`register` adds both to the package's parser.

Usage:

```bash
python -m bertopic_sae features reuters --limit 500 --out feats/reuters
python -m bertopic_sae fit reuters --limit 500 --features feats/reuters --model mlda --n-topics 20 \
    --out models/reuters-mlda
```
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from .features import FeatureCounts, featurize, filter_features
from .lmsae import DEFAULT_LM_SAE

__all__ = [
    "register", "features_command", "fit_command", "add_fit_arguments", "load_feature_counts", "MODELS"
]

MODELS = ("mlda", "metm", "mbertopic")
DEFAULT_SAE = DEFAULT_LM_SAE
_COUNTS = "features.npz"
_MANIFEST = "manifest.json"


def _atomic_npz(path: Path, **arrays: Any) -> None:
    with tempfile.NamedTemporaryFile(
        dir=path.parent, prefix=f".{path.name}.", suffix=".npz", delete=False
    ) as f:
        np.savez(f, **arrays)
    os.replace(f.name, path)


def load_feature_counts(folder: str | os.PathLike) -> FeatureCounts:
    """Read the feature counts written by ``features``."""
    path = Path(folder) / _COUNTS
    if not path.exists():
        raise FileNotFoundError(f"{folder} has no {_COUNTS}; run `features` (to completion) first.")
    with np.load(path) as data:
        counts = sp.csr_matrix((data["data"], data["indices"], data["indptr"]), shape=tuple(data["shape"]))
        return FeatureCounts(
            counts,
            data["features"],
            data["n_sae"],
            data["n_tok"],
            None,
            "corpus" if str(data["threshold_source"]) == "corpus" else "sae-training-data",
            float(data["tokens_per_second"]),
        )


def features_command(args: argparse.Namespace) -> int:
    """Texts -> ``OUT/features.npz`` in resumable chunks."""
    from ..cli import read_texts
    from ..lm import load_causal_lm
    from .lmsae import load_lm_sae

    texts = read_texts(
        args.source, text_column=args.text_column, limit=args.limit, sample=args.sample, seed=args.sample_seed
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    bundle = load_lm_sae(args.sae)
    if bundle.stats is None and len(texts) > args.chunk_docs:
        raise ValueError(
            f"{args.sae} has no stored thresholds, so they come from the corpus and need one chunk: "
            f"pass --chunk-docs {len(texts)} or an SAE with feature_stats.npz."
        )
    settings = {
        "source": args.source,
        "n_docs": len(texts),
        "sae": str(args.sae),
        "max_tokens": args.max_tokens,
        "chunk_docs": args.chunk_docs,
        "first_text": texts[0][:200] if texts else "",
    }
    manifest = out / _MANIFEST
    if manifest.exists():
        old = json.loads(manifest.read_text())
        changed = [k for k, v in settings.items() if old.get(k) != v]
        if changed:
            raise ValueError(f"{out} holds features with another {', '.join(changed)}; use another --out.")
    manifest.write_text(json.dumps({**settings, "complete": False}, indent=2))
    lm = load_causal_lm(bundle.model, device=args.device, verbose=not args.quiet)
    d_sae = bundle.sae.d_sae
    blocks, n_tok, speeds = [], [], []
    for index, start in enumerate(range(0, len(texts), args.chunk_docs)):
        chunk = out / f"chunk-{index:05d}.npz"
        if not chunk.exists():
            fc = featurize(
                lm,
                bundle,
                texts[start : start + args.chunk_docs],
                max_tokens=args.max_tokens,
                batch_size=args.batch_size,
                max_firing_rate=1.0,
                max_doc_fraction=1.0,
                verbose=not args.quiet,
            )
            full = sp.csr_matrix((fc.counts.shape[0], d_sae), dtype=np.int32)
            full = (
                sp.csr_matrix(
                    sp.csc_matrix(fc.counts)
                    @ sp.csr_matrix(
                        (np.ones(len(fc.features)), (np.arange(len(fc.features)), fc.features)),
                        shape=(len(fc.features), d_sae),
                    ),
                    dtype=np.int32,
                )
                if len(fc.features)
                else full
            )
            _atomic_npz(
                chunk,
                data=full.data,
                indices=full.indices,
                indptr=full.indptr,
                n_tok=fc.n_tok,
                shape=np.array(full.shape),
                tokens_per_second=fc.tokens_per_second,
            )
        with np.load(chunk) as data:
            blocks.append(
                sp.csr_matrix((data["data"], data["indices"], data["indptr"]), shape=tuple(data["shape"]))
            )
            n_tok.append(data["n_tok"])
            speeds.append(float(data["tokens_per_second"]))
    counts = sp.vstack(blocks, format="csr")
    firing = bundle.stats.firing_rate if bundle.stats is not None else np.zeros(d_sae)
    keep = filter_features(
        counts, firing, max_firing_rate=args.max_firing_rate, max_doc_fraction=args.max_doc_fraction
    )
    kept = sp.csr_matrix(counts[:, keep])
    _atomic_npz(
        out / _COUNTS,
        data=kept.data,
        indices=kept.indices,
        indptr=kept.indptr,
        shape=np.array(kept.shape),
        features=keep,
        n_sae=np.asarray(kept.sum(1)).ravel(),
        n_tok=np.concatenate(n_tok),
        threshold_source=np.array("sae-training-data" if bundle.stats is not None else "corpus"),
        tokens_per_second=float(np.mean(speeds)),
    )
    manifest.write_text(json.dumps({**settings, "complete": True, "n_features": int(len(keep))}, indent=2))
    if not args.quiet:
        print(f"{len(texts)} documents x {len(keep)} features -> {out / _COUNTS}")
    return 0


def add_fit_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``fit --model mlda|metm|mbertopic`` that the package's ``fit`` lacks."""
    p.add_argument(
        "--features", default=None, help="mlda/metm/mbertopic: a `features` folder of exactly these texts"
    )
    p.add_argument(
        "--max-tokens", type=int, default=128, help="mlda/metm/mbertopic: tokens read per document"
    )


def _topic_table(model: Any) -> list[dict]:
    winners = np.bincount(model.doc_topic_.argmax(1), minlength=model.topic_feature_.shape[0])
    return [
        {
            "Topic": k,
            "Count": int(winners[k]),
            "Words": " ".join(w for w, _ in model.get_topic_words(k, 10)),
            "Features": " ".join(f"f{f}" for f, _ in model.get_topic_features(k, 10)),
            "Descriptions": "; ".join(model.describe_topic(k, 3)),
        }
        for k in range(model.topic_feature_.shape[0])
    ]


def fit_command(args: argparse.Namespace) -> int:
    """Fit mLDA / mETM / mBERTopic on texts, save it to ``OUT``, write its topic table and print it.

    Serves ``fit --model mlda|metm|mbertopic`` and its alias ``mtm-fit``.
    """
    import csv
    import io

    from .._io import atomic_write_text
    from ..cli import CLIError, read_texts
    from . import METM, MLDA, MBERTopic
    from .base import PARAMS_FILE

    texts = read_texts(
        args.source, text_column=args.text_column, limit=args.limit, sample=args.sample, seed=args.sample_seed
    )
    out = Path(args.out)
    if out.exists() and not (out / PARAMS_FILE).exists() and (not out.is_dir() or any(out.iterdir())):
        raise CLIError(f"{out} exists and is not a saved mechanistic topic model; pass a new --out folder.")
    sae = DEFAULT_SAE if args.sae in (None, "auto") else args.sae
    classes = {"mlda": MLDA, "metm": METM, "mbertopic": MBERTopic}
    model = classes[args.model](args.n_topics, sae=sae, max_tokens=args.max_tokens, random_state=args.seed,
                                verbose=not args.quiet)
    if getattr(args, "device", None):
        from ..lm import load_causal_lm

        model.lm = load_causal_lm(model.bundle_.model, device=args.device, verbose=not args.quiet)
        if isinstance(model, METM):
            model.device = args.device
    try:
        features = load_feature_counts(args.features) if args.features else None
        model.fit(texts, features=features)
    except (FileNotFoundError, ValueError) as err:
        raise CLIError(str(err)) from err
    model.save(out)
    table = _topic_table(model)
    csv_path = Path(args.topics_csv) if getattr(args, "topics_csv", None) else out / "topics.csv"
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(table[0]))
    writer.writeheader()
    writer.writerows(table)
    atomic_write_text(csv_path, buffer.getvalue())
    if not args.quiet:
        for row in table[: args.show]:
            print(f"{row['Topic']:3d} {row['Count']:5d}  {row['Words']}  | {row['Descriptions']}")
        print(f"saved to {out} (topic table: {csv_path})")
    return 0


def register(sub: Any, common: Callable[[argparse.ArgumentParser], None] | None = None) -> None:
    """Add ``features`` and ``mtm-fit`` to the package's subparsers (``common`` adds -q/--threads/--debug)."""

    def shared(p: argparse.ArgumentParser) -> None:
        p.add_argument("source", help="a corpus name (see `embed --help`) or a .txt / .jsonl / .csv file")
        p.add_argument("--text-column", default=None, help="field/column with the text in .jsonl/.csv")
        p.add_argument("--limit", type=int, default=None, help="keep only the first N documents")
        p.add_argument("--sample", type=int, default=None, help="keep a random subset of N documents")
        p.add_argument("--sample-seed", type=int, default=0, help="seed of --sample")
        p.add_argument(
            "--sae",
            default=DEFAULT_SAE,
            help="a shipped LM SAE name or an SAELens/sparsify folder (its metadata names LM and layer)",
        )
        p.add_argument(
            "--max-tokens", type=int, default=128, help="tokens read per document (the rest is cut)"
        )
        if common is not None:
            common(p)
        else:
            p.add_argument("-q", "--quiet", action="store_true", help="no progress bars or messages")

    p = sub.add_parser(
        "features",
        help="texts -> SAE feature counts of an LM (resumable)",
        description="Count, per document, the tokens on which each SAE feature of the LM fires "
        "above its threshold (Mechanistic Topic Models, eq. 5), in resumable chunks.",
    )
    shared(p)
    p.add_argument("--out", required=True, help="output folder (features.npz + manifest.json)")
    p.add_argument("--chunk-docs", type=int, default=1000, help="documents per resumable chunk")
    p.add_argument("--batch-size", type=int, default=32, help="documents per LM forward pass")
    p.add_argument("--device", default=None, help="cpu, cuda... (default: CUDA if available)")
    p.add_argument(
        "--max-firing-rate", type=float, default=0.01, help="drop features dense on the SAE's data"
    )
    p.add_argument(
        "--max-doc-fraction", type=float, default=0.9, help="drop features in more of the documents"
    )
    p.set_defaults(handler=features_command)

    p = sub.add_parser(
        "mtm-fit",
        help="alias of `fit --model mlda|metm|mbertopic`",
        description="Fit a mechanistic topic model, save it, write its topic table and print its topics "
        "(the same as `fit --model mlda|metm|mbertopic`, with mtm defaults).",
    )
    shared(p)
    p.add_argument("--model", choices=MODELS, required=True, help="which mechanistic topic model")
    p.add_argument("--features", default=None, help="a folder from `features` for exactly these texts")
    p.add_argument("--n-topics", type=int, default=20, help="number of topics")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--out", required=True, help="folder for the saved model")
    p.add_argument("--topics-csv", default=None, help="topic table path (default: OUT/topics.csv)")
    p.add_argument("--show", type=int, default=20, help="topics to print")
    p.set_defaults(handler=fit_command)
