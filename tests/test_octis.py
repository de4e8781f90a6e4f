"""OCTIS adapters and the benchmark grid, in quick mode (300 BBC News articles, K=5, few epochs)."""

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

try:  # skip only when OCTIS itself is absent; a broken adapter module must fail, not skip
    import octis  # noqa: F401
except ModuleNotFoundError as error:
    if error.name != "octis":
        raise
    pytest.skip("octis is not installed (pip install --no-deps octis==1.14.0)", allow_module_level=True)

from bertopic_sae import eval as adapters  # noqa: E402 (after the skip when octis is missing)

K = 5
N_DOCS = 300
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def quick():
    """First 300 BBC News rows as an OCTIS corpus, their MiniLM embeddings and an evaluator."""
    corpus = adapters.load_octis_corpus("bbc_news").subset(N_DOCS)
    return corpus, corpus.embeddings(), adapters.OctisEvaluator(corpus.dataset)


def test_import_bertopic_sae_does_not_need_octis():
    code = (
        "import sys, bertopic_sae; "
        "assert 'octis' not in sys.modules and 'bertopic_sae.eval' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_bbc_rows_are_aligned_with_raw_text():
    corpus = adapters.load_octis_corpus("bbc_news")
    assert len(corpus) == len(corpus.dataset.get_corpus()) == 2225
    # Most OCTIS lemmas of a row are found (by 4-letter prefix) in the raw article of the same row.
    for row in (0, 1000, 2224):
        text = corpus.texts[row].lower()
        tokens = corpus.token_lists[row]
        assert np.mean([t[:4] in text for t in tokens]) > 0.7, row


def test_m10_falls_back_to_tokens_for_bad_titles():
    corpus = adapters.load_octis_corpus("m10")
    assert len(corpus) == 8355 and len(corpus.labels) == 8355
    joined = [" ".join(t) for t in corpus.token_lists]
    fallback = sum(a == b for a, b in zip(corpus.texts, joined, strict=True))
    assert 100 <= fallback <= 200  # ~117 titles with align_containment < 0.5, plus a few exact matches


MODELS = [
    # decoder merge: skips embedding the 2,800 vocabulary words (~1 min on 2 cores); the adapter contract is
    # the same
    ("sae", adapters.SAETopicModel, {"merger_params": {"merge": "decoder", "train_config": {"steps": 50}}}),
    ("kmeans", adapters.KMeansBERTopicModel, {}),
    ("bertopic", adapters.BERTopicModel, {}),
    ("fastopic", adapters.FASTopicModel, {"epochs": 10}),
    ("ctm", adapters.CTMModel, {"num_epochs": 2}),
    ("prodlda", adapters.ProdLDAModel, {"num_epochs": 2}),
    ("lda", adapters.LDAModel, {"passes": 2}),
]


@pytest.mark.parametrize("name,cls,params", MODELS, ids=[m[0] for m in MODELS])
def test_adapter_output_and_metrics(quick, name, cls, params):
    if name == "fastopic":
        pytest.importorskip(
            "fastopic", reason="fastopic not installed (pip install --no-deps fastopic==1.0.1)"
        )
    if name == "sae":
        try:
            from bertopic_sae import BERTopic, SAEAtomMerger  # noqa: F401
        except ImportError as error:
            pytest.skip(f"bertopic_sae.BERTopic / SAEAtomMerger not available yet: {error}")
    corpus, embeddings, evaluator = quick
    vocab_size = len(corpus.dataset.get_vocabulary())
    output = cls(K, embeddings=embeddings, seed=0, **params).train_model(corpus.dataset, top_words=10)

    n_topics = len(output["topics"])
    assert 2 <= n_topics <= K
    assert all(len(topic) == 10 and len(set(topic)) == 10 for topic in output["topics"])
    assert output["topic-word-matrix"].shape == (n_topics, vocab_size)
    assert output["topic-document-matrix"].shape == (n_topics, N_DOCS)
    assert (
        np.isfinite(output["topic-word-matrix"]).all() and np.isfinite(output["topic-document-matrix"]).all()
    )
    # topics are the top words of the topic-word matrix, over the dataset vocabulary
    vocab = corpus.dataset.get_vocabulary()
    best = vocab[int(np.argmax(output["topic-word-matrix"][0]))]
    assert best == output["topics"][0][0]

    scores = evaluator.score(output)
    assert -1 <= scores["npmi"] <= 1
    assert 0 <= scores["c_v"] <= 1
    assert 0 < scores["td"] <= 1 and 0 <= scores["irbo"] <= 1
    assert -1 <= scores["we_coherence"] <= 1 and 0 <= scores["intrusion"] <= 1
    assert 0 < scores["purity"] <= 1 and 0 <= scores["nmi"] <= 1
    if name in ("sae", "kmeans", "bertopic"):  # the embedding-clustering models separate BBC's 5 classes well
        assert scores["nmi"] > 0.4 and scores["npmi"] > 0.0


def test_partitions_give_test_matrix():
    corpus = adapters.load_octis_corpus("bbc_news")
    dataset = corpus.dataset
    meta = dataset.get_metadata()
    n_test = len(dataset.get_corpus()) - meta["last-validation-doc"]
    model = adapters.LDAModel(K, seed=0, passes=1, use_partitions=True)
    output = model.train_model(dataset)
    assert output["topic-document-matrix"].shape == (K, meta["last-training-doc"])
    assert output["test-topic-document-matrix"].shape == (K, n_test)
    unpartitioned = adapters.load_octis_corpus("bbc_news").subset(50).dataset
    with pytest.raises(ValueError, match="use_partitions=False"):
        adapters.KMeansBERTopicModel(K, embeddings=np.zeros((50, 4)), use_partitions=True).train_model(
            unpartitioned
        )


def test_missing_embeddings_error_names_the_fix(quick):
    corpus, _, _ = quick
    with pytest.raises(ValueError, match="embeddings="):
        adapters.KMeansBERTopicModel(K).train_model(corpus.dataset)


def test_word_intrusion_detects_an_obvious_intruder(quick):
    _, _, evaluator = quick
    topics = [
        ["football", "match", "goal", "striker", "league", "cup", "coach", "team", "player", "season"],
        ["bank", "profit", "share", "market", "investor", "price", "economy", "growth", "rate", "firm"],
    ]
    assert adapters.word_intrusion(topics, evaluator.keyed_vectors, n_draws=5) >= 0.8


def test_grid_quick_run_is_resumable(tmp_path):
    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks import octis_grid
    finally:
        sys.path.remove(str(ROOT))
    out = tmp_path / "grid.csv"
    args = ["--quick", "--models", "kmeans", "lda", "--out", str(out)]
    assert octis_grid.main(args) == 0
    with open(out) as handle:
        rows = list(csv.DictReader(handle))
    assert [r["model"] for r in rows] == ["kmeans", "lda"]
    assert all(float(r["fit_seconds"]) > 0 and float(r["peak_rss_mb"]) > 0 for r in rows)
    assert all(r["code"] for r in rows)  # the commit (or "unknown") the cell ran with
    assert octis_grid.main(args) == 0  # everything done: nothing is rerun
    with open(out) as handle:
        assert len(list(csv.DictReader(handle))) == 2


def test_grid_upgrades_a_csv_without_the_code_column(tmp_path):
    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks import octis_grid
    finally:
        sys.path.remove(str(ROOT))
    out = tmp_path / "old.csv"
    legacy = [c for c in octis_grid.COLUMNS if c != "code"]
    row = dict.fromkeys(legacy, "") | {
        "model": "kmeans",
        "dataset": "bbc_news",
        "num_topics": "20",
        "seed": "0",
    }
    with open(out, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=legacy)
        writer.writeheader()
        writer.writerow(row)
    assert octis_grid.read_done(out) == {("kmeans", "bbc_news", 20, 0)}
    with open(out) as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == octis_grid.COLUMNS
        assert [r["code"] for r in reader] == [""]
