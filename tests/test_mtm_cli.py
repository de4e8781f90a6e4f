"""`features` and `mtm-fit` from the command line, on real text with the real SmolLM2-135M."""

import numpy as np
import pytest

from bertopic_sae.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_features_is_resumable_and_mtm_fit_uses_it(tmp_path, capsys):
    out = tmp_path / "feats"
    argv = [
        "features",
        "reuters",
        "--limit",
        "16",
        "--max-tokens",
        "32",
        "--chunk-docs",
        "8",
        "--out",
        str(out),
        "-q",
    ]
    assert main(argv) == 0
    from bertopic_sae.mtm.cli import load_feature_counts

    fc = load_feature_counts(out)
    assert fc.counts.shape[0] == 16 and fc.counts.shape[1] == len(fc.features) > 0
    np.testing.assert_array_equal(fc.n_sae, np.asarray(fc.counts.sum(1)).ravel())
    chunk = out / "chunk-00000.npz"
    stamp = chunk.stat().st_mtime_ns
    assert main(argv) == 0 and chunk.stat().st_mtime_ns == stamp  # finished chunks are not redone
    model_dir = tmp_path / "mlda"
    assert (
        main(
            [
                "mtm-fit",
                "reuters",
                "--limit",
                "16",
                "--max-tokens",
                "32",
                "--features",
                str(out),
                "--model",
                "mlda",
                "--n-topics",
                "3",
                "--out",
                str(model_dir),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "saved to" in printed and (model_dir / "mtm_params.json").exists()
    assert (
        main(
            [
                "features",
                "reuters",
                "--limit",
                "16",
                "--max-tokens",
                "16",
                "--chunk-docs",
                "8",
                "--out",
                str(out),
                "-q",
            ]
        )
        == 1
    )  # other settings in the same folder are refused
