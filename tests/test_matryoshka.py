"""Matryoshka-BatchTopK SAEs (nested dictionaries) and the merge over a prefix of the atoms."""

import json

import numpy as np
import pytest
import torch
from conftest import planted_ctm

from bertopic_sae import SAEAtomMerger, SAEConfig, SparseAutoencoder, TrainConfig, train_sae
from bertopic_sae.sae.config import default_prefixes
from bertopic_sae.tm.merge import ATOMS_PER_TOPIC, merge_prefix


def _fit(X, architecture, steps=300, d_sae=128, k=6, seed=0):
    cfg = SAEConfig(d_in=X.shape[1], d_sae=d_sae, architecture=architecture, k=k)
    return train_sae(X, cfg, TrainConfig(steps=steps, batch_size=500, lr=3e-3, seed=seed, verbose=False)).sae


def _prefix_fvu(sae: SparseAutoencoder, X: np.ndarray, size: int) -> float:
    """FVU of reconstructing X from the first ``size`` atoms' inference codes only."""
    with torch.no_grad():
        x = torch.from_numpy(X)
        acts = sae.encode(x).acts
        recon = acts[:, :size] @ sae.W_dec[:size] + sae.b_dec
        return float((x - recon).pow(2).sum() / (x - x.mean(0)).pow(2).sum())


def test_default_prefixes_double_up_to_the_dictionary():
    assert default_prefixes(6144) == (192, 384, 768, 1536, 3072, 6144)
    cfg = SAEConfig(d_in=384, expansion_factor=16, architecture="matryoshka-batchtopk")
    assert cfg.prefixes == (192, 384, 768, 1536, 3072, 6144)


@pytest.mark.parametrize("kwargs, match", [
    ({"architecture": "matryoshka-batchtopk", "prefixes": (64, 32, 128)}, "prefixes must increase"),
    ({"architecture": "matryoshka-batchtopk", "prefixes": (32, 64)}, "d_sae=128"),
    ({"architecture": "batchtopk", "prefixes": (64, 128)}, "for architecture=.matryoshka-batchtopk. only"),
])
def test_bad_prefixes_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SAEConfig(d_in=16, d_sae=128, **kwargs)


def test_loss_is_the_mean_of_the_prefix_reconstruction_errors():
    sae = SparseAutoencoder(SAEConfig(d_in=8, d_sae=16, architecture="matryoshka-batchtopk", k=4,
                                      prefixes=(4, 8, 16)), seed=0)
    x = torch.randn(10, 8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = sae(x)
    acts = out.acts
    by_hand = [(x - (acts[:, :m] @ sae.W_dec[:m] + sae.b_dec)).pow(2).sum(-1).mean() for m in (4, 8, 16)]
    assert float(out.loss) == pytest.approx(float(torch.stack(by_hand).mean()), rel=1e-5)
    assert float(out.mse) == pytest.approx(float(by_hand[-1]), rel=1e-5)
    assert (acts > 0).sum() == 4 * 10  # batch top-k while training


def test_coarse_prefix_reconstructs_better_than_a_plain_batchtopk_prefix():
    """What the nested loss buys: the first atoms alone already explain the data, unlike BatchTopK's."""
    X, _ = planted_ctm(4000, 32, 32, per_doc=3, noise=0.05)
    matryoshka, plain = _fit(X, "matryoshka-batchtopk"), _fit(X, "batchtopk")
    for size in (8, 16):
        assert _prefix_fvu(matryoshka, X, size) < _prefix_fvu(plain, X, size) - 0.1
    assert _prefix_fvu(matryoshka, X, 128) < 0.5  # the whole dictionary still reconstructs


def test_inference_uses_the_threshold_and_round_trips(tmp_path):
    X, _ = planted_ctm(3000, 32, 16, per_doc=2, noise=0.05)
    sae = _fit(X, "matryoshka-batchtopk", steps=200, d_sae=64, k=4)
    assert float(sae.threshold.min()) > 0
    codes = sae.encode_csr(X[:500])  # eval mode: the learned threshold, a varying number of atoms
    per_doc = np.diff(codes.indptr)
    assert 1 <= per_doc.mean() <= 12 and per_doc.min() < per_doc.max()
    sae.save_pretrained(tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "cfg.json").read_text())
    assert cfg["architecture"] == "jumprelu" and cfg["bertopic_sae"]["prefixes"] == [2, 4, 8, 16, 32, 64]
    loaded = SparseAutoencoder.from_pretrained(tmp_path / "m")
    assert loaded.cfg == sae.cfg and loaded.cfg.architecture == "matryoshka-batchtopk"
    assert (loaded.encode_csr(X[:500]) != codes).nnz == 0


def test_merge_prefix_rule():
    cfg = SAEConfig(d_in=384, d_sae=6144, architecture="matryoshka-batchtopk")
    assert ATOMS_PER_TOPIC == 8  # 160, 400, 800, 1600, 4000 and 8000 atoms wanted
    assert [merge_prefix(cfg, k) for k in (20, 50, 100, 200, 500, 1000)] == [192, 768, 1536, 3072, None, None]
    assert merge_prefix(cfg, 20, "all") is None and merge_prefix(cfg, 20, 300) == 300
    assert merge_prefix(SAEConfig(d_in=384, d_sae=1536), 20) is None  # not nested: every atom
    with pytest.raises(ValueError, match="atom_prefix"):
        merge_prefix(cfg, 20, 10_000)


def test_merger_clusters_the_prefix_and_every_firing_atom_joins_a_topic(bbc):
    _, _, embeddings = bbc
    cfg = SAEConfig(d_in=embeddings.shape[1], d_sae=256, architecture="matryoshka-batchtopk", k=16)
    sae = train_sae(embeddings, cfg, TrainConfig(steps=200, batch_size=200, lr=3e-3, verbose=False)).sae
    merger = SAEAtomMerger(n_topics=5, sae=sae, n_init=5, centroid_init="atoms").fit(embeddings)
    assert merger.atom_prefix_ == 64  # smallest nested dictionary with >= 8 atoms per topic
    firing = merger.atom_weights_ > 0
    assert (merger.atom_topic_[firing] >= 0).all() and (merger.atom_topic_[~firing] == -1).all()
    assert firing[64:].any()  # atoms past the prefix fire, and joined topics through their documents
    assert set(merger.labels_) == set(range(5))
    everything = SAEAtomMerger(n_topics=5, sae=sae, n_init=5, atom_prefix="all", centroid_init="atoms")
    everything.fit(embeddings)
    assert everything.atom_prefix_ is None
    with pytest.raises(ValueError, match="atom_prefix"):
        SAEAtomMerger(n_topics=5, sae=sae, atom_prefix="coarse").fit(embeddings)


def test_packaging_keeps_a_nested_prefix_or_the_live_atoms_with_the_same_codes():
    """benchmarks/build_pretrained.py may ship only a Matryoshka SAE's first nested dictionary or its live
    atoms: the kept atoms' codes must not change, and the prefixes must shrink with them."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks.build_pretrained import atoms_fired, select_atoms

    sae = SparseAutoencoder(SAEConfig(d_in=16, d_sae=64, architecture="matryoshka-batchtopk", k=4), seed=0)
    with torch.no_grad():
        sae.threshold.fill_(0.05)
        sae.b_enc[::3] = -10.0  # every third atom never fires
    X = np.random.default_rng(0).standard_normal((500, 16)).astype(np.float32)
    x = torch.from_numpy(X)
    first = select_atoms(sae, torch.arange(64) < 32, "beyond the prefix")
    assert first.cfg.prefixes == (2, 4, 8, 16, 32)
    assert torch.equal(first.encode(x).acts, sae.encode(x).acts[:, :32])
    fired = atoms_fired(first, X)
    live = select_atoms(first, fired > 0, "never fired")
    assert live.d_sae == int((fired > 0).sum()) == 21
    assert live.cfg.prefixes == (1, 2, 5, 10, 21)
    assert torch.allclose(live.encode(x).acts, first.encode(x).acts[:, fired > 0])
    assert torch.allclose(live.decode(live.encode(x).acts), first.decode(first.encode(x).acts), atol=1e-5)
    assert [part["atoms"] for part in live.metadata["atoms_left_out"]] == [32, 11]
