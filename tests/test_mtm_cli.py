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


def test_fit_command_fits_metm_from_a_text_file(tmp_path, capsys):
    from bertopic_sae.data import load_corpus
    from bertopic_sae.mtm import load_model

    texts = load_corpus("reuters", limit=24).texts
    source = tmp_path / "docs.txt"
    source.write_text("\n".join(" ".join(t.split()) for t in texts) + "\n")
    model_dir = tmp_path / "metm"
    argv = ["fit", str(source), "--model", "metm", "--n-topics", "3", "--max-tokens", "32",
            "--seed", "1", "--out", str(model_dir), "--show", "3"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "saved to" in printed
    model = load_model(model_dir)
    assert model.kind == "metm" and model.doc_topic_.shape == (24, 3)
    import csv

    with open(model_dir / "topics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["Topic"]) for r in rows] == [0, 1, 2]
    assert sum(int(r["Count"]) for r in rows) == 24
    assert all(len(r["Words"].split()) == 10 and r["Features"].startswith("f") for r in rows)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    assert main([*argv[:-4], "--out", str(tmp_path / "mine")]) == 1  # a user's folder is never replaced
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
