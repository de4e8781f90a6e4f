"""Compare LM SAEs on the same held-out SmolLM2 activations: reconstruction, dead features, content features.

Held-out tokens: the last shard of every corpus folder under ``--work`` (benchmarks/mtm_build_sae.py's
``acts`` output) that has several shards (the shard its ``train`` stage holds out), or every shard of a
corpus named in ``--unseen``. Per SAE and corpus: L0, FVU over all tokens and over ordinary tokens (residual
norm <= 3x the median: attention-sink tokens, ~150x the norm of the others, dominate the variance), features
never firing on the held-out tokens; per SAE: the share of its live, MTM-eligible features (firing on <= 1%
of its training tokens) whose top firing tokens are words (``mtm.descriptions.content_features``).
Writes ``results/lmsae_compare.md``.

Usage:

```bash
python -m benchmarks.lmsae_compare --work /work/lmsae2 \
    --saes smollm2-135m-instruct-L15 /work/s9steer/pkg/smollm2-135m-instruct-L15-mix
```
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

import numpy as np
import torch

from benchmarks._machine import cpu_cores, cpu_model

RESULTS = Path(__file__).resolve().parent / "results"


def held_out_shards(work: Path, unseen: list[str]) -> dict[str, list[Path]]:
    """Per corpus folder: its held-out shards (the last one, or all of them for an ``unseen`` corpus)."""
    out = {}
    for manifest in sorted(work.glob("*/manifest.json")):
        shards = [manifest.parent / s["file"] for s in json.loads(manifest.read_text())["shards"]]
        name = manifest.parent.name
        if name in unseen:
            out[name] = shards
        elif len(shards) > 1:
            out[name] = shards[-1:]
    return out


@torch.no_grad()
def measure(sae, X: np.ndarray, batch: int = 4096) -> dict:
    """L0, FVU (all tokens / ordinary tokens) and per-feature firing counts of ``sae`` on ``X``'s rows."""
    norms = np.linalg.norm(X.astype(np.float32), axis=1)
    ordinary = norms <= 3 * np.median(norms)
    fired = torch.zeros(sae.d_sae, dtype=torch.long)
    err = np.zeros(len(X))
    l0 = 0.0
    for start in range(0, len(X), batch):
        x = torch.from_numpy(np.asarray(X[start : start + batch], dtype=np.float32))
        acts = sae.encode(x).acts
        fired += (acts > 0).sum(0)
        l0 += float((acts > 0).sum())
        err[start : start + len(x)] = (x - sae.decode(acts)).pow(2).sum(1).double().numpy()

    def fvu(mask: np.ndarray) -> float:
        x = X[mask].astype(np.float64)
        return float(err[mask].sum() / ((x - x.mean(0)) ** 2).sum())

    return {
        "tokens": len(X),
        "l0": l0 / len(X),
        "fvu": fvu(np.ones(len(X), dtype=bool)),
        "fvu_ordinary": fvu(ordinary),
        "fired": fired.numpy(),
    }


def content_share(bundle) -> tuple[int, int, float]:
    """(MTM-eligible live features, of them content features, share)."""
    from bertopic_sae.mtm.descriptions import content_features

    rate = bundle.stats.firing_rate
    eligible = np.flatnonzero((rate > 0) & (rate <= 0.01))
    mask = content_features(bundle, eligible)
    return len(eligible), int(mask.sum()), float(mask.mean()) if len(mask) else float("nan")


def main(argv=None) -> None:
    from bertopic_sae._io import atomic_write_text
    from bertopic_sae.mtm import load_lm_sae

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, required=True, help="activations folder (mtm_build_sae acts)")
    parser.add_argument("--saes", nargs="+", required=True, help="LM SAE names or folders")
    parser.add_argument("--unseen", nargs="*", default=[], help="corpora held out entirely")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    shards = held_out_shards(args.work, args.unseen)
    data = {
        name: np.concatenate([np.load(p, mmap_mode="r") for p in paths]) for name, paths in shards.items()
    }
    lines = [
        "# LM SAEs on the same held-out SmolLM2 layer-15 tokens",
        "",
        f"Machine: {cpu_cores()} cores {cpu_model()}; {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC. "
        "Written by `python -m benchmarks.lmsae_compare`. Held-out tokens: "
        + ", ".join(
            f"{name} {len(x):,} ({'all shards' if name in args.unseen else 'last shard'})"
            for name, x in data.items()
        )
        + ". FVU (ordinary): tokens with residual norm <= 3x the median (sink tokens left out). "
        "Content share: "
        "live features with firing rate <= 1% on the SAE's training tokens (the MTM filter) whose 4 most "
        "frequent firing tokens are mostly words (`content_features`).",
        "",
        "| SAE | d_sae | k | training tokens | corpus | L0 | FVU | FVU (ordinary) | features silent on it |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    summary = [
        "",
        "| SAE | silent on all held-out tokens | MTM-eligible live features | content | share |",
        "|---|---|---|---|---|",
    ]
    for name in args.saes:
        bundle = load_lm_sae(name)
        sae = bundle.sae
        meta = sae.metadata or {}
        label = Path(bundle.folder).name
        fired = np.zeros(sae.d_sae, dtype=np.int64)
        for corpus, X in data.items():
            m = measure(sae, X)
            fired += m["fired"]
            lines.append(
                f"| {label} | {sae.d_sae} | {sae.cfg.k} | {meta.get('train_tokens', 'n/a'):,} | {corpus} | "
                f"{m['l0']:.1f} | {m['fvu']:.3f} | {m['fvu_ordinary']:.3f} | {int((m['fired'] == 0).sum())} |"
            )
        n_el, n_content, share = content_share(bundle)
        summary.append(
            f"| {label} | {int((fired == 0).sum())} of {sae.d_sae} | {n_el} | {n_content} | {share:.2f} |"
        )
    RESULTS.mkdir(exist_ok=True)
    text = "\n".join(lines + summary) + "\n"
    atomic_write_text(RESULTS / "lmsae_compare.md", text)
    print(text)


if __name__ == "__main__":
    main()
