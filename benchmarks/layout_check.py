"""Unchanged behaviour across the layout change (issue 13): the same fits with two checkouts, side by side.

Runs, in two fresh processes (one per checkout, each with its own ``PYTHONPATH``), BERTopic with
``SAEAtomMerger(n_topics=10)`` and the shipped SAE on 600 BBC News articles (the test suite's subset, seed 0),
for both assignment rules: ``fit_transform``, ``transform`` of 50 documents, ``set_n_topics(6)``, and the
topic words; then writes which outputs are identical to ``benchmarks/results/layout_check.md``.

Usage (from the repository root; the old checkout from ``git worktree add /tmp/old e6cc5cc`` or
``git archive e6cc5cc | tar -x -C /tmp/old``):

```bash
python -m benchmarks.layout_check --old /tmp/old --old-commit e6cc5cc
```
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks._machine import cpu_cores, cpu_model

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "layout_check.md"

FIT = r'''
import json, sys
import numpy as np
from bertopic_sae import BERTopic, SAEAtomMerger
try:
    from bertopic_sae.data import default_embedding_model, embed, load_corpus
except ImportError:  # 0.1.0
    from bertopic_sae.datasets import default_embedding_model, embed, load_corpus
corpus = load_corpus("bbc_news")
keep = np.sort(np.random.default_rng(0).choice(len(corpus.texts), 600, replace=False))
texts = [corpus.texts[i] for i in keep]
model = default_embedding_model(device="cpu")
E = embed(texts, model, show_progress_bar=False)
out = {}
for assignment in ("centroid", "sum"):
    tm = BERTopic(clustering_model=SAEAtomMerger(n_topics=10, assignment=assignment), embedding_model=model)
    topics, probs = tm.fit_transform(texts, E)
    new_topics, new_probs = tm.transform(texts[:50], E[:50])
    words = {int(t): [w for w, _ in tm.get_topic(t)] for t in range(10)}
    tm.set_n_topics(texts, 6, E)
    out[assignment] = {
        "fit_transform topics": list(map(int, topics)),
        "fit_transform probabilities": np.asarray(probs).tolist(),
        "transform topics": list(map(int, new_topics)),
        "transform probabilities": np.asarray(new_probs).tolist(),
        "topic words (K = 10)": words, "set_n_topics(6) topics": list(map(int, tm.topics_)),
        "set_n_topics(6) words": {int(t): [w for w, _ in tm.get_topic(t)] for t in range(6)},
    }
json.dump(out, open(sys.argv[1], "w"))
'''


def run(tree: Path, out: Path) -> dict:
    from bertopic_sae.data import data_dir

    env = {**os.environ, "PYTHONPATH": str(tree), "HF_HUB_OFFLINE": "1", "OMP_WAIT_POLICY": "PASSIVE",
           "BERTOPIC_SAE_DATA": str(data_dir())}
    # cwd = the tree: `python -c` puts the working directory first on sys.path.
    subprocess.run([sys.executable, "-c", FIT, str(out)], check=True, env=env, cwd=tree)
    return json.loads(out.read_text())


def commit(tree: Path) -> str:
    result = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=tree, capture_output=True, text=True)
    return result.stdout.strip() or "(not a git checkout)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.layout_check",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, required=True, help="checkout of the code before the change")
    parser.add_argument("--old-commit", default=None, help="commit of --old, when it is not a git checkout")
    parser.add_argument("--new", type=Path, default=ROOT, help="checkout after it (default: this one)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        old = run(args.old.resolve(), Path(folder) / "old.json")
        new = run(args.new.resolve(), Path(folder) / "new.json")
    now = datetime.datetime.now(datetime.timezone.utc)
    lines = [
        "# Layout change: the same fits before and after",
        "",
        f"* Date: {now:%Y-%m-%d %H:%M} UTC. Machine: {cpu_model()}, {cpu_cores()} cores; load average "
        f"{os.getloadavg()[0]:.1f} at the end.",
        f"* Old: `{args.old}` ({args.old_commit or commit(args.old)}); "
        f"new: `{args.new}` ({commit(args.new)}); two processes.",
        "* 600 BBC News articles (seed 0), all-MiniLM-L6-v2 embeddings (cached), shipped SAE, "
        "`SAEAtomMerger(n_topics=10, assignment=...)`; exact comparison (floats as Python floats).",
        "",
        "| assignment | output | identical |",
        "|---|---|---|",
    ]
    same = True
    for assignment, outputs in old.items():
        for name, value in outputs.items():
            equal = value == new[assignment][name]
            same &= equal
            lines.append(f"| {assignment} | {name} | {'yes' if equal else '**no**'} |")
    OUT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
