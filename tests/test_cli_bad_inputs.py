"""Bad inputs through the command line (issue 14): one-line errors naming the problem and the fix,
user files never touched, ``-q`` silent. Data: the first 120 documents of the gensim Lee corpus, the
shipped SAE."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bertopic_sae.cli import main

N_DOCS = 120


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def lee_file(tmp_path_factory):
    from bertopic_sae.data import load_corpus

    path = tmp_path_factory.mktemp("lee") / "lee.txt"
    # 120 of its 300 paragraphs: embedding them is most of this file's time
    path.write_text("\n".join(load_corpus("lee").texts[:N_DOCS]) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def lee_embeddings(lee_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("emb") / "lee"
    before = torch.get_num_threads()
    # float16 shards, the default. One thread and batches of 32, as `fit` embeds: other thread counts and
    # batchings (padding) change the last bits on some CPUs, float16 rounding can turn that into one ulp,
    # and the SAE merge of 120 documents can amplify it into another topic table
    args = ["--out", str(out), "-q", "--threads", "1", "--batch-size", "32"]
    assert main(["embed", str(lee_file), *args]) == 0
    torch.set_num_threads(before)
    return out


def _error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


def test_fit_quiet_is_silent_and_refuses_a_folder_with_user_files(
    lee_file, lee_embeddings, tmp_path, capfd, one_thread
):
    out = tmp_path / "project"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    argv = [
        "fit",
        str(lee_file),
        "--embeddings",
        str(lee_embeddings),
        "--sae",
        "minilm-l6-v2",
        "--n-topics",
        "5",
        "--out",
        str(out),
        "-q",
        "--threads",
        "1",
    ]
    assert main(argv) == 1
    err = capfd.readouterr().err.strip()
    assert "--overwrite" in err and len(err.splitlines()) == 1, err
    assert (out / "notes.txt").read_text() == "keep me"
    fresh = tmp_path / "model"
    argv[argv.index("--out") + 1] = str(fresh)
    assert main(argv) == 0
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == "", captured.err[-2000:]
    assert (fresh / "topics.csv").exists()
    assert main(argv) == 0  # our own model folder is replaced without --overwrite
    capfd.readouterr()


def test_fit_refuses_embeddings_of_other_texts(lee_file, lee_embeddings, tmp_path, capsys):
    other = tmp_path / "other.txt"
    lines = lee_file.read_text(encoding="utf-8").splitlines()
    other.write_text("\n".join(reversed(lines)) + "\n", encoding="utf-8")  # same count, other order
    code = main(
        [
            "fit",
            str(other),
            "--embeddings",
            str(lee_embeddings),
            "--sae",
            "minilm-l6-v2",
            "-q",
            "--out",
            str(tmp_path / "m"),
        ]
    )
    assert code == 1
    err = _error(capsys)
    assert "other texts" in err and "bertopic-sae embed" in err


def test_non_utf8_input_refused_with_line(tmp_path, capsys):
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"good line\n" + "Übelkeit und Müdigkeit\n".encode("latin-1"))
    assert main(["embed", str(path), "--out", str(tmp_path / "e"), "-q"]) == 1
    err = _error(capsys)
    assert "UTF-8" in err and "line 2" in err and "iconv" in err


def test_non_utf8_csv_refused(tmp_path, capsys):
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"text\n" + "Übelkeit und Müdigkeit\n".encode("latin-1"))
    assert main(["embed", str(path), "--out", str(tmp_path / "e"), "-q"]) == 1
    assert "UTF-8" in _error(capsys)


def test_cuda_without_gpu_refused(lee_file, tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert main(["embed", str(lee_file), "--out", str(tmp_path / "e"), "--device", "cuda", "-q"]) == 1
    err = _error(capsys)
    assert "CUDA" in err and "--device cpu" in err


def test_embed_progress_bar_moves_before_1024_documents(tmp_path, capfd):
    import re
    import time

    from bertopic_sae.cli import embed_to_shards

    class SlowModel:  # a real model takes this long per slice; tqdm redraws at most every 0.1 s
        def get_embedding_dimension(self):
            return 4

        def encode(self, texts, **kwargs):
            time.sleep(0.15)
            return np.ones((len(texts), 4), np.float32) / 2

    embed_to_shards(
        [f"document {i}" for i in range(300)], tmp_path / "e", model=SlowModel(), batch_size=64, verbose=True
    )
    err = capfd.readouterr().err
    assert re.search(r"\b(?:[1-9]\d?|[12]\d\d)/300\b", err), err[-500:]


def test_missing_text_column_named(tmp_path, capsys):
    path = tmp_path / "docs.jsonl"
    path.write_text(json.dumps({"body": "hello world"}) + "\n")
    assert main(["embed", str(path), "--out", str(tmp_path / "e"), "-q"]) == 1
    err = _error(capsys)
    assert "'text'" in err and "--text-column" in err


def test_missing_source_named(tmp_path, capsys):
    assert main(["embed", str(tmp_path / "nope.txt"), "--out", str(tmp_path / "e"), "-q"]) == 1
    assert "nope.txt" in _error(capsys)


def test_embeddings_count_mismatch_refused(lee_file, lee_embeddings, tmp_path, capsys):
    assert (
        main(
            [
                "fit",
                str(lee_file),
                "--limit",
                "50",
                "--embeddings",
                str(lee_embeddings),
                "--sae",
                "minilm-l6-v2",
                "-q",
                "--out",
                str(tmp_path / "m"),
            ]
        )
        == 1
    )
    assert "rows but there are 50 documents" in _error(capsys)


def test_pretrain_refuses_folder_with_user_files(lee_embeddings, tmp_path, capsys, one_thread):
    out = tmp_path / "sae"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    code = main(
        [
            "pretrain",
            str(lee_embeddings),
            "--out",
            str(out),
            "--d-sae",
            "64",
            "--steps",
            "20",
            "--batch-size",
            "50",
            "-q",
            "--threads",
            "1",
        ]
    )
    assert code == 1
    assert "--overwrite" in _error(capsys)
    assert (out / "notes.txt").read_text() == "keep me"


def test_both_cli_routes_give_the_same_topics(lee_file, lee_embeddings, tmp_path, capfd, one_thread,
                                              monkeypatch):
    """`embed` (float16 shards) then `fit --embeddings`, and `fit` alone (float32): one topic table."""
    # `fit` alone embeds afresh, on one thread like `embed` above: not from a cache another test may have
    # filled at another thread count (last-bit differences, which float16 rounding can turn into one ulp)
    monkeypatch.setenv("BERTOPIC_SAE_CACHE", str(tmp_path / "cache"))
    shards = lee_embeddings
    common = ["--sae", "minilm-l6-v2", "--n-topics", "5", "-q", "--threads", "1"]
    out_a = str(tmp_path / "a")
    assert main(["fit", str(lee_file), "--embeddings", str(shards), "--out", out_a, *common]) == 0
    assert main(["fit", str(lee_file), "--out", str(tmp_path / "b"), *common]) == 0
    capfd.readouterr()
    assert (tmp_path / "a" / "topics.csv").read_text() == (tmp_path / "b" / "topics.csv").read_text()
