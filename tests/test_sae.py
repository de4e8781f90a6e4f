import json

import numpy as np
import pytest
import torch
from conftest import planted_ctm
from safetensors.torch import save_file

from bertopic_sae import SAEConfig, SparseAutoencoder, TrainConfig, train_sae


def best_cosines(sae: SparseAutoencoder, planted: np.ndarray) -> np.ndarray:
    atoms = sae.atoms()
    atoms /= np.linalg.norm(atoms, axis=1, keepdims=True)
    return (planted @ atoms.T).max(axis=1)


def fit(X, steps=600, **sae_kwargs):
    cfg = SAEConfig(d_in=X.shape[1], **sae_kwargs)
    return train_sae(X, cfg, TrainConfig(steps=steps, batch_size=500, lr=3e-3, verbose=False))


def test_ctm_theory_planted_directions_are_recovered():
    """SAE-TM's claim: the L1 SAE is the MAP estimator of a continuous LDA, so with sparse mixtures
    (3 of 32 topics per document, little noise) every planted topic direction gets an atom."""
    X, planted = planted_ctm(6000, 64, 32, per_doc=3, noise=0.05)
    result = fit(X, d_sae=128, l1_coefficient=0.1)
    cosines = best_cosines(result.sae, planted)
    assert cosines.min() >= 0.9, cosines.round(2)
    assert result.l0 < 10


@pytest.mark.parametrize("regime", ["dense mixtures", "noise dominates"])
def test_ctm_theory_fails_outside_its_regime(regime):
    """Where the CTM assumptions break (every document mixes all topics, or the noise is as large as
    the signal) the atoms no longer line up with the planted directions."""
    kwargs = dict(per_doc=32, noise=0.05) if regime == "dense mixtures" else dict(per_doc=3, noise=1.0)
    X, planted = planted_ctm(6000, 64, 32, **kwargs)
    cosines = best_cosines(fit(X, d_sae=128, l1_coefficient=0.1).sae, planted)
    assert (cosines >= 0.9).mean() < 0.8


def test_architectures_have_expected_sparsity():
    X, _ = planted_ctm(3000, 32, 16, per_doc=2, noise=0.05)
    for arch in ("topk", "batchtopk"):
        result = fit(X, steps=150, d_sae=64, architecture=arch, k=4)
        assert result.l0 == pytest.approx(4, abs=0.01)
        codes = result.sae.encode_csr(X[:200])
        per_doc = np.diff(codes.indptr)
        if arch == "topk":
            assert per_doc.max() <= 4
        else:  # inference uses the learned threshold: about k active atoms on average
            assert 1 <= per_doc.mean() <= 12


def test_decoder_atoms_stay_unit_norm():
    X, _ = planted_ctm(2000, 32, 8, per_doc=2, noise=0.05)
    sae = fit(X, steps=50, d_sae=64).sae
    np.testing.assert_allclose(np.linalg.norm(sae.atoms(), axis=1), 1.0, atol=1e-5)


def test_same_seed_gives_identical_weights():
    X, _ = planted_ctm(2000, 32, 8, per_doc=2, noise=0.05)
    a, b = fit(X, steps=60, d_sae=64).sae, fit(X, steps=60, d_sae=64).sae
    for name in ("W_enc", "b_enc", "W_dec", "b_dec"):
        assert torch.equal(getattr(a, name), getattr(b, name))


def test_save_load_round_trip_gives_identical_codes(tmp_path):
    X, _ = planted_ctm(1000, 32, 8, per_doc=2, noise=0.05)
    for arch in ("relu-l1", "topk", "batchtopk"):
        sae = fit(X, steps=40, d_sae=64, architecture=arch, k=4).sae
        written = sae.save_pretrained(tmp_path / arch)
        assert sorted(p.name for p in written) == ["cfg.json", "sae_weights.safetensors"]
        cfg = json.loads((tmp_path / arch / "cfg.json").read_text())
        assert cfg["d_in"] == 32 and cfg["d_sae"] == 64
        assert cfg["architecture"] == {"relu-l1": "standard", "topk": "topk", "batchtopk": "jumprelu"}[arch]
        loaded = SparseAutoencoder.from_pretrained(tmp_path / arch)
        assert loaded.cfg == sae.cfg
        assert (loaded.encode_csr(X) != sae.encode_csr(X)).nnz == 0


def test_loads_saelens_standard_layout(tmp_path):
    """A checkpoint written to SAELens's documented layout (no bertopic_sae keys) loads and encodes."""
    d_in, d_sae = 16, 48
    g = torch.Generator().manual_seed(0)
    tensors = {
        "W_enc": torch.randn(d_in, d_sae, generator=g),
        "b_enc": torch.randn(d_sae, generator=g),
        "W_dec": torch.randn(d_sae, d_in, generator=g),
        "b_dec": torch.randn(d_in, generator=g),
    }
    save_file(tensors, str(tmp_path / "sae_weights.safetensors"))
    (tmp_path / "cfg.json").write_text(json.dumps({
        "d_in": d_in, "d_sae": d_sae, "architecture": "standard", "dtype": "float32",
        "apply_b_dec_to_input": True, "normalize_activations": "none", "hook_name": "blocks.0.hook_resid_pre",
    }))
    sae = SparseAutoencoder.from_pretrained(tmp_path)
    x = torch.randn(5, d_in, generator=g)
    expected = torch.relu((x - tensors["b_dec"]) @ tensors["W_enc"] + tensors["b_enc"])
    torch.testing.assert_close(sae.encode(x).acts, expected)
    torch.testing.assert_close(sae.decode(expected), expected @ tensors["W_dec"] + tensors["b_dec"])


def test_loads_sparsify_layout(tmp_path):
    """EleutherAI sparsify: cfg.json + sae.safetensors, encoder.weight (n_latents, d_in), per hookpoint."""
    d_in, n = 16, 40
    g = torch.Generator().manual_seed(1)
    tensors = {
        "encoder.weight": torch.randn(n, d_in, generator=g),
        "encoder.bias": torch.randn(n, generator=g),
        "W_dec": torch.randn(n, d_in, generator=g),
        "b_dec": torch.randn(d_in, generator=g),
    }
    hook = tmp_path / "layers.3"
    hook.mkdir()
    save_file(tensors, str(hook / "sae.safetensors"))
    (hook / "cfg.json").write_text(
        json.dumps(
            {"expansion_factor": 32, "normalize_decoder": True, "num_latents": n, "k": 5, "d_in": d_in}
        )
    )
    with pytest.raises(FileNotFoundError, match="hookpoint"):
        SparseAutoencoder.from_pretrained(tmp_path)
    sae = SparseAutoencoder.from_pretrained(tmp_path, hookpoint="layers.3")
    assert sae.cfg.architecture == "topk" and sae.cfg.k == 5
    x = torch.randn(4, d_in, generator=g)
    pre = torch.relu((x - tensors["b_dec"]) @ tensors["encoder.weight"].T + tensors["encoder.bias"])
    values, indices = pre.topk(5)
    torch.testing.assert_close(sae.encode(x).acts, torch.zeros_like(pre).scatter_(-1, indices, values))


def test_corrupt_missing_and_mismatched_checkpoints_fail_clearly(tmp_path):
    sae = SparseAutoencoder(SAEConfig(d_in=8, d_sae=16), seed=0)
    sae.save_pretrained(tmp_path / "ok")
    with pytest.raises(FileNotFoundError, match="cfg.json"):
        SparseAutoencoder.from_pretrained(tmp_path / "missing-folder-that-is-no-hub-id" / "x")
    truncated = tmp_path / "truncated"
    sae.save_pretrained(truncated)
    data = (truncated / "sae_weights.safetensors").read_bytes()
    (truncated / "sae_weights.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="corrupt"):
        SparseAutoencoder.from_pretrained(truncated)
    mismatched = tmp_path / "mismatched"
    sae.save_pretrained(mismatched)
    cfg = json.loads((mismatched / "cfg.json").read_text())
    cfg["d_sae"] = 32
    cfg["bertopic_sae"]["d_sae"] = 32
    (mismatched / "cfg.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="do not belong together"):
        SparseAutoencoder.from_pretrained(mismatched)
    (tmp_path / "nofile").mkdir()
    (tmp_path / "nofile" / "cfg.json").write_text(json.dumps({"d_in": 8, "d_sae": 16}))
    with pytest.raises(FileNotFoundError, match="incomplete"):
        SparseAutoencoder.from_pretrained(tmp_path / "nofile")


def test_save_is_atomic_and_never_half_written(tmp_path, monkeypatch):
    sae = SparseAutoencoder(SAEConfig(d_in=8, d_sae=16), seed=0)
    sae.save_pretrained(tmp_path / "ckpt")
    before = (tmp_path / "ckpt" / "sae_weights.safetensors").read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("json.dumps", boom)
    other = SparseAutoencoder(SAEConfig(d_in=8, d_sae=16), seed=1)
    with pytest.raises(OSError):
        other.save_pretrained(tmp_path / "ckpt")
    assert (tmp_path / "ckpt" / "sae_weights.safetensors").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]  # no staging folder left behind


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.full((4, 8), np.nan, dtype=np.float32), "NaN"),
        (np.array([[1.0, np.inf] + [0.0] * 6], dtype=np.float32), "NaN or infinite"),
        (np.zeros((4, 5), dtype=np.float32), "d_in=8"),
        (np.zeros((0, 8), dtype=np.float32), "empty"),
        (np.zeros(8, dtype=np.float32), "2-D"),
    ],
)
def test_bad_inputs_give_clear_errors(bad, match):
    sae = SparseAutoencoder(SAEConfig(d_in=8, d_sae=16), seed=0)
    with pytest.raises(ValueError, match=match):
        sae.encode_csr(bad)
    with pytest.raises(ValueError, match=match):
        train_sae(bad, SAEConfig(d_in=8, d_sae=16), TrainConfig(steps=2, verbose=False))


def test_config_validation():
    with pytest.raises(ValueError, match="architecture"):
        SAEConfig(d_in=8, architecture="gated")
    with pytest.raises(ValueError, match="k must be"):
        SAEConfig(d_in=8, d_sae=16, architecture="topk", k=0)
    assert SAEConfig(d_in=8).d_sae == 32


def test_trains_from_memmap_and_from_batch_iterator(tmp_path):
    X, _ = planted_ctm(2000, 16, 4, per_doc=1, noise=0.01)
    mm = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=np.float32, shape=X.shape)
    mm[:] = X
    mm.flush()
    mm = np.load(tmp_path / "x.npy", mmap_mode="r")
    from_memmap = train_sae(
        mm, SAEConfig(d_in=16, d_sae=32), TrainConfig(steps=30, batch_size=100, verbose=False)
    )
    from_array = train_sae(
        X, SAEConfig(d_in=16, d_sae=32), TrainConfig(steps=30, batch_size=100, verbose=False)
    )
    assert torch.equal(from_memmap.sae.W_dec, from_array.sae.W_dec)

    batches = [X[i : i + 100] for i in range(0, 1000, 100)]
    result = train_sae(batches, None, TrainConfig(steps=25, batch_size=100, verbose=False))
    assert result.steps == 25 and result.sae.d_in == 16
    one_shot = train_sae(iter(batches), None, TrainConfig(steps=25, batch_size=100, verbose=False))
    assert one_shot.steps == 10  # a one-shot iterator ends training when it runs out


def test_dead_atoms_are_counted():
    X, _ = planted_ctm(2000, 16, 2, per_doc=1, noise=0.0)
    result = train_sae(
        X,
        SAEConfig(d_in=16, d_sae=64, l1_coefficient=0.3),
        TrainConfig(steps=200, batch_size=200, verbose=False),
    )
    assert 0 < result.dead < 64
    assert result.sae.metadata["dead_atoms"] == result.dead


def test_resume_after_a_crash_matches_an_uninterrupted_run(tmp_path, monkeypatch):
    import bertopic_sae.sae.train as train_module

    X, _ = planted_ctm(2000, 16, 4, per_doc=2, noise=0.05)
    cfg = SAEConfig(d_in=16, d_sae=32)
    settings = dict(steps=40, batch_size=100, verbose=False, checkpoint_every=10)
    full = train_sae(X, cfg, TrainConfig(**settings)).sae

    real_save = train_module._save_checkpoint

    def save_then_crash(folder, sae, optimizer, since_fired, step):
        real_save(folder, sae, optimizer, since_fired, step)
        if step == 20:
            raise KeyboardInterrupt("simulated kill after the step-20 checkpoint")

    monkeypatch.setattr(train_module, "_save_checkpoint", save_then_crash)
    with pytest.raises(KeyboardInterrupt):
        train_sae(X, cfg, TrainConfig(**settings, checkpoint_dir=str(tmp_path)))
    monkeypatch.setattr(train_module, "_save_checkpoint", real_save)
    resumed = train_sae(X, cfg, TrainConfig(**settings, checkpoint_dir=str(tmp_path)))
    assert resumed.steps == 40
    torch.testing.assert_close(resumed.sae.W_dec, full.W_dec)
