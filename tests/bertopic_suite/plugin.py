"""A pytest plugin under which BERTopic v0.17.4's own test suite runs against the plugin, unmodified.

The upstream files are read from ``../shared/external/bertopic-v0.17.4-tests/tests``. Their
``conftest.py`` downloads 20 Newsgroups and a Hub model and builds stock models; it is not loaded
(``--noconftest``). Instead this plugin provides every fixture it defines, under the same names:
the same 1,000 documents (scikit-learn's cache rebuilt offline), the Hub name ``all-MiniLM-L6-v2``
resolved to the offline MiniLM, and each topic model built with
``bertopic_sae.BERTopic(clustering_model=SAEAtomMerger(n_topics=K))`` in the role the stock fixture
plays (custom sub-models, representation models, zero-shot, online, reduced, merged...). Tests that
cannot apply to an SAE topic model are listed, with the reason, in ``not_applicable.py``.

Run it with ``make bertopic-suite``, or::

    python -m pytest -p tests.bertopic_suite.plugin --noconftest --import-mode=importlib \\
        -p no:cacheprovider ../shared/external/bertopic-v0.17.4-tests/tests
"""

from __future__ import annotations

import copy
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from .not_applicable import NOT_APPLICABLE
from .offline import SHARED, build_20newsgroups_cache, build_hub_cache

UPSTREAM = SHARED / "external" / "bertopic-v0.17.4-tests" / "tests"

# Everything the suite writes (its saved models, sklearn's cache, the Hub cache) goes into one temporary
# folder, which is also the working directory: upstream tests save "model_dir" and "test" into the CWD.
_WORKDIR = Path(tempfile.mkdtemp(prefix="bertopic-suite-"))
os.environ["SCIKIT_LEARN_DATA"] = str(_WORKDIR / "scikit_learn_data")
os.environ["HF_HUB_CACHE"] = str(_WORKDIR / "hub")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.dont_write_bytecode = True  # the upstream folder is not ours to write __pycache__ into
_PREVIOUS_CWD = os.getcwd()

# Topics per fixture model: the stock fixtures find ~10-50 HDBSCAN clusters in these 1,000 posts.
N_TOPICS = 20
# Topics of the stock custom_topic_model (UMAP + HDBSCAN(min_cluster_size=3), random_state=42) on them,
# measured with BERTopic 0.17.4; the reduced fixture starts from as many.
STOCK_CUSTOM_TOPICS = 75
_NOT_COLLECTED = pytest.StashKey[list]()


def pytest_configure(config) -> None:
    if "sentence_transformers" in sys.modules or "huggingface_hub" in sys.modules:
        raise pytest.UsageError("Load the suite plugin with -p before anything imports huggingface_hub.")
    build_20newsgroups_cache(Path(os.environ["SCIKIT_LEARN_DATA"]))
    build_hub_cache(Path(os.environ["HF_HUB_CACHE"]))
    os.chdir(_WORKDIR)


def pytest_unconfigure(config) -> None:
    os.chdir(_PREVIOUS_CWD)
    shutil.rmtree(_WORKDIR, ignore_errors=True)


def upstream_id(item) -> str:
    """``path/relative/to/upstream/tests.py::test_name[params]`` of an upstream test item."""
    try:
        relative = Path(item.path).resolve().relative_to(UPSTREAM.resolve())
    except ValueError:
        return item.nodeid
    return f"{relative.as_posix()}::{item.name}"


def pytest_collection_modifyitems(config, items) -> None:
    seen: set[str] = set()
    for item in items:
        test_id = upstream_id(item)
        if test_id in NOT_APPLICABLE:
            seen.add(test_id)
            kind, reason = NOT_APPLICABLE[test_id]
            if kind == "skip":
                item.add_marker(pytest.mark.skip(reason=reason))
            else:  # runs, and must keep failing for the stated reason (strict: a pass is reported)
                item.add_marker(pytest.mark.xfail(reason=reason, strict=True))
    config.stash[_NOT_COLLECTED] = sorted(set(NOT_APPLICABLE) - seen)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    missing = config.stash.get(_NOT_COLLECTED, [])
    if missing:  # expected when only part of the suite runs; on a full run the list has gone stale
        terminalreporter.write_line(f"{len(missing)} tests of not_applicable.py were not collected.")


# ---------------------------------------------------------------------------------------------- data
@pytest.fixture(scope="session")
def embedding_model():
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer("all-MiniLM-L6-v2", device="cpu")  # resolved in the offline Hub cache


@pytest.fixture(scope="session")
def documents():
    from sklearn.datasets import fetch_20newsgroups

    return fetch_20newsgroups(subset="all", remove=("headers", "footers", "quotes"))["data"][:1000]


@pytest.fixture(scope="session")
def targets():
    from sklearn.datasets import fetch_20newsgroups

    return fetch_20newsgroups(subset="all", remove=("headers", "footers", "quotes"))["target"][:1000]


@pytest.fixture(scope="session")
def document_embeddings(documents, embedding_model):
    from bertopic_sae.data import embed

    return embed(documents, embedding_model, show_progress_bar=False)  # cached on disk between runs


@pytest.fixture(scope="session")
def reduced_embeddings(document_embeddings):
    from umap import UMAP

    return UMAP(n_neighbors=10, n_components=2, min_dist=0.0, metric="cosine", random_state=42).fit_transform(
        document_embeddings
    )


# ---------------------------------------------------------------------------------------------- models
def _merger(n_topics: int = N_TOPICS, **params):
    from bertopic_sae import SAEAtomMerger

    return SAEAtomMerger(n_topics=n_topics, **params)


@pytest.fixture(scope="session")
def shipped_sae():
    from bertopic_sae import load_pretrained

    return load_pretrained("minilm-l6-v2")


@pytest.fixture(scope="session")
def base_topic_model(documents, document_embeddings, embedding_model):
    """Stock: default BERTopic (UMAP + HDBSCAN). Here: the default SAE-TM pipeline."""
    from bertopic_sae import BERTopic

    model = BERTopic(embedding_model=embedding_model, calculate_probabilities=True,
                     clustering_model=_merger())
    return model.fit(documents, document_embeddings)


@pytest.fixture(scope="session")
def zeroshot_topic_model(documents, document_embeddings, embedding_model):
    """Stock: zero-shot topics plus HDBSCAN on the rest. Here: zero-shot topics plus SAE topics."""
    from bertopic_sae import BERTopic

    model = BERTopic(
        embedding_model=embedding_model,
        calculate_probabilities=True,
        zeroshot_topic_list=["religion", "cars", "electronics"],
        zeroshot_min_similarity=0.3,
        clustering_model=_merger(),
    )
    return model.fit(documents, document_embeddings)


@pytest.fixture(scope="session")
def custom_topic_model(documents, document_embeddings, embedding_model, shipped_sae):
    """Stock: explicit UMAP + HDBSCAN. Here: an explicit SAEEncoder in the umap slot + the merger."""
    from bertopic_sae import BERTopic, SAEEncoder

    model = BERTopic(
        umap_model=SAEEncoder(sae=shipped_sae),
        clustering_model=_merger(sae=shipped_sae),
        embedding_model=embedding_model,
        calculate_probabilities=True,
    )
    return model.fit(documents, document_embeddings)


@pytest.fixture(scope="session")
def representation_topic_model(documents, document_embeddings, embedding_model, shipped_sae):
    """Stock: custom UMAP/HDBSCAN with KeyBERTInspired and MMR aspects. Here: the same on SAE topics."""
    from bertopic.representation import KeyBERTInspired, MaximalMarginalRelevance

    from bertopic_sae import BERTopic, SAEEncoder

    model = BERTopic(
        umap_model=SAEEncoder(sae=shipped_sae),
        clustering_model=_merger(sae=shipped_sae),
        embedding_model=embedding_model,
        representation_model={
            "Main": KeyBERTInspired(),
            "MMR": [KeyBERTInspired(top_n_words=30), MaximalMarginalRelevance()],
        },
        calculate_probabilities=True,
    )
    return model.fit(documents, document_embeddings)


@pytest.fixture(scope="session")
def reduced_topic_model(documents, document_embeddings, embedding_model, shipped_sae):
    """Stock: the custom model (75 HDBSCAN topics on these posts) after reduce_topics("auto"), which
    keeps 12 topics; the tests assume more than 10 are left. Here: the custom set-up with as many topics
    as the stock model has (STOCK_CUSTOM_TOPICS), then the same reduce_topics("auto")."""
    from bertopic_sae import BERTopic, SAEEncoder

    model = BERTopic(
        umap_model=SAEEncoder(sae=shipped_sae),
        clustering_model=_merger(n_topics=STOCK_CUSTOM_TOPICS, sae=shipped_sae),
        embedding_model=embedding_model,
        calculate_probabilities=True,
    ).fit(documents, document_embeddings)
    model.reduce_topics(documents, nr_topics="auto")
    return model


@pytest.fixture(scope="session")
def merged_topic_model(custom_topic_model, documents):
    model = copy.deepcopy(custom_topic_model)
    model.merge_topics(documents, [[1, 2], [3, 4]])
    model.merge_topics(documents, [[5, 6, 7]])
    return model


@pytest.fixture(scope="session")
def kmeans_pca_topic_model(documents, document_embeddings, embedding_model):
    """Stock: k-means (15 clusters, no outliers) on PCA. Here: 15 topics merged by decoder directions and
    assigned by the paper's sum rule (the simplest merger, as k-means/PCA is the simplest stock model)."""
    from bertopic_sae import BERTopic

    model = BERTopic(
        clustering_model=_merger(15, merge="decoder", assignment="sum"), embedding_model=embedding_model
    )
    return model.fit(documents, document_embeddings)


@pytest.fixture(scope="session")
def supervised_topic_model(documents, document_embeddings, embedding_model, targets):
    """Stock: LogisticRegression on the labels. Here: the merger given the same ``y`` (which it ignores)."""
    from bertopic_sae import BERTopic

    model = BERTopic(embedding_model=embedding_model, clustering_model=_merger())
    return model.fit(documents, embeddings=document_embeddings, y=targets)


@pytest.fixture(scope="session")
def online_topic_model(documents, document_embeddings, embedding_model):
    """Stock: PCA + MiniBatchKMeans(50) + OnlineCountVectorizer, 50 documents per partial_fit."""
    from bertopic.vectorizers import OnlineCountVectorizer

    from bertopic_sae import BERTopic

    model = BERTopic(
        clustering_model=_merger(50),
        vectorizer_model=OnlineCountVectorizer(stop_words="english", decay=0.01),
        embedding_model=embedding_model,
    )
    topics = []
    for index in range(0, len(documents), 50):
        model.partial_fit(documents[index : index + 50], document_embeddings[index : index + 50])
        topics.extend(model.topics_)
    model.topics_ = topics
    return model


@pytest.fixture(scope="session")
def cuml_base_topic_model():
    pytest.skip("cuML (RAPIDS, GPU) is not installed; the suite skips it upstream too.")
