"""The README's demo: SAE topics on a real corpus with the offline all-MiniLM-L6-v2, printed as a table.

Run ``python -m bertopic_sae.demo [--corpus bbc_news] [--n-topics 10]``. The first run embeds the
corpus (BBC News: 2,225 articles, 1-3 minutes on 2 CPU cores) and caches the embeddings; later runs
take seconds.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # busy shared CPUs: no spinning OpenMP threads
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bertopic_sae.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="bbc_news", help="corpus name (see bertopic_sae.data.CORPORA)")
    parser.add_argument("--n-topics", type=int, default=10, help="number of topics")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N documents")
    args = parser.parse_args(argv)

    import pandas as pd
    from sklearn.metrics import normalized_mutual_info_score

    from bertopic_sae import BERTopic, SAEAtomMerger
    from bertopic_sae.data import default_embedding_model, embed, load_corpus

    corpus = load_corpus(args.corpus, limit=args.limit)
    print(f"{args.corpus}: {len(corpus.texts):,} documents")
    model = default_embedding_model()
    embeddings = embed(corpus.texts, model)

    started = time.perf_counter()
    topic_model = BERTopic(clustering_model=SAEAtomMerger(n_topics=args.n_topics), embedding_model=model)
    topics, _ = topic_model.fit_transform(corpus.texts, embeddings)
    seconds = time.perf_counter() - started
    from bertopic_sae.sae.pretrained import pretrained_for
    from bertopic_sae.sae.resolve import embedding_model_name

    sae = topic_model.hdbscan_model.sae_
    shipped = pretrained_for(sae.d_in, embedding_model_name(model))
    source = f"the shipped pretrained SAE {shipped!r}" if shipped else "an SAE trained on this corpus"
    print(
        f"fit_transform: {seconds:.1f} s (embeddings given; the first run also embeds the vocabulary words); "
        f"{source}, {sae.d_sae} atoms"
    )

    info = topic_model.get_topic_info()
    with pd.option_context("display.max_colwidth", 90, "display.width", 140):
        print(info[["Topic", "Count", "Representation"]].to_string(index=False))
    if corpus.labels is not None:
        print(f"NMI with the corpus labels: {normalized_mutual_info_score(corpus.labels, topics):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
