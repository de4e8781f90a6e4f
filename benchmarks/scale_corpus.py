"""Build the ≥ 1M-document real corpus of the scale benchmark: IMDB reviews split into sentences + the tweets.

Every IMDB review (100,000) is split into sentences with a regular expression (a sentence ends at ``.``,
``!`` or ``?`` followed by white space and an upper-case letter, digit or quote); sentences of fewer than
4 words are dropped (they hold too few words for a topic). The tweets of ``health_news_tweets`` and
``trump_tweets`` follow whole (URLs removed, as :func:`bertopic_sae.data.load_corpus` does). White space
runs become one space, so the output holds one document per line (``.txt``, read by ``bertopic-sae embed``).
None of these are benchmark corpora (20NG, BBC, M10, DBLP).

Usage:

```bash
python benchmarks/scale_corpus.py --out /work/emb/scale-1m/corpus.txt
bertopic-sae embed /work/emb/scale-1m/corpus.txt --model wordllama --out /work/emb/scale-1m/wordllama
```
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bertopic_sae._io import atomic_write_text  # noqa: E402
from bertopic_sae.data import load_corpus  # noqa: E402

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_SPACE = re.compile(r"\s+")


def sentences(text: str, min_words: int = 4) -> list[str]:
    """The sentences of ``text`` with at least ``min_words`` words, white space collapsed."""
    parts = (_SPACE.sub(" ", s).strip() for s in _SENTENCE_END.split(text))
    return [s for s in parts if len(s.split()) >= min_words]


def build(out: Path) -> dict:
    """Write the corpus to ``out`` (atomically) and return its counts by source."""
    lines: list[str] = []
    counts = {}
    for review in load_corpus("imdb").texts:
        lines += sentences(review)
    counts["imdb_sentences"] = len(lines)
    for name in ("health_news_tweets", "trump_tweets"):
        tweets = [_SPACE.sub(" ", t).strip() for t in load_corpus(name).texts]
        tweets = [t for t in tweets if t]
        counts[name] = len(tweets)
        lines += tweets
    counts["total"] = len(lines)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, "\n".join(lines) + "\n")
    atomic_write_text(out.with_suffix(".counts.json"), json.dumps(counts, indent=2))
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="the .txt file to write")
    args = parser.parse_args()
    print(json.dumps(build(args.out), indent=2))


if __name__ == "__main__":
    main()
