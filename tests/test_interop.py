"""Checkpoints move between this package and the real SAELens 6.54 / EleutherAI sparsify 1.3, both ways.

Every architecture each library writes either loads with the same outputs as the library computes, or is
refused with an error naming the cfg.json field; nothing loads with different outputs.
"""

import json

import numpy as np
import pytest
import torch

sae_lens = pytest.importorskip("sae_lens", reason="the interop extra (Makefile install) installs SAELens")
sparsify = pytest.importorskip("sparsify", reason="the interop extra (Makefile install) installs sparsify")

from sae_lens import SAE  # noqa: E402
from sae_lens.registry import get_sae_class, get_sae_training_class  # noqa: E402
from sparsify import SparseCoder, SparseCoderConfig  # noqa: E402

from bertopic_sae import SAEConfig, SparseAutoencoder  # noqa: E402

D_IN, D_SAE, K = 16, 64, 8


def _randomise(module: torch.nn.Module, seed: int = 0) -> None:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in module.named_parameters():
            if "threshold" in name:
                parameter.copy_(torch.rand(parameter.shape, generator=generator) * 0.3)
            else:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)


def _saelens(arch: str, *, training: bool = False, **fields):
    cls, cfg_cls = (get_sae_training_class if training else get_sae_class)(arch)
    if arch in ("topk", "batchtopk", "abstopk"):
        fields.setdefault("k", K)
    sae = cls(cfg_cls(d_in=D_IN, d_sae=D_SAE, **fields))
    _randomise(sae)
    return sae


def _inputs(seed: int = 1) -> torch.Tensor:
    return torch.randn(64, D_IN, generator=torch.Generator().manual_seed(seed))


def _assert_same(ours: SparseAutoencoder, encode, decode) -> None:
    x = _inputs()
    with torch.no_grad():
        reference = encode(x)
        torch.testing.assert_close(ours.encode(x).acts, reference, atol=1e-5, rtol=1e-5)
        assert int((reference > 0).sum()) > 0  # the comparison is not between two zero matrices
        torch.testing.assert_close(ours.decode(reference), decode(reference), atol=1e-5, rtol=1e-5)


# ------------------------------------------------------------------------------------- SAELens -> ours
@pytest.mark.parametrize(
    "arch, fields, expected",
    [
        ("standard", {}, "relu-l1"),
        ("topk", {}, "topk"),
        ("topk", {"rescale_acts_by_decoder_norm": True}, "topk"),
        ("jumprelu", {}, "batchtopk"),
    ],
)
def test_saelens_inference_saes_load_with_the_same_outputs(tmp_path, arch, fields, expected):
    sae = _saelens(arch, **fields)
    sae.save_model(tmp_path)
    ours = SparseAutoencoder.from_pretrained(tmp_path)
    assert ours.cfg.architecture == expected
    _assert_same(ours, sae.encode, sae.decode)


@pytest.mark.parametrize("arch", ["standard", "topk", "jumprelu", "batchtopk"])
def test_saelens_training_checkpoints_load_like_saelens_inference_models(tmp_path, arch):
    # TopKTrainingSAE rescales by the decoder norm by default, BatchTopK stores one scalar threshold:
    # the reference is SAELens's own conversion of the same weights to an inference SAE.
    sae = _saelens(arch, training=True)
    if arch == "batchtopk":
        with torch.no_grad():
            sae.topk_threshold.fill_(0.4)
    sae.save_model(tmp_path / "training")
    sae.save_inference_model(tmp_path / "inference")
    reference = SAE.load_from_disk(str(tmp_path / "inference"))
    ours = SparseAutoencoder.from_pretrained(tmp_path / "training")
    _assert_same(ours, reference.encode, reference.decode)


def test_pre_6_saelens_config_topk_and_unnormalised_load(tmp_path):
    sae = _saelens("topk")
    sae.save_model(tmp_path)
    cfg = json.loads((tmp_path / "cfg.json").read_text())
    old = {  # the fields a SAELens 5.x topk checkpoint writes
        "d_in": D_IN, "d_sae": D_SAE, "dtype": "float32", "device": "cpu", "model_name": "gpt2",
        "hook_name": "blocks.0.hook_resid_pre", "hook_layer": 0, "hook_head_index": None,
        "activation_fn_str": "topk", "activation_fn_kwargs": {"k": K}, "apply_b_dec_to_input": True,
        "finetuning_scaling_factor": False, "sae_lens_training_version": "5.3.0", "prepend_bos": True,
        "dataset_path": "x", "context_size": 128, "normalize_activations": False,
    }
    assert set(cfg) - set(old) <= {"architecture", "k", "metadata", "reshape_activations",
                                   "rescale_acts_by_decoder_norm", "use_sparse_activations"}
    (tmp_path / "cfg.json").write_text(json.dumps(old))
    ours = SparseAutoencoder.from_pretrained(tmp_path)
    assert ours.cfg.architecture == "topk" and ours.cfg.k == K
    reference = SAE.load_from_disk(str(tmp_path))  # SAELens's own reading of the old config
    _assert_same(ours, reference.encode, reference.decode)


@pytest.mark.parametrize(
    "arch, fields, field",
    [
        ("gated", {}, "architecture"),
        ("abstopk", {}, "architecture"),
        ("matching_pursuit", {}, "architecture"),
        ("transcoder", {"apply_b_dec_to_input": False}, "architecture"),
        ("skip_transcoder", {"apply_b_dec_to_input": False}, "architecture"),
        ("jumprelu_transcoder", {"apply_b_dec_to_input": False}, "architecture"),
        ("jumprelu_skip_transcoder", {"apply_b_dec_to_input": False}, "architecture"),
        ("standard", {"apply_b_dec_to_input": False}, "apply_b_dec_to_input"),
        ("topk", {"apply_b_dec_to_input": False}, "apply_b_dec_to_input"),
        ("standard", {"normalize_activations": "layer_norm"}, "normalize_activations"),
        ("standard", {"normalize_activations": "constant_norm_rescale"}, "normalize_activations"),
        ("standard", {"normalize_activations": "expected_average_only_in"}, "normalize_activations"),
        ("standard", {"reshape_activations": "hook_z"}, "reshape_activations"),
    ],
)
def test_saelens_variants_this_package_cannot_compute_are_refused(tmp_path, arch, fields, field):
    _saelens(arch, **fields).save_model(tmp_path)
    with pytest.raises(ValueError, match=field):
        SparseAutoencoder.from_pretrained(tmp_path)


@pytest.mark.parametrize(
    "field, value",
    [
        ("activation_fn_str", "tanh-relu"),
        ("finetuning_scaling_factor", True),
        ("normalize_activations", True),
    ],
)
def test_pre_6_saelens_options_that_change_outputs_are_refused(tmp_path, field, value):
    _saelens("standard").save_model(tmp_path)
    cfg = json.loads((tmp_path / "cfg.json").read_text())
    cfg.pop("metadata")
    cfg[field] = value
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match=field.removesuffix("_str")):
        SparseAutoencoder.from_pretrained(tmp_path)


# ------------------------------------------------------------------------------------- ours -> SAELens
@pytest.mark.parametrize("architecture", ["relu-l1", "topk", "batchtopk"])
def test_saelens_loads_what_this_package_saves(tmp_path, architecture):
    ours = SparseAutoencoder(SAEConfig(d_in=D_IN, d_sae=D_SAE, architecture=architecture, k=K), seed=0)
    _randomise(ours)
    ours.save_pretrained(tmp_path)
    theirs = SAE.load_from_disk(str(tmp_path))
    _assert_same(ours, theirs.encode, theirs.decode)


# ------------------------------------------------------------------------------------- sparsify
def _sparse_coder(**fields) -> SparseCoder:
    coder = SparseCoder(D_IN, SparseCoderConfig(num_latents=D_SAE, k=K, **fields))
    _randomise(coder)
    return coder


def _sparsify_encode(coder: SparseCoder):
    def encode(x):
        out = coder.encode(x)
        return torch.zeros(x.shape[0], D_SAE).scatter_(-1, out.top_indices, out.top_acts)

    return encode


def _sparsify_decode(coder: SparseCoder):
    def decode(acts):
        values, indices = acts.topk(K, dim=-1)
        return coder.decode(values, indices)

    return decode


@pytest.mark.parametrize("fields", [{}, {"normalize_decoder": False}, {"multi_topk": True}])
def test_sparsify_checkpoints_load_with_the_same_outputs(tmp_path, fields):
    coder = _sparse_coder(**fields)
    coder.save_to_disk(tmp_path)
    ours = SparseAutoencoder.from_pretrained(tmp_path)
    assert ours.cfg.architecture == "topk" and ours.cfg.k == K
    _assert_same(ours, _sparsify_encode(coder), _sparsify_decode(coder))


@pytest.mark.parametrize("fields, field", [({"activation": "groupmax"}, "activation"),
                                           ({"skip_connection": True}, "skip_connection"),
                                           ({"transcode": True}, "transcode")])
def test_sparsify_variants_this_package_cannot_compute_are_refused(tmp_path, fields, field):
    _sparse_coder(**fields).save_to_disk(tmp_path)
    with pytest.raises(ValueError, match=field):
        SparseAutoencoder.from_pretrained(tmp_path)


def test_sparsify_loads_what_this_package_saves_in_its_layout(tmp_path):
    ours = SparseAutoencoder(SAEConfig(d_in=D_IN, d_sae=D_SAE, architecture="topk", k=K), seed=0)
    _randomise(ours)
    ours.save_pretrained(tmp_path / "sae", layout="sparsify")
    assert (tmp_path / "sae" / "sae.safetensors").exists()
    coder = SparseCoder.load_from_disk(tmp_path / "sae")
    _assert_same(ours, _sparsify_encode(coder), _sparsify_decode(coder))
    again = SparseAutoencoder.from_pretrained(tmp_path / "sae")  # and back
    np.testing.assert_array_equal(again.atoms(), ours.atoms())


def test_sparsify_layout_refuses_architectures_sparsify_lacks(tmp_path):
    ours = SparseAutoencoder(SAEConfig(d_in=D_IN, d_sae=D_SAE, architecture="relu-l1"), seed=0)
    with pytest.raises(ValueError, match="sparsify stores topk SAEs only"):
        ours.save_pretrained(tmp_path / "sae", layout="sparsify")
    assert not (tmp_path / "sae").exists()
