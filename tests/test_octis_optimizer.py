"""OCTIS's Bayesian ``Optimizer`` drives the adapters, and every hyperparameter it tunes reaches the model."""

import numpy as np
import pytest

pytest.importorskip("octis", reason="OCTIS is installed by the Makefile's --no-deps step")
pytest.importorskip("skopt", reason="scikit-optimize is in the bench extra")

from bertopic_sae import eval as adapters  # noqa: E402

K = 5
pytestmark = pytest.mark.slow
SEEN: list[dict] = []  # what each Optimizer call fitted (the Optimizer may copy the model)


class _Recording(adapters.SAETopicModel):
    def train_model(self, dataset, hyperparameters=None, top_words=10):
        output = super().train_model(dataset, hyperparameters, top_words)
        merger = self.model_.hdbscan_model
        SEEN.append({"top_p": merger.top_p, "refine_iterations": merger.refine_iterations})
        return output


@pytest.fixture(scope="module")
def small():
    corpus = adapters.load_octis_corpus("bbc_news").subset(300)
    return corpus, corpus.embeddings()


def test_every_adapter_hyperparameter_reaches_its_component(small):
    corpus, embeddings = small
    sae = adapters.SAETopicModel(K, embeddings=embeddings, seed=0, merger_params={"merge": "decoder"})
    sae.train_model(corpus.dataset, {"top_p": 0.5, "merger__refine_iterations": 3, "model__top_n_words": 7,
                                     "exclusivity": 1.5, "words__share_prior": 3.0})
    merger = sae.model_.hdbscan_model
    assert (merger.top_p, merger.refine_iterations, merger.merge) == (0.5, 3, "decoder")
    assert sae.model_.top_n_words == 7
    assert (sae.model_.ctfidf_model.exclusivity, sae.model_.ctfidf_model.share_prior) == (1.5, 3.0)
    with pytest.raises(ValueError, match="topic-word hyperparameters"):
        adapters.SAETopicModel(K, embeddings=embeddings, model_params={"ctfidf_model": None}).train_model(
            corpus.dataset, {"exclusivity": 1.0})
    kmeans = adapters.KMeansBERTopicModel(K, embeddings=embeddings, seed=0)
    kmeans.train_model(corpus.dataset, {"max_iter": 7, "model__top_n_words": 6})
    assert kmeans.model_.hdbscan_model.max_iter == 7 and kmeans.model_.top_n_words == 6
    stock = adapters.BERTopicModel(K, embeddings=embeddings, seed=0)
    stock.train_model(corpus.dataset, {"umap__n_neighbors": 8, "hdbscan__min_cluster_size": 6})
    assert stock.model_.umap_model.n_neighbors == 8 and stock.model_.hdbscan_model.min_cluster_size == 6
    with pytest.raises(ValueError, match="'no_such' is not a hyperparameter"):
        adapters.SAETopicModel(K, embeddings=embeddings).train_model(corpus.dataset, {"no_such": 1})


def test_octis_optimizer_runs_three_calls_on_the_sae_adapter(small, tmp_path):
    from octis.evaluation_metrics.diversity_metrics import TopicDiversity
    from octis.optimization.optimizer import Optimizer
    from skopt.space.space import Integer, Real

    corpus, embeddings = small
    model = _Recording(K, embeddings=embeddings, seed=0, merger_params={"merge": "decoder"})
    SEEN.clear()
    result = Optimizer().optimize(
        model,
        corpus.dataset,
        TopicDiversity(topk=10),
        {"top_p": Real(0.3, 0.95), "refine_iterations": Integer(0, 20)},
        number_of_call=3,
        n_random_starts=2,
        model_runs=1,
        save_path=str(tmp_path) + "/",
        random_state=0,
    )
    asked = result.x_iters
    assert len(SEEN) == 3 and len(asked["top_p"]) == 3
    np.testing.assert_allclose([s["top_p"] for s in SEEN], asked["top_p"])  # the model fitted what was asked
    assert [s["refine_iterations"] for s in SEEN] == list(asked["refine_iterations"])
    assert len(set(asked["top_p"])) == 3
