"""Where the topic centroids start (``SAEAtomMerger(centroid_init=...)``, tm/assignment.py)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.preprocessing import normalize

from bertopic_sae import SAEAtomMerger
from bertopic_sae.tm.assignment import document_seeds, fit_centroids


@pytest.fixture(scope="module")
def groups():
    """900 unit points around 6 directions (32 dims), served in blocks of 250 like ``unit_points``."""
    rng = np.random.default_rng(0)
    centres = normalize(rng.standard_normal((6, 32)))
    truth = rng.integers(0, 6, 900)
    points = normalize(centres[truth] + 0.3 * rng.standard_normal((900, 32)) / 4).astype(np.float32)

    def blocks():
        for start in range(0, 900, 250):
            yield start, points[start : start + 250]

    return blocks, points, truth


def test_document_seeds_are_seeded_unit_documents(groups):
    blocks, points, _ = groups
    seeds = document_seeds(blocks, 900, 6, random_state=3)
    assert seeds.shape == (6, 32) and seeds.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(seeds, axis=1), 1.0, rtol=1e-5)
    assert np.isclose((points @ seeds.T).max(axis=0), 1.0, atol=1e-5).all()  # each seed is a document
    np.testing.assert_array_equal(seeds, document_seeds(blocks, 900, 6, random_state=3))


def test_document_seeds_from_a_subsample_across_blocks(groups):
    blocks, points, _ = groups
    seeds = document_seeds(blocks, 900, 6, random_state=0, max_points=100)  # every 9th document
    every_ninth = points[::9]
    assert np.isclose((every_ninth @ seeds.T).max(axis=0), 1.0, atol=1e-5).all()
    with pytest.raises(ValueError, match="cannot seed 20 topics"):
        document_seeds(blocks, 900, 20, max_points=10)


def test_refinement_from_document_seeds_finds_the_groups(groups):
    blocks, points, truth = groups
    start = document_seeds(blocks, 900, 6, random_state=0)
    centroids = fit_centroids(blocks, None, 900, 32, refine_iterations=50, start=start)
    assert adjusted_rand_score(truth, (points @ centroids.T).argmax(axis=1)) > 0.95


def test_fit_centroids_takes_weights_or_a_start_not_both(groups):
    blocks, _, _ = groups
    weights = np.full((900, 6), 1 / 6)
    with pytest.raises(ValueError, match="exactly one of weights"):
        fit_centroids(blocks, weights, 900, 32, 5, start=np.ones((6, 32)))
    with pytest.raises(ValueError, match="exactly one of weights"):
        fit_centroids(blocks, None, 900, 32, 5)


@pytest.fixture(scope="module")
def document_merger(bbc, small_sae):
    _, _, embeddings = bbc
    return SAEAtomMerger(n_topics=8, sae=small_sae, merge="decoder", centroid_init="documents",
                         random_state=0).fit(embeddings)


def test_documents_init_skips_the_atom_merge_and_atoms_join_their_documents(document_merger, bbc):
    _, labels, _ = bbc
    merger = document_merger
    assert merger.atom_prefix_ is None and set(merger.labels_) == set(range(8))
    fired = merger.atom_weights_ > 0
    assert (merger.atom_topic_[fired] >= 0).all() and (merger.atom_topic_[~fired] == -1).all()
    np.testing.assert_allclose(merger.probabilities_.sum(axis=1), 1.0, rtol=1e-5)
    assert normalized_mutual_info_score(labels, merger.labels_) > 0.5  # BBC's 5 categories


def test_documents_init_is_seeded_and_predicts_like_it_fits(document_merger, bbc, small_sae):
    _, _, embeddings = bbc
    again = SAEAtomMerger(n_topics=8, sae=small_sae, merge="decoder", centroid_init="documents",
                          random_state=0).fit(embeddings)
    np.testing.assert_array_equal(again.labels_, document_merger.labels_)
    np.testing.assert_array_equal(document_merger.predict(embeddings), document_merger.labels_)


def test_documents_init_re_merges_to_another_number_of_topics(bbc, small_sae):
    _, _, embeddings = bbc
    merger = SAEAtomMerger(n_topics=8, sae=small_sae, merge="decoder", centroid_init="documents").fit(
        embeddings
    )
    merger.merge_atoms(12, embeddings)
    assert set(merger.labels_) == set(range(12)) and merger.probabilities_.shape == (len(embeddings), 12)


def test_bad_centroid_init_is_refused(bbc, small_sae):
    with pytest.raises(ValueError, match="centroid_init must be 'auto', 'atoms' or 'documents'"):
        SAEAtomMerger(n_topics=8, sae=small_sae, centroid_init="kmeans").fit(bbc[2])


def test_auto_starts_from_the_atoms_below_the_threshold_and_from_the_documents_above():
    from bertopic_sae.tm.assignment import DOCUMENT_START_FROM, centroid_start

    assert centroid_start("auto", DOCUMENT_START_FROM - 1) == "atoms"
    assert centroid_start("auto", DOCUMENT_START_FROM) == "documents"
    assert centroid_start("atoms", 500) == "atoms" and centroid_start("documents", 2) == "documents"


def test_auto_merger_follows_the_start_of_its_number_of_topics(bbc, small_sae, document_merger, monkeypatch):
    from bertopic_sae.tm import assignment

    _, _, embeddings = bbc
    monkeypatch.setattr(assignment, "DOCUMENT_START_FROM", 8)  # this corpus is too small for 50 topics
    auto = SAEAtomMerger(n_topics=8, sae=small_sae, merge="decoder", random_state=0).fit(embeddings)
    assert auto.centroid_init == "auto"
    np.testing.assert_array_equal(auto.labels_, document_merger.labels_)
    auto.merge_atoms(7, embeddings)  # below the threshold: the atom merge, as centroid_init="atoms" does
    atoms = SAEAtomMerger(n_topics=7, sae=small_sae, merge="decoder", centroid_init="atoms",
                          random_state=0).fit(embeddings)
    np.testing.assert_array_equal(auto.labels_, atoms.labels_)
    np.testing.assert_array_equal(auto.atom_topic_, atoms.atom_topic_)
