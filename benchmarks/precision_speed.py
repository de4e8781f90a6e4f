"""float32 vs bfloat16 compute for the two long CPU steps of SAE pretraining, side by side in one run.

* embedding: all-MiniLM-L6-v2 on the first N lines of a text file (``bertopic-sae embed --precision``),
  documents per second and the cosine between the two embeddings of each text;
* training: optimisation steps of a BatchTopK / Matryoshka SAE on random unit vectors
  (``TrainConfig(precision=...)``), embeddings per second.

Usage:

```bash
python -m benchmarks.precision_speed --texts /work/emb/dev-sentences-shuffled.txt --n 2000
```
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._machine import cpu_cores, cpu_model  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
DECIMALS = {"per_second": 1, "cosine_min": 6, "cosine_mean": 6, "speed-up vs float32": 2}


def embed_speed(lines: list[str], batch_size: int = 64) -> list[dict]:
    import torch

    from bertopic_sae.data import default_embedding_model

    model = default_embedding_model(device="cpu")
    model.encode(lines[:64], batch_size=batch_size)  # warm-up
    rows, out = [], {}
    for precision in ("float32", "bfloat16"):
        if precision == "bfloat16":
            model = model.to(torch.bfloat16)
        started = time.perf_counter()
        out[precision] = np.asarray(model.encode(lines, batch_size=batch_size, normalize_embeddings=True),
                                    dtype=np.float32)
        rows.append({"step": "embed (MiniLM)", "precision": precision,
                     "per_second": len(lines) / (time.perf_counter() - started)})
    a, b = out["float32"], out["bfloat16"]  # bfloat16 rows are unit norm only to bfloat16 precision
    cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    rows[-1]["cosine_min"], rows[-1]["cosine_mean"] = float(cosine.min()), float(cosine.mean())
    return rows


def train_speed(d_sae: int, architecture: str, steps: int = 6, batch: int = 1000) -> list[dict]:
    import torch

    from bertopic_sae import SAEConfig, SparseAutoencoder

    rows = []
    for precision in ("float32", "bfloat16"):
        sae = SparseAutoencoder(SAEConfig(d_in=384, d_sae=d_sae, architecture=architecture, k=32), seed=0)
        optimizer = torch.optim.Adam(sae.parameters(), 1e-3)
        x = torch.nn.functional.normalize(torch.randn(batch, 384, generator=torch.Generator().manual_seed(0)),
                                          dim=1)
        times = []
        for _ in range(steps):
            started = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bfloat16"):
                out = sae(x, l1_coefficient=0.0, dead_mask=torch.zeros(d_sae, dtype=torch.bool),
                          auxk_alpha=1 / 32)
            optimizer.zero_grad()
            out.loss.backward()
            optimizer.step()
            times.append(time.perf_counter() - started)
        rows.append({"step": f"train {architecture} {d_sae}", "precision": precision,
                     "per_second": batch / min(times[2:])})
    return rows


def main() -> None:
    import pandas as pd
    import torch

    from bertopic_sae._io import atomic_write_text

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=Path, required=True, help="a text file, one document per line")
    parser.add_argument("--n", type=int, default=2000, help="lines to embed")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS / "precision_speed.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with open(args.texts) as handle:
        lines = [next(handle).strip() for _ in range(args.n)]
    rows = embed_speed(lines)
    for d_sae, architecture in ((6144, "batchtopk"), (6144, "matryoshka-batchtopk"), (24576, "batchtopk")):
        rows += train_speed(d_sae, architecture)
    frame = pd.DataFrame(rows)
    base = frame[frame.precision == "float32"].set_index("step")["per_second"]
    frame["speed-up vs float32"] = frame.apply(lambda r: r.per_second / base[r.step], axis=1)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=Path(__file__).parent).stdout.strip()
    text = "\n".join([
        "# float32 vs bfloat16 compute for SAE pretraining on CPU",
        "",
        f"`python -m benchmarks.precision_speed --n {args.n}` "
        f"({dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, commit {commit}; {cpu_model()}, "
        f"{cpu_cores()} cores, torch threads {args.threads}, load "
        f"{os.getloadavg()[0]:.1f}). Embedding: the first {args.n:,} lines of `{args.texts.name}`, batch 64; "
        "training: one optimisation step of batch 1,000 random unit vectors (best of 4 after 2 warm-ups).",
        "",
        frame.round(DECIMALS).to_markdown(index=False),
        "",
    ])
    atomic_write_text(args.out, text)
    print(text)


if __name__ == "__main__":
    main()
