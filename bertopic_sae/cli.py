"""Command line: ``bertopic-sae embed | pretrain | fit`` (also ``python -m bertopic_sae``).

The three stages of working at scale, each restartable:

* ``embed``: texts (a bundled corpus name, or a .txt / .jsonl / .csv file) → ``.npy`` shards plus a
  ``manifest.json``. Finished shards are skipped when the command is run again after a kill.
* ``pretrain``: embedding shards (one or more manifest folders, or ``.npy`` files) → an SAE in SAELens
  layout. The shards are memory-mapped and read chunk by chunk, so memory stays bounded; checkpoints are
  written every ``--checkpoint-every`` steps and a rerun resumes from the last one. Runs under
  ``torchrun --nproc_per_node=N`` (gloo on CPU, NCCL on GPUs); ``--batch-size`` is the global batch.
* ``fit``: texts (and optionally their embeddings) + an SAE → a saved ``bertopic_sae.BERTopic`` model
  (safetensors) and a topic table (CSV). ``--model`` picks the topic model (``sae-tm``, the default, or
  the mechanistic ``mlda`` / ``metm`` / ``mbertopic`` over an LM's SAE features, :mod:`bertopic_sae.mtm`).

Each command group is added by a ``register_*(subparsers)`` function listed in :data:`COMMANDS`, and each
``fit --model`` choice by :func:`register_fit_model`, so another topic model adds its own commands and
``fit`` choice without editing the parser.

(Over 400 lines: the parser and the three commands; the work itself lives in ``data.py``, ``sae/`` and
``components/``.)

Exit codes: 0 success, 2 usage error (argparse), 1 runtime error (one line on stderr; ``--debug``
shows the traceback).

Usage:

```bash
bertopic-sae embed trump_tweets --out emb/trump --dtype float16
bertopic-sae embed my_docs.jsonl --text-column body --out emb/mine
bertopic-sae pretrain emb/trump emb/mine --out my-sae --d-sae 1536 --l1 0.25 --steps 3000
torchrun --nproc_per_node=2 -m bertopic_sae pretrain emb/trump --out my-sae --batch-size 2000
bertopic-sae fit my_docs.jsonl --text-column body --embeddings emb/mine --sae my-sae --n-topics 50 \
    --out model --model sae-tm
```
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ._io import atomic_write_text
from .data import DataError, ShardedEmbeddings, embed_to_shards, load_embedding_model, read_texts
from .sae.resolve import DEFAULT_MODEL, canonical_model_name, hub_model_name

__all__ = [
    "main", "build_parser", "CLIError", "COMMANDS", "FIT_MODELS", "FIT_ARGUMENTS", "register_fit_model"
]


class CLIError(Exception):
    """A runtime problem reported as one line (exit code 1), without a traceback unless ``--debug``."""



# ---------------------------------------------------------------------------------------------- commands
def _log(args, message: str) -> None:
    if not getattr(args, "quiet", False) and int(os.environ.get("RANK", "0")) == 0:
        print(message, file=sys.stderr, flush=True)


def cmd_embed(args: argparse.Namespace) -> int:
    texts = read_texts(args.source, text_column=args.text_column, limit=args.limit, sample=args.sample,
                       seed=args.sample_seed)
    _log(
        args,
        f"embedding {len(texts):,} documents from {args.source} with {args.embedding_model} into {args.out}",
    )
    started = time.perf_counter()
    manifest = embed_to_shards(
        texts,
        args.out,
        model_name=args.embedding_model,
        dtype=args.dtype,
        precision=args.precision,
        shard_size=args.shard_size,
        batch_size=args.batch_size,
        device=args.device,
        overwrite=args.overwrite,
        verbose=not args.quiet,
        source=args.source
        if args.source.count("/") == 0 and not Path(args.source).exists()
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

    from .sae.config import SAEConfig, TrainConfig
    from .sae.train import STATE_FILE, pick_device, train_sae

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
            raise CLIError(
                f"--batch-size {args.batch_size} is the global batch; it must divide by the "
                f"{world} processes."
            )
        if args.overwrite and rank == 0:
            shutil.rmtree(checkpoint_dir, ignore_errors=True)
        if world > 1:
            torch.distributed.barrier()
        resuming = (checkpoint_dir / STATE_FILE).exists()
        if (out / "sae_weights.safetensors").exists() and not resuming and not args.overwrite:
            raise CLIError(f"{out} already holds a trained SAE; pass --overwrite to train again.")
        sae_config = SAEConfig(
            d_in=X.shape[1],
            d_sae=args.d_sae,
            expansion_factor=args.expansion_factor,
            architecture=args.architecture,
            l1_coefficient=args.l1,
            k=args.k,
        )
        train_config = TrainConfig(
            batch_size=args.batch_size // world,
            steps=args.steps,
            lr=args.lr,
            seed=args.seed,
            device=device,
            precision=args.precision,
            checkpoint_dir=str(checkpoint_dir),
            checkpoint_every=args.checkpoint_every,
            resume=True,
            verbose=not args.quiet,
        )
        # What the checkpoint's weights depend on; a resume with other values would silently mix two runs.
        run = {
            "embeddings": [str(Path(p).resolve()) for p in args.embeddings],
            "rows": X.shape[0],
            **{
                key: getattr(args, key)
                for key in (
                    "architecture",
                    "d_sae",
                    "expansion_factor",
                    "l1",
                    "k",
                    "steps",
                    "batch_size",
                    "lr",
                    "seed",
                    "b_enc_init",
                )
            },
        }
        run_file = checkpoint_dir / "run.json"
        resumed_from = 0
        if resuming:
            old = json.loads(run_file.read_text()) if run_file.exists() else run
            changed = [f"--{key.replace('_', '-')} {old.get(key)}" for key in run if old.get(key) != run[key]]
            if changed:
                raise CLIError(
                    f"The checkpoint in {checkpoint_dir} was made with {', '.join(changed)}; rerun with "
                    "the same options to resume, or pass --overwrite to start over."
                )
            state = torch.load(checkpoint_dir / STATE_FILE, map_location="cpu", weights_only=True)
            resumed_from = int(state["step"])
            _log(args, f"resuming from the checkpoint at step {resumed_from} in {checkpoint_dir}")
        elif rank == 0:
            atomic_write_text(run_file, json.dumps(run, indent=2))
        _log(
            args,
            f"training a {sae_config.architecture} SAE {sae_config.d_in}->{sae_config.d_sae} on "
            f"{X.shape[0]:,} embeddings, {args.steps} steps of {args.batch_size}"
            f"{f' ({world} processes)' if world > 1 else ''} on {pick_device(device)}",
        )
        from .sae.model import SparseAutoencoder

        sae = SparseAutoencoder(sae_config, seed=args.seed)
        if args.b_enc_init == "zeros":
            # With unit-norm embeddings the 0.1-norm initial encoder gives pre-activations of ~0.005, so the
            # default U(±1/sqrt(d_in)) bias silences ~30% of atoms for good (no gradient through ReLU).
            with torch.no_grad():
                sae.b_enc.zero_()
        result = train_sae(X, train_config=train_config, sae=sae)
        if rank == 0:
            sae = result.sae
            sae.metadata.update(
                {
                    "embedding_model": X.model,
                    "train_embeddings": X.shape[0],
                    "train_sources": X.sources,
                    "train_world_size": world,
                }
            )
            sae.save_pretrained(out, overwrite=args.overwrite)
            if not args.keep_checkpoint:
                shutil.rmtree(checkpoint_dir, ignore_errors=True)
            _log(
                args,
                f"saved {out}: L0 {result.l0:.1f}, FVU {result.fvu:.3f}, dead atoms {result.dead}, "
                f"{result.seconds:.0f} s ({result.examples_per_second:,.0f} embeddings/s)",
            )
            summary = {
                "out": str(out),
                "steps": result.steps,
                "l0": result.l0,
                "fvu": result.fvu,
                "dead": result.dead,
                "seconds": result.seconds,
                "resumed_from": resumed_from,
            }
            print(json.dumps(summary))
    finally:
        if world > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
    return 0


def _resolve_sae(spec: str, dim: int, model_name: str):
    """``--sae`` → (an SAE or "train", a name for messages), as CLI errors."""
    from .sae.resolve import resolve_sae_spec

    try:
        return resolve_sae_spec(spec, dim, model_name)
    except (FileNotFoundError, ValueError) as err:
        raise CLIError(str(err)) from err


def cmd_fit(args: argparse.Namespace) -> int:
    """``fit``: dispatch on ``--model`` to the registered topic model."""
    return FIT_MODELS[args.model][0](args)


def _check_texts_hash(reader: ShardedEmbeddings, texts: list[str]) -> None:
    """Refuse --embeddings whose manifest records other texts than these (same count, other documents)."""
    from .data import _texts_hash

    start = 0
    for source in reader.sources:
        rows = source.get("rows")
        if rows is None:  # a loose .npy file records no texts to check
            rows = np.load(source["path"], mmap_mode="r").shape[0]
        recorded = source.get("source_hash")
        if recorded and _texts_hash(texts[start : start + int(rows)]) != recorded:
            raise CLIError(
                f"--embeddings {source['path']} were made from other texts than these {len(texts):,} "
                "documents "
                "(its manifest records another text hash); embed these documents: bertopic-sae embed SOURCE "
                "--out FOLDER with the same --limit, --sample and --text-column."
            )
        start += int(rows)


def fit_sae_tm(args: argparse.Namespace) -> int:
    """``fit --model sae-tm``: bertopic_sae.BERTopic with SAEAtomMerger; saves the model and topic table."""
    from ._io import check_target
    from .data import embed

    texts = read_texts(
        args.source, text_column=args.text_column, limit=args.limit, sample=args.sample, seed=args.sample_seed
    )
    out = Path(args.out)
    check_target(out, kind="bertopic-sae model", overwrite=args.overwrite)  # refuse before any work is done
    model = load_embedding_model(args.embedding_model, device=args.device)
    if args.embeddings:
        try:
            reader = ShardedEmbeddings(*args.embeddings)
        except (FileNotFoundError, ValueError) as err:
            raise CLIError(str(err)) from err
        if reader.shape[0] != len(texts):
            raise CLIError(
                f"--embeddings hold {reader.shape[0]:,} rows but there are {len(texts):,} documents; "
                "embed the same documents (same --limit and --text-column)."
            )
        if reader.model and reader.model != canonical_model_name(args.embedding_model):
            raise CLIError(
                f"--embeddings come from {reader.model}, but --embedding-model is {args.embedding_model}; "
                "pass --embedding-model "
                f"{reader.model} (its word vectors and the SAE must match the embeddings)."
            )
        _check_texts_hash(reader, texts)
        if args.sharded or int(os.environ.get("WORLD_SIZE", "1")) > 1:
            return _fit_sharded(args, texts, reader, model, out)
        embeddings = reader[0 : reader.shape[0]]
    elif args.sharded:
        raise CLIError("--sharded reads embedding shards: pass --embeddings FOLDER (from `embed`).")
    else:
        _log(args, f"embedding {len(texts):,} documents with {args.embedding_model} (cached on disk)")
        embeddings = embed(texts, model, show_progress_bar=not args.quiet)
    sae, sae_name = _resolve_sae(args.sae, embeddings.shape[1], args.embedding_model)
    if not isinstance(sae, str) and sae.d_in != embeddings.shape[1]:
        raise CLIError(
            f"The SAE {sae_name} expects {sae.d_in}-d embeddings, these are {embeddings.shape[1]}-d; "
            "use the embedding model the SAE was trained on."
        )

    from . import BERTopic, SAEAtomMerger

    _log(args, f"fitting {args.n_topics} topics on {len(texts):,} documents with SAE {sae_name}")
    started = time.perf_counter()
    topic_model = BERTopic(
        clustering_model=SAEAtomMerger(n_topics=args.n_topics, sae=sae, random_state=args.seed),
        embedding_model=model,
        verbose=not args.quiet,
    )
    topic_model.fit_transform(texts, embeddings=embeddings)
    return _save_fit(args, topic_model, out, time.perf_counter() - started)


def _fit_sharded(args: argparse.Namespace, texts: list[str], reader: ShardedEmbeddings, model,
                 out: Path) -> int:
    """``fit --sharded`` (and any fit under torchrun): the data-parallel fit on the shards; rank 0 saves."""
    import torch

    from .components.sharded import fit_on_shards
    from .tm.distributed import Reducer, TorchReducer

    sae, sae_name = _resolve_sae(args.sae, reader.shape[1], args.embedding_model)
    if isinstance(sae, str):
        raise CLIError(
            f"--sharded needs a trained SAE, and there is no shipped one for {args.embedding_model}; train "
            "one with `bertopic-sae pretrain` and pass --sae FOLDER."
        )
    rank, world = _init_distributed(args.device)
    try:
        _log(args, f"fitting {args.n_topics} topics on {len(texts):,} documents with SAE {sae_name}, sharded"
                   f" over {world} process{'es' if world > 1 else ''}")
        started = time.perf_counter()
        topic_model = fit_on_shards(texts, reader, sae, n_topics=args.n_topics, embedding_model=model,
                                    reducer=TorchReducer() if world > 1 else Reducer(),
                                    random_state=args.seed, verbose=not args.quiet and rank == 0)
        seconds = time.perf_counter() - started
    finally:
        if world > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
    if topic_model is None:
        return 0
    _log(args, "step seconds: " + json.dumps(topic_model.fit_seconds_))
    _log(args, "peak memory MB after each step: " + json.dumps(topic_model.fit_peak_mb_))
    return _save_fit(args, topic_model, out, seconds)


def _save_fit(args: argparse.Namespace, topic_model, out: Path, seconds: float) -> int:
    """Save a fitted model and its topic table (``fit``'s last step)."""
    from ._io import register

    topic_model.save(
        str(out),
        serialization="safetensors",
        save_embedding_model=hub_model_name(args.embedding_model),
        overwrite=args.overwrite,
    )
    info = topic_model.get_topic_info()
    columns = [c for c in ("Topic", "Count", "Name", "Representation") if c in info.columns]
    table = info[columns].copy()
    if "Representation" in table:
        table["Representation"] = table["Representation"].map(lambda words: " ".join(map(str, words[:10])))
    csv_path = Path(args.topics_csv) if args.topics_csv else out / "topics.csv"
    buffer = io.StringIO()
    table.to_csv(buffer, index=False, quoting=csv.QUOTE_MINIMAL)
    atomic_write_text(csv_path, buffer.getvalue())
    if csv_path.parent.resolve() == out.resolve():
        register(out, csv_path.name)  # the table is ours too: a later fit into the same folder may replace it
    if not args.quiet:
        import pandas as pd

        with pd.option_context("display.max_colwidth", 90, "display.width", 200):
            print(table.head(args.show).to_string(index=False))
    _log(args, f"fit in {seconds:.1f} s; saved the model to {out} and the topic table to {csv_path}")
    return 0


# ---------------------------------------------------------------------------------------------- parser
class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows ``(default: ...)`` only where there is a default worth reading."""

    def _get_help_string(self, action):
        if (
            action.default is None
            or action.default is False
            or action.default == argparse.SUPPRESS
            or "default:" in (action.help or "")
        ):
            return action.help
        return super()._get_help_string(action)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars or messages")
    p.add_argument(
        "--threads",
        type=_positive_int,
        default=None,
        help="CPU threads for torch (default: torch's choice). On a busy shared machine 1 can be "
        "many times faster than 2, because idle OpenMP threads spin-wait",
    )
    p.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show the full traceback on errors"
    )


def _text_source(p: argparse.ArgumentParser, *, model_alias: bool = False) -> None:
    p.add_argument(
        "source",
        help="a corpus name (20newsgroups, bbc_news, m10, reuters, health_news_tweets, "
        "trump_tweets, imdb, lee) or a .txt (one document per line), .jsonl or "
        ".csv file (optionally .gz/.xz)",
    )
    p.add_argument(
        "--text-column", default=None, help="field/column holding the text in .jsonl/.csv (default: text)"
    )
    p.add_argument("--limit", type=_positive_int, default=None, help="keep only the first N documents")
    p.add_argument(
        "--sample",
        type=_positive_int,
        default=None,
        help="keep a random subset of N documents (after --limit), in their original order",
    )
    p.add_argument("--sample-seed", type=int, default=0, help="seed of --sample")
    names = ("--embedding-model", "--model") if model_alias else ("--embedding-model",)
    p.add_argument(
        *names, dest="embedding_model", default=DEFAULT_MODEL,
        help="sentence-transformers embedding model, or 'wordllama' (static WordLlama token vectors, "
        "~50x faster on a CPU)",
    )
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1... (default: CUDA if available)")


def register_embed(sub) -> None:
    """Add the ``embed`` command."""
    p = sub.add_parser(
        "embed",
        formatter_class=_HelpFormatter,
        help="texts -> embedding shards + manifest.json (resumable)",
        description="Embed texts into .npy shards and a manifest.json. Rerunning the same "
        "command after an interruption embeds only the missing shards.",
    )
    _text_source(p, model_alias=True)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument(
        "--dtype",
        choices=("float16", "float32"),
        default="float16",
        help="storage type of the shards (float16 halves the disk and is plenty for an SAE)",
    )
    p.add_argument(
        "--precision",
        choices=("float32", "bfloat16"),
        default="float32",
        help="compute precision of the encoder (bfloat16: several times faster on CPUs with AVX-512 BF16; "
        "for SAE pretraining data)",
    )
    p.add_argument("--shard-size", type=_positive_int, default=10_000, help="documents per shard")
    p.add_argument(
        "--batch-size",
        type=_positive_int,
        default=32,
        help="documents per encoder batch (32, as `fit` embeds: padding changes the last bits)",
    )
    p.add_argument("--overwrite", action="store_true", help="discard embeddings already in --out")
    _common(p)
    p.set_defaults(handler=cmd_embed)


def register_pretrain(sub) -> None:
    """Add the ``pretrain`` command."""
    p = sub.add_parser(
        "pretrain",
        formatter_class=_HelpFormatter,
        help="embedding shards -> SAE checkpoint (resumable)",
        description="Train a sparse autoencoder on embeddings, streaming memory-mapped shards. "
        "A rerun resumes from the last checkpoint. Under `torchrun --nproc_per_node=N "
        "-m bertopic_sae pretrain ...` the N processes share each global batch.",
    )
    p.add_argument(
        "embeddings", nargs="+", help="folders written by `embed` (with manifest.json) or .npy files"
    )
    p.add_argument(
        "--out", required=True, help="folder for the SAE (SAELens layout: cfg.json + sae_weights.safetensors)"
    )
    p.add_argument(
        "--architecture",
        choices=("relu-l1", "topk", "batchtopk", "matryoshka-batchtopk"),
        default="relu-l1",
        help="relu-l1 is the SAE-TM paper's SAE",
    )
    p.add_argument("--d-sae", type=int, default=0, help="number of atoms (0 = expansion factor x input dim)")
    p.add_argument(
        "--expansion-factor", type=_positive_int, default=4, help="atoms per input dim if --d-sae 0"
    )
    p.add_argument(
        "--l1",
        type=_non_negative_float,
        default=0.25,
        help="L1 weight λ for relu-l1 (unit-norm MiniLM: 0.2-0.3 gives L0 ≈ 20-30)",
    )
    p.add_argument("--k", type=_positive_int, default=32,
                   help="active atoms per document for topk/batchtopk/matryoshka-batchtopk")
    p.add_argument(
        "--b-enc-init",
        choices=("zeros", "uniform"),
        default="zeros",
        help="initial encoder bias: zeros (no dead atoms at the start), or uniform ±1/sqrt(d_in) as "
        "the paper's code and train_sae(), which leaves ~30%% of atoms dead on unit-norm embeddings",
    )
    p.add_argument("--steps", type=_positive_int, default=3000, help="optimisation steps")
    p.add_argument(
        "--batch-size",
        type=_positive_int,
        default=1000,
        help="global batch (split across torchrun processes)",
    )
    p.add_argument("--lr", type=_positive_float, default=1e-3, help="Adam learning rate")
    p.add_argument("--seed", type=int, default=0, help="seed of the initialisation and the batch order")
    p.add_argument("--device", default=None, help="cpu, cuda... (default: CUDA if available)")
    p.add_argument(
        "--precision",
        choices=("auto", "float32", "bfloat16"),
        default="auto",
        help="matmul precision (auto: bfloat16 on CUDA, float32 on CPU; bfloat16 is 2-3x faster on CPUs "
        "with AVX-512 BF16)",
    )
    p.add_argument("--checkpoint-every", type=_positive_int, default=500, help="steps between checkpoints")
    p.add_argument("--checkpoint-dir", default=None, help="checkpoint folder (default: OUT/checkpoint)")
    p.add_argument("--keep-checkpoint", action="store_true", help="keep the checkpoint folder after training")
    p.add_argument(
        "--overwrite", action="store_true", help="ignore existing checkpoints and outputs; start over"
    )
    _common(p)
    p.set_defaults(handler=cmd_pretrain)


FIT_MODELS: dict[str, tuple[Callable[[argparse.Namespace], int], str]] = {}
"""``fit --model`` choices: name -> (handler, one-line help)."""
FIT_ARGUMENTS: list[Callable[[argparse.ArgumentParser], None]] = []
"""Functions adding model-specific options to ``fit`` (each called once, however many models share it)."""


def register_fit_model(
    name: str,
    handler: Callable[[argparse.Namespace], int],
    help: str,
    arguments: Callable[[argparse.ArgumentParser], None] | None = None,
) -> None:
    """Add a ``fit --model NAME`` choice; ``handler(args)`` runs the fit and returns the exit code;
    ``arguments(parser)``, if given, adds the options only this model reads."""
    FIT_MODELS[name] = (handler, help)
    if arguments is not None and arguments not in FIT_ARGUMENTS:
        FIT_ARGUMENTS.append(arguments)


def _fit_mtm(args: argparse.Namespace) -> int:
    from .mtm.cli import fit_command

    return fit_command(args)


def _mtm_fit_arguments(p: argparse.ArgumentParser) -> None:
    from .mtm.cli import add_fit_arguments

    add_fit_arguments(p)


register_fit_model("sae-tm", fit_sae_tm, "SAE topic model: bertopic_sae.BERTopic with SAEAtomMerger")
for _name, _help in (
    ("mlda", "mechanistic LDA over an LM's SAE feature counts"),
    ("metm", "mechanistic ETM: topics are points in the LM's activation space"),
    ("mbertopic", "mechanistic BERTopic: BERTopic on SAE-feature document embeddings"),
):
    register_fit_model(_name, _fit_mtm, _help, _mtm_fit_arguments)


def register_fit(sub) -> None:
    """Add the ``fit`` command (one ``--model`` choice per registered topic model)."""
    p = sub.add_parser(
        "fit",
        formatter_class=_HelpFormatter,
        help="texts + SAE -> saved topic model + topic table",
        description="Fit a topic model on texts, save it and write the topic table as CSV. "
        "Models: " + "; ".join(f"{k}: {v[1]}" for k, v in FIT_MODELS.items()) + ".",
    )
    _text_source(p)
    p.add_argument("--model", choices=sorted(FIT_MODELS), default="sae-tm", help="topic model to fit")
    p.add_argument(
        "--embeddings",
        nargs="+",
        default=None,
        help="embeddings of exactly these texts (folders from `embed` or .npy); default: embed now "
        "(cached on disk)",
    )
    p.add_argument(
        "--sae",
        default="auto",
        help="an SAE folder, a shipped SAE name (minilm-l6-v2), 'train' (train one on these documents) "
        "or 'auto' (the shipped SAE for --embedding-model if there is one, else train); for mlda/metm/"
        "mbertopic an LM SAE name or folder ('auto': smollm2-135m-instruct-L15)",
    )
    p.add_argument("--n-topics", type=_positive_int, default=50, help="number of topics")
    p.add_argument("--seed", type=int, default=42, help="seed of the atom merge (k-means)")
    p.add_argument("--out", required=True, help="folder for the saved BERTopic model")
    p.add_argument(
        "--sharded",
        action="store_true",
        help="with --embeddings: the data-parallel fit that reads the shards block by block (bounded memory; "
        "implied under torchrun, where each process reads only its own shards)",
    )
    p.add_argument("--topics-csv", default=None, help="topic table path (default: OUT/topics.csv)")
    p.add_argument("--show", type=int, default=20, help="topic rows to print")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an --out folder that holds files not written by bertopic-sae",
    )
    for arguments in FIT_ARGUMENTS:
        arguments(p)
    _common(p)
    p.set_defaults(handler=cmd_fit)


def register_mtm(sub) -> None:
    """Add ``features`` and ``mtm-fit`` (Mechanistic Topic Models, :mod:`bertopic_sae.mtm`; ``mtm-fit`` is an
    alias of ``fit --model mlda|metm|mbertopic``)."""
    from .mtm.cli import register

    register(sub, _common)


def register_judge(sub) -> None:
    """Add ``judge`` (LLM intruder / coherence metrics, :mod:`bertopic_sae.judges`)."""
    from .judges.cli import register

    register(sub)


COMMANDS: list[Callable] = [register_embed, register_pretrain, register_fit, register_mtm, register_judge]
"""Functions that add a command group to the parser's subparsers; append one to add commands."""


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of ``bertopic-sae`` (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="bertopic-sae",
        description="Topic modeling with sparse autoencoders: embed texts, pretrain an SAE, fit topics.",
        epilog="Run `bertopic-sae COMMAND --help` for the options of each command.",
    )
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in COMMANDS:
        register(sub)
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


def _check_device(device: str | None) -> None:
    if device is None or not device.startswith("cuda"):
        return
    import torch

    if not torch.cuda.is_available():
        raise CLIError(f"--device {device}: no CUDA GPU is available here (torch {torch.__version__}); "
                       "pass --device cpu, or leave --device out to pick one.")


def _silence_libraries() -> None:
    """-q: no progress bars from the libraries either (transformers' "Loading weights", Hub downloads)."""
    import logging

    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    os.environ["TRANSFORMERS_VERBOSITY"] = "error"
    try:
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
        transformers_logging.set_verbosity_error()
    except ImportError:  # pragma: no cover - transformers comes with sentence-transformers
        pass
    for name in ("sentence_transformers", "BERTopic", "bertopic_sae"):
        logging.getLogger(name).setLevel(logging.ERROR)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``bertopic-sae``; returns the exit code (0 ok, 1 runtime error, 2 usage error)."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "threads", None):
        import torch

        torch.set_num_threads(args.threads)
    if getattr(args, "quiet", False):
        _silence_libraries()
    try:
        _check_device(getattr(args, "device", None))
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("bertopic-sae: interrupted; rerun the same command to resume.", file=sys.stderr)
        return 130
    except Exception as err:  # one line for users, the traceback with --debug
        if getattr(args, "debug", False):
            raise
        message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        message = message.replace("overwrite=True", "--overwrite")  # the option's name on the command line
        kind = "" if isinstance(err, (CLIError, DataError)) else f"{type(err).__name__}: "
        print(
            f"bertopic-sae {args.command}: error: {kind}{message} (--debug shows the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
