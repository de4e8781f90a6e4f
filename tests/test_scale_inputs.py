"""Bad input at scale: shards of mixed width or dtype, and a manifest that does not match its shards."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bertopic_sae.data import DataError, ShardedEmbeddings, embed_to_shards


class _Model:
    """A tiny deterministic embedder with the sentence-transformers encode signature."""

    def get_sentence_embedding_dimension(self) -> int:
        return 6

    def encode(self, texts, **_):
        rows = np.array([[len(t), t.count("a"), t.count("e"), 1.0, 2.0, 3.0] for t in texts], np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


@pytest.fixture()
def folder(tmp_path):
    texts = [f"text {i} " + "ae" * (i % 5) for i in range(30)]
    embed_to_shards(texts, tmp_path / "emb", model=_Model(), model_name="tiny", shard_size=10, verbose=False)
    return tmp_path / "emb"


def test_mixed_dtypes_are_refused_naming_the_files(tmp_path):
    np.save(tmp_path / "a.npy", np.ones((3, 4), np.float16))
    np.save(tmp_path / "b.npy", np.ones((2, 4), np.float32))
    with pytest.raises(DataError, match=r"mix storage types \(float16 in a.npy, float32 in b.npy\)"):
        ShardedEmbeddings(tmp_path / "a.npy", tmp_path / "b.npy")


def test_mixed_widths_name_a_file_of_each_width(tmp_path):
    np.save(tmp_path / "a.npy", np.ones((3, 4), np.float16))
    np.save(tmp_path / "b.npy", np.ones((2, 5), np.float16))
    with pytest.raises(DataError, match=r"one width; got 4 \(a.npy, ...\), 5 \(b.npy, ...\)"):
        ShardedEmbeddings(tmp_path / "a.npy", tmp_path / "b.npy")


def test_non_float_shard_is_refused(tmp_path):
    np.save(tmp_path / "a.npy", np.ones((3, 4), np.int32))
    with pytest.raises(DataError, match="int32 values, not float16/float32"):
        ShardedEmbeddings(tmp_path / "a.npy")


def test_manifest_shard_with_other_rows(folder):
    np.save(folder / "shard-00001.npy", np.ones((7, 6), np.float16))
    with pytest.raises(DataError, match=r"00001.npy has shape \(7, 6\) but manifest.json says \(10, 6\)"):
        ShardedEmbeddings(folder)


def test_manifest_shard_with_other_dtype(folder):
    np.save(folder / "shard-00002.npy", np.ones((10, 6), np.float32))
    with pytest.raises(DataError, match="holds float32 but manifest.json says float16; the folder does not"):
        ShardedEmbeddings(folder)


def test_manifest_missing_shard(folder):
    (folder / "shard-00000.npy").unlink()
    with pytest.raises(DataError, match="lists shard-00000.npy, which is missing; the folder does not match"):
        ShardedEmbeddings(folder)


def test_manifest_row_count_that_its_shards_do_not_hold(folder):
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["n_rows"] = 31
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match="says 31 rows but its shards hold 30"):
        ShardedEmbeddings(folder)


def test_broken_manifest_and_truncated_shard(folder):
    (folder / "shard-00001.npy").write_bytes(b"\x93NUMPY half")
    with pytest.raises(DataError, match="not a readable .npy shard"):
        ShardedEmbeddings(folder)
    (folder / "manifest.json").write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        ShardedEmbeddings(folder)


def test_good_folder_reads(folder):
    X = ShardedEmbeddings(folder)
    assert X.shape == (30, 6) and X[5:25].shape == (20, 6)


def test_a_disk_that_fills_mid_run_leaves_no_half_shard_and_the_rerun_resumes(tmp_path, monkeypatch):
    import errno

    import bertopic_sae._io as io

    texts = [f"text {i} " + "ae" * (i % 5) for i in range(30)]
    real_save, calls = np.save, {"n": 0}

    def full_disk(path, array, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # the second shard: write part of it, then the disk is full
            with open(path, "wb") as handle:
                handle.write(b"\x93NUMPY partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(path, array, *args, **kwargs)

    monkeypatch.setattr(io.np, "save", full_disk)
    with pytest.raises(OSError, match="No space left"):
        embed_to_shards(texts, tmp_path / "emb", model=_Model(), model_name="tiny", shard_size=10,
                        verbose=False)
    monkeypatch.setattr(io.np, "save", real_save)
    folder = tmp_path / "emb"
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "shard-00000.npy"]  # no temp left
    with pytest.raises(ValueError, match="incomplete"):
        ShardedEmbeddings(folder)
    embed_to_shards(texts, folder, model=_Model(), model_name="tiny", shard_size=10, verbose=False)
    assert ShardedEmbeddings(folder).shape == (30, 6)
