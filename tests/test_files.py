"""Atomic file writes: the target is replaced whole, or left as it was."""

import os
import stat

import pytest

from hierax._files import replace_atomically, replace_folder_atomically, write_text_atomically


def test_write_replaces_the_file_with_ordinary_permissions(tmp_path):
    target = tmp_path / "result.txt"
    target.write_text("old")
    write_text_atomically(target, "new")
    assert target.read_text() == "new"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.txt"]


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, error):
    target = tmp_path / "result.txt"
    target.write_text("old")

    def write(temporary):
        with open(temporary, "w") as stream:
            stream.write("half")
        raise error("stopped")

    with pytest.raises(error):
        replace_atomically(target, write)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.txt"]


def test_suffix_reaches_the_writer(tmp_path):
    seen = []
    replace_atomically(tmp_path / "plot.png", lambda tmp: (seen.append(tmp),
                                                          open(tmp, "wb").close()),
                       suffix=".png")
    assert seen[0].endswith(".png") and (tmp_path / "plot.png").exists()


def test_folder_is_moved_into_place_when_complete(tmp_path):
    target = tmp_path / "realization_0"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with replace_folder_atomically(target) as folder:
        (folder / "new.txt").write_text("new")
        assert folder != target and (target / "old.txt").exists()
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["realization_0"]


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_a_failed_folder_write_leaves_the_old_folder_and_no_temporary(tmp_path, error):
    target = tmp_path / "realization_0"
    with pytest.raises(error), replace_folder_atomically(target) as folder:
        (folder / "half.txt").write_text("half")
        raise error("stopped")
    assert list(tmp_path.iterdir()) == []
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(error), replace_folder_atomically(target) as folder:
        raise error("stopped")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["realization_0"]
    assert (target / "old.txt").read_text() == "old"
