"""The one atomic writer: folders of ours are swapped whole, a user's files are never deleted."""

import os
import stat

import pytest

from bertopic_sae import _io


def _save(path, text="v1", **options):
    with _io.atomic_folder(path, kind="test", **options) as staging:
        (staging / "a.txt").write_text(text)
        (staging / "sub").mkdir()
        (staging / "sub" / "b.txt").write_text(text)


def test_folder_is_written_whole_with_a_marker_and_ordinary_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        _save(tmp_path / "m")
    finally:
        os.umask(old)
    folder = tmp_path / "m"
    assert (folder / "a.txt").read_text() == "v1" and (folder / _io.MARKER).exists()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755
    assert stat.S_IMODE((folder / "sub").stat().st_mode) == 0o755
    assert stat.S_IMODE((folder / "a.txt").stat().st_mode) == 0o644
    assert stat.S_IMODE((folder / "sub" / "b.txt").stat().st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # no staging or aside copies left


def test_a_folder_of_ours_is_replaced(tmp_path):
    _save(tmp_path / "m", "v1")
    _save(tmp_path / "m", "v2")
    assert (tmp_path / "m" / "a.txt").read_text() == "v2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_a_folder_with_foreign_files_is_refused_and_kept(tmp_path):
    folder = tmp_path / "m"
    (folder / "data").mkdir(parents=True)
    (folder / "notes.txt").write_text("mine")
    (folder / "data" / "raw.csv").write_text("1,2")
    with pytest.raises(FileExistsError, match=r"notes\.txt.*overwrite=True"):
        _save(folder)
    assert (folder / "notes.txt").read_text() == "mine" and (folder / "data" / "raw.csv").read_text() == "1,2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]
    _save(tmp_path / "m2")  # a file added to a folder of ours by the user is foreign too
    (tmp_path / "m2" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="notes.txt"):
        _save(tmp_path / "m2")
    assert (tmp_path / "m2" / "notes.txt").read_text() == "mine"


def test_overwrite_replaces_a_foreign_folder_but_a_failed_save_leaves_it_untouched(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(RuntimeError):
        with _io.atomic_folder(folder, kind="test", overwrite=True) as staging:
            (staging / "a.txt").write_text("half")
            raise RuntimeError("killed while writing")
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]  # nothing of ours half-written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]
    _save(folder, overwrite=True)
    assert not (folder / "notes.txt").exists() and (folder / "a.txt").read_text() == "v1"


def test_a_file_at_the_path_is_refused(tmp_path):
    (tmp_path / "m").write_text("a file")
    with pytest.raises(FileExistsError, match="is a file"):
        _save(tmp_path / "m")
    assert (tmp_path / "m").read_text() == "a file"


def test_staging_leftovers_of_an_interrupted_save_are_cleaned_by_the_next_save(tmp_path):
    dead_pid = 2**22 + 12345  # above the default pid_max: no such process
    leftover = tmp_path / f".m.staging-{dead_pid}-abc"
    leftover.mkdir()
    (leftover / "big.bin").write_bytes(b"0" * 1000)
    _save(tmp_path / "m")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_a_kill_between_the_two_renames_is_recovered(tmp_path):
    target = tmp_path / "m"
    _save(target, "v1")
    staging = tmp_path / f".m.staging-{2**22 + 12345}-x"
    staging.mkdir()
    (staging / "a.txt").write_text("v2")
    aside = _io._move_aside(target)  # the first rename ran, then the process was killed
    assert not target.exists() and aside.exists()
    assert _io.recover(target)  # what every load does first
    assert (target / "a.txt").read_text() == "v1"
    _save(target, "v3")  # and the next save cleans the rest
    assert (target / "a.txt").read_text() == "v3"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_atomic_file_helpers(tmp_path):
    _io.atomic_write_text(tmp_path / "new" / "a.txt", "x")
    _io.atomic_write_bytes(tmp_path / "b.bin", b"y")
    assert (tmp_path / "new" / "a.txt").read_text() == "x" and (tmp_path / "b.bin").read_bytes() == b"y"
    assert stat.S_IMODE((tmp_path / "b.bin").stat().st_mode) == 0o666 & ~_umask()
    with pytest.raises(RuntimeError):
        with _io.atomic_file(tmp_path / "b.bin") as temporary:
            temporary.write_bytes(b"half")
            raise RuntimeError
    assert (tmp_path / "b.bin").read_bytes() == b"y"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.bin", "new"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
