"""Time every Python snippet of README.md as a new user runs it: a fresh interpreter per snippet.

Each snippet runs in its own process, in order, in one temporary folder (so files one writes, e.g.
``my-model``, stay out of the repository), after a short prelude that defines the names the README
leaves to the user: ``docs`` / ``texts`` (``--n-docs`` random health-news headlines, seed 0),
``embeddings`` (their MiniLM embeddings, from the on-disk cache) and, for the stock-BERTopic snippet, a
``my-sae`` folder (the shipped SAE). ``SentenceTransformer("all-MiniLM-L6-v2")`` is replaced by the offline
copy of the same model (``bertopic_sae.data.default_embedding_model()``). The time includes importing.

Writes ``benchmarks/results/readme_snippets.md``.

Usage: ``python -m benchmarks.readme_snippets [--n-docs 1000]``
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

PRELUDE = """
import numpy as np
from bertopic_sae.data import load_corpus, embed, default_embedding_model
_all = [t for t in load_corpus("health_news_tweets").texts if len(t.split()) >= 4]
docs = texts = [_all[i] for i in np.sort(np.random.default_rng(0).choice(len(_all), {n}, replace=False))]
embeddings = embed(docs, default_embedding_model(device="cpu"), show_progress_bar=False)
"""
MY_SAE = """
import os
from bertopic_sae import load_pretrained
if not os.path.exists("my-sae"):
    load_pretrained().save_pretrained("my-sae")
"""


def snippets(readme: Path) -> list[tuple[int, str]]:
    """``(line, code)`` of every fenced Python block."""
    text = readme.read_text()
    out = []
    for match in re.finditer(r"```python\n(.*?)```", text, flags=re.S):
        out.append((text[: match.start()].count("\n") + 1, match.group(1)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-docs", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=RESULTS / "readme_snippets.md")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from benchmarks._machine import cpu_cores, cpu_model

    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    rows = []
    with tempfile.TemporaryDirectory() as work:
        # line 0: the prelude alone (imports, corpus, cached embeddings), to subtract from the others
        for line, code in [(0, "pass  # prelude only\n"), *snippets(ROOT / "README.md")]:
            code = code.replace('SentenceTransformer("all-MiniLM-L6-v2")',
                                'default_embedding_model(device="cpu")')
            needs_sae = "my-sae" in code and "train_sae" not in code
            prelude = PRELUDE.format(n=args.n_docs) + (MY_SAE if needs_sae else "")
            started = time.perf_counter()
            result = subprocess.run([sys.executable, "-c", textwrap.dedent(prelude) + code], cwd=work,
                                    env=env, capture_output=True, text=True)
            seconds = time.perf_counter() - started
            first = code.strip().splitlines()[-1][:60].replace("|", "\\|")
            status = "ok" if result.returncode == 0 else f"failed: {result.stderr.strip().splitlines()[-1]}"
            rows.append(f"| {line} | `{first}` | {seconds:.1f} | {status} |")
            print(rows[-1], flush=True)
    lines = [
        "# README snippets, timed",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, {cpu_model()}, {cpu_cores()} cores, load "
        f"{os.getloadavg()[0]:.1f}. Written by `python -m benchmarks.readme_snippets --n-docs "
        f"{args.n_docs}`: "
        f"each Python block of README.md in a fresh interpreter (imports included), `docs` = {args.n_docs} "
        "health-news headlines with cached MiniLM embeddings. Line 0 is the prelude alone (its time is "
        "part of every other row).",
        "",
        "| README line | last line of the snippet | seconds | result |",
        "|---|---|---|---|",
        *rows,
    ]
    args.out.with_suffix(".tmp").write_text("\n".join(lines) + "\n")
    os.replace(args.out.with_suffix(".tmp"), args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
