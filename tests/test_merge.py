"""The k-means over atoms (tm/merge.py): start rules, seeds, inactive atoms and bad options."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import normalize

from bertopic_sae.tm.merge import consensus_centroids, kmeans_atoms


@pytest.fixture(scope="module")
def atoms():
    """300 unit atom vectors around 6 directions (64 dims), θ̄ weights of very different sizes, 20 unused."""
    rng = np.random.default_rng(0)
    centres = normalize(rng.standard_normal((6, 64)))
    truth = rng.integers(0, 6, 300)
    vectors = normalize(centres[truth] + 0.35 * rng.standard_normal((300, 64)) / 8).astype(np.float32)
    weights = rng.pareto(1.5, 300) + 1e-3
    weights[rng.choice(300, 20, replace=False)] = 0.0
    return vectors, weights / weights.sum(), truth


def test_consensus_start_is_the_same_for_every_seed_and_finds_the_groups(atoms):
    vectors, weights, truth = atoms
    runs = [kmeans_atoms(vectors, weights, 6, seed, n_init=10) for seed in (0, 1, 7, None)]
    for run in runs[1:]:
        np.testing.assert_array_equal(run, runs[0])
    active = weights > 0
    assert (runs[0][~active] == -1).all() and (runs[0][active] >= 0).all()
    assert adjusted_rand_score(truth[active], runs[0][active]) > 0.95


def test_consensus_centroids_sit_on_the_groups(atoms):
    vectors, weights, truth = atoms
    active = weights > 0
    groups = normalize(np.vstack([vectors[(truth == g) & active].mean(axis=0) for g in range(6)]))
    for cap in (10_000, 120):  # all atoms; only the 120 heaviest in the co-association
        centroids = consensus_centroids(vectors[active], weights[active], 6, n_runs=10, max_atoms=cap)
        assert centroids.shape == (6, 64) and centroids.dtype == vectors.dtype
        assert (np.max(groups @ normalize(centroids).T, axis=1) > 0.9).all()


def test_kmeans_plus_plus_restarts_are_seeded(atoms):
    vectors, weights, _ = atoms
    first = kmeans_atoms(vectors, weights, 6, 3, init="k-means++", n_init=5)
    np.testing.assert_array_equal(first, kmeans_atoms(vectors, weights, 6, 3, init="k-means++", n_init=5))
    assert set(np.unique(first[weights > 0])) == set(range(6))


@pytest.mark.parametrize("options, name", [({"init": "random"}, "init"), ({"n_init": 0}, "n_init"),
                                           ({"n_init": True}, "n_init")])
def test_bad_start_options_refused(atoms, options, name):
    vectors, weights, _ = atoms
    with pytest.raises(ValueError, match=name):
        kmeans_atoms(vectors, weights, 6, 0, **options)


def test_consensus_shows_progress_only_when_verbose(capsys):
    rng = np.random.default_rng(0)
    vectors, weights = rng.standard_normal((60, 8)).astype(np.float32), np.ones(60)
    quiet = consensus_centroids(vectors, weights, 4, n_runs=5)
    assert capsys.readouterr().err == ""
    loud = consensus_centroids(vectors, weights, 4, n_runs=5, verbose=True)
    assert "Merging atoms (consensus)" in capsys.readouterr().err
    np.testing.assert_array_equal(quiet, loud)
