"""Package a pretrained SAE: measure it, store it in float16 and write its model card.

Reads an SAE written by ``bertopic-sae pretrain`` and the embedding folders it was trained on, measures
L0, FVU and dead atoms on the training embeddings and on held-out benchmark corpora (embeddings from the
``bertopic_sae.data.embed`` cache; these corpora were never trained on), then writes
``cfg.json`` + ``sae_weights.safetensors`` (float16, ~half the bytes; loaded back as float32) + ``README.md``
into the target folder, each file atomically.

Usage:

```bash
python benchmarks/build_pretrained.py --sae /work/emb/sae-minilm --embeddings /work/emb/*-s0 \
    --target bertopic_sae/sae/pretrained/minilm-l6-v2 --command "bertopic-sae pretrain ..." --train-seconds 1500
```
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bertopic_sae import SparseAutoencoder  # noqa: E402
from bertopic_sae._io import publish as _publish  # noqa: E402
from bertopic_sae.data import ShardedEmbeddings  # noqa: E402


@torch.no_grad()
def measure(sae: SparseAutoencoder, X, batch: int = 8192) -> dict:
    """L0, FVU, silent documents and atom usage of ``sae`` on the rows of ``X`` (streamed)."""
    n = X.shape[0]
    fired = torch.zeros(sae.d_sae, dtype=torch.long)
    sq_err = total_l0 = silent = 0.0
    sums = np.zeros(X.shape[1])
    sq = 0.0
    for start in range(0, n, batch):
        x = torch.from_numpy(np.asarray(X[start : start + batch], dtype=np.float32))
        acts = sae.encode(x).acts
        recon = sae.decode(acts)
        active = acts > 0
        fired += active.sum(0)
        total_l0 += float(active.sum())
        silent += float((active.sum(1) == 0).sum())
        sq_err += float((x - recon).pow(2).sum())
        sums += x.sum(0).double().numpy()
        sq += float(x.double().pow(2).sum())
    variance = sq - float((sums**2).sum()) / n  # sum ||x - mean||^2
    return {
        "docs": n,
        "l0": round(total_l0 / n, 2),
        "fvu": round(sq_err / variance, 4),
        "silent_docs": int(silent),
        "dead_atoms": int((fired == 0).sum()),
        "atoms_used_by_1pct_docs": int((fired >= 0.01 * n).sum()),
    }


@torch.no_grad()
def atoms_fired(sae: SparseAutoencoder, X, batch: int = 8192) -> torch.Tensor:
    """How many rows of ``X`` each atom fires on."""
    fired = torch.zeros(sae.d_sae, dtype=torch.long)
    for start in range(0, X.shape[0], batch):
        fired += (sae.encode(torch.from_numpy(np.asarray(X[start : start + batch], dtype=np.float32))).acts
                  > 0).sum(0)
    return fired


def select_atoms(sae: SparseAutoencoder, keep: torch.Tensor, why: str) -> SparseAutoencoder:
    """A copy of ``sae`` with only the atoms ``keep`` (a boolean mask), in their order. Inference codes of
    the kept atoms do not change (each atom's threshold is its own); a Matryoshka SAE's nested prefixes
    shrink by the atoms left out inside each. ``why`` is recorded in the metadata."""
    import dataclasses

    index = torch.nonzero(keep).squeeze(1)
    prefixes = sae.cfg.prefixes
    if prefixes:
        kept = np.cumsum(keep.numpy())
        prefixes = tuple(sorted({int(kept[size - 1]) for size in prefixes} - {0}))
    small = SparseAutoencoder(dataclasses.replace(sae.cfg, d_sae=len(index), prefixes=prefixes))
    for name, tensor in sae.state_tensors().items():
        part = tensor if name == "b_dec" else tensor[:, index] if name == "W_enc" else tensor[index]
        getattr(small, name).data.copy_(part)
    small.metadata.update(sae.metadata)
    small.metadata.setdefault("atoms_left_out", []).append({"why": why, "atoms": int(sae.d_sae - len(index))})
    return small


def _atomic_text(path: Path, text: str) -> None:
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", delete=False) as handle:
        handle.write(text)
    _publish(handle.name, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sae", required=True, help="SAE folder from `bertopic-sae pretrain`")
    parser.add_argument(
        "--embeddings", nargs="+", required=True, help="the embedding folders it was trained on"
    )
    parser.add_argument("--target", type=Path, required=True)
    parser.add_argument("--command", required=True, help="the pretrain command, for the model card")
    parser.add_argument("--embed-command", default="", help="the embed commands, for the model card")
    parser.add_argument("--train-seconds", type=float, default=None)
    parser.add_argument("--embed-seconds", type=float, default=None)
    parser.add_argument("--heldout", nargs="*", default=["bbc_news", "20newsgroups"])
    parser.add_argument("--name", default="minilm-l6-v2", help="the shipped SAE's registry name")
    parser.add_argument("--embedding-model", default="sentence-transformers/all-MiniLM-L6-v2",
                        help="the embedding model's recorded name")
    parser.add_argument("--card-note", default="", help="extra table rows for the model card (markdown)")
    parser.add_argument("--mix-note", default="the embedding budget was ~25 min on 2 shared CPU cores",
                        help="why the training mix is this size, for the model card")
    parser.add_argument("--data-note", default=(
        "(The two IMDB samples share 70 reviews, which are therefore seen twice as often. Shard sizes do not "
        "change\nthe embeddings.)\n\nThe mix is small (the embedding budget was ~25 min on 2 shared CPU cores) "
        "and dominated by short texts\n(tweets about health news and by Donald Trump), with some 1987 Reuters "
        "newswire and IMDB movie reviews.\nExpect it to know news, politics, health, business and film well, "
        "and specialised domains (code, science,\nreligion debates) less well; for those, train an SAE on your "
        "own corpus (`sae=\"train\"`)."), help="what the training mix is, for the model card (markdown)")
    parser.add_argument("--embedding-note", default="384-d, L2-normalised, max 256 tokens",
                        help="one line on the embeddings, for the model card")
    parser.add_argument("--drop-dead", action="store_true",
                        help="leave out the atoms that never fire on the training embeddings")
    parser.add_argument("--keep-prefix", type=int, default=0,
                        help="Matryoshka SAE: keep only its first N atoms (N one of its nested sizes)")
    args = parser.parse_args()

    from safetensors.torch import load_file, save_file

    from bertopic_sae.sae.checkpoint import CFG_FILE, WEIGHTS_FILE

    sae = SparseAutoencoder.from_pretrained(args.sae)
    train = ShardedEmbeddings(*args.embeddings)
    trained_atoms = sae.d_sae
    if args.keep_prefix:
        if not sae.cfg.prefixes:
            raise SystemExit(f"--keep-prefix is for Matryoshka SAEs; {args.sae} is {sae.cfg.architecture}.")
        if args.keep_prefix not in sae.cfg.prefixes:
            raise SystemExit(f"--keep-prefix must be one of the nested sizes {list(sae.cfg.prefixes)}")
        sae = select_atoms(sae, torch.arange(sae.d_sae) < args.keep_prefix, "beyond the nested prefix kept")
    if args.drop_dead:
        sae = select_atoms(sae, atoms_fired(sae, train) > 0, "never fired on the training embeddings")
    if sae.d_sae != trained_atoms:
        print(f"kept {sae.d_sae} of {trained_atoms} atoms: {sae.metadata['atoms_left_out']}", flush=True)
    stats = {"train": measure(sae, train)}

    # float16 storage: check what the rounding does to the codes before shipping it.
    half = {k: v.half() for k, v in sae.state_tensors().items()}
    sae16 = SparseAutoencoder(sae.cfg)
    with torch.no_grad():
        for name, tensor in half.items():
            getattr(sae16, name).copy_(tensor.float())
    sample = torch.from_numpy(train[0 : min(5000, train.shape[0])])
    with torch.no_grad():
        a32, a16 = sae.encode(sample).acts, sae16.encode(sample).acts
    stats["float16_check"] = {
        "max_abs_code_diff": float((a32 - a16).abs().max()),
        "support_changed_share": float(((a32 > 0) != (a16 > 0)).float().mean()),
        "l0_fp32": float((a32 > 0).sum(1).float().mean()),
        "l0_fp16": float((a16 > 0).sum(1).float().mean()),
    }

    from bertopic_sae.data import cache_dir, load_corpus

    for name in args.heldout:  # only from the embedding cache: never spend an hour embedding here
        texts = load_corpus(name).texts
        try:
            import hashlib

            digest = hashlib.sha1()
            for text in texts:
                digest.update(text.encode("utf-8", "replace"))
                digest.update(b"\0")
            # The cache names files by the model (older sentence-transformers caches: "SentenceTransformer").
            stems = [Path(args.embedding_model).name]
            stems += ["SentenceTransformer"] if "sentence-transformers" in args.embedding_model else []
            hits = [p for stem in stems
                    for p in cache_dir().glob(f"{stem}-{len(texts)}-{digest.hexdigest()[:16]}.npy")]
            if not hits:
                print(f"{name}: embeddings not cached, skipped", flush=True)
                continue
            stats[f"heldout_{name}"] = measure(sae, np.load(hits[0]))
        except Exception as err:  # a held-out check must not block packaging
            print(f"{name}: {err}", flush=True)
    print(json.dumps(stats, indent=2), flush=True)

    target = args.target
    target.mkdir(parents=True, exist_ok=True)
    cfg = json.loads((Path(args.sae) / CFG_FILE).read_text())
    if sae.d_sae != trained_atoms:  # the shape changed: the config is the pruned SAE's, the training record kept
        cfg = {**sae.saelens_config(), "metadata": {**cfg["metadata"], **sae.metadata}}
    cfg["dtype"] = "float16"
    cfg["metadata"].update(
        {
            "embedding_model": args.embedding_model,
            "stored_dtype": "float16",
            "measured": stats,
        }
    )
    with tempfile.NamedTemporaryFile(dir=target, prefix=".w.", suffix=".safetensors", delete=False) as handle:
        pass
    save_file({k: v.contiguous() for k, v in half.items()}, handle.name)
    _publish(handle.name, target / WEIGHTS_FILE)
    _atomic_text(target / CFG_FILE, json.dumps(cfg, indent=2))
    loaded = SparseAutoencoder.from_pretrained(target)
    assert torch.equal(loaded.W_dec, half["W_dec"].float()), "round trip failed"
    assert set(load_file(str(target / WEIGHTS_FILE))) == set(half)

    meta = cfg["metadata"]
    sources = "\n".join(
        f"| {Path(s['path']).name} | {s.get('source', '')} | {s.get('rows', 0):,} |"
        for s in meta["train_sources"]
    )
    held = "\n".join(
        f"| {key[8:]} | {v['docs']:,} | {v['l0']} | {v['fvu']} | {v['silent_docs']} | {v['dead_atoms']} |"
        for key, v in stats.items()
        if key.startswith("heldout_")
    )
    t = stats["train"]
    ratios = [v["fvu"] / t["fvu"] for key, v in stats.items() if key.startswith("heldout_")]
    silent = sum(v["silent_docs"] for key, v in stats.items() if key.startswith("heldout_"))
    held_note = (
        f"{'Every' if silent == 0 else 'Not every'} held-out document activates atoms; the held-out FVU is "
        f"{min(ratios):.1f}-{max(ratios):.1f}x the training FVU." if ratios else "No held-out corpus was cached."
    )
    from bertopic_sae.sae.checkpoint import TO_SAELENS

    relu = sae.cfg.architecture == "relu-l1"
    kind = {
        "relu-l1": "a ReLU + L1 sparse autoencoder",
        "topk": "a top-k sparse autoencoder",
        "batchtopk": "a BatchTopK sparse autoencoder (batch top-k in training, a learned threshold at inference)",
        "matryoshka-batchtopk": "a Matryoshka-BatchTopK sparse autoencoder (nested dictionaries of sizes "
        f"{', '.join(map(str, sae.cfg.prefixes))}, each trained to reconstruct alone; a learned threshold at "
        "inference)",
    }[sae.cfg.architecture]
    sparsity = (f"L1 coefficient λ | {sae.cfg.l1_coefficient}" if relu else
                f"k (mean active atoms per embedding in training) | {sae.cfg.k}; inference threshold "
                f"{float(sae.threshold.max()):.4f}")
    card = f"""# {args.name}: a sparse autoencoder for {Path(args.embedding_model).name} document embeddings

Shipped with `bertopic-sae`; `bertopic_sae.sae.pretrained.load_pretrained("{args.name}")`, or automatically by
`SAEAtomMerger()` when the embedding model is {Path(args.embedding_model).name}. Stage 1 of SAE-TM (Girrbach &
Akata): {kind} whose decoder rows are topic atoms.

| | |
|---|---|
| embedding model | {args.embedding_model} ({args.embedding_note}) |
| architecture | {sae.cfg.architecture} (SAELens `{TO_SAELENS[sae.cfg.architecture]}`), d_in {sae.d_in}, d_sae {sae.d_sae} |
| {sparsity} |
| training | {meta.get("train_steps")} steps × batch {meta.get("train_batch_size")}, Adam lr {meta.get("train_lr")}, seed {meta.get("train_seed")}, 10% warm-up of lr{" and λ" if relu else ""} |
| training embeddings | {train.shape[0]:,} documents |
| L0 (active atoms / doc, training data) | {t["l0"]} |
| FVU (training data) | {t["fvu"]} |
| dead atoms (never fire on the training data) | {t["dead_atoms"]} of {sae.d_sae} |
| documents with no active atom | {t["silent_docs"]} |
| atoms firing on ≥ 1% of documents | {t["atoms_used_by_1pct_docs"]} |
| storage | float16 safetensors (loaded as float32); rounding changes the support of {stats["float16_check"]["support_changed_share"]:.2e} of codes, max code change {stats["float16_check"]["max_abs_code_diff"]:.1e} |
| training time | {f"{args.train_seconds / 60:.0f} min" if args.train_seconds else "n/a"} on {platform.machine()}, 2 shared CPU cores, 1 torch thread |
| embedding time | {f"{args.embed_seconds / 60:.0f} min" if args.embed_seconds else "n/a"} (same machine) |
| date | {dt.date.today().isoformat()} |{args.card_note}
| bertopic-sae | {meta.get("bertopic_sae_version")} |

## Training data

Random subsets of corpora in the project's `shared/datasets` that are **not** benchmark corpora (no 20
Newsgroups, BBC News, M10 or DBLP), so transfer results on those benchmarks are out of domain.

| folder | corpus | documents |
|---|---|---|
{sources}

{args.data_note}

## Held-out corpora (never trained on)

| corpus | documents | L0 | FVU | docs with no atom | atoms never firing |
|---|---|---|---|---|---|
{held}

{held_note} The SAE reconstructs its small training mix better than new domains. Topics need the atoms' directions, not a faithful
reconstruction, so see `benchmarks/transfer.py` for what this costs in topic quality.

## How it was made

```bash
{args.embed_command}
{args.command}
python benchmarks/build_pretrained.py ...   # measures it, stores float16, writes this card
```
"""
    _atomic_text(target / "README.md", card)
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
