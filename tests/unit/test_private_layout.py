"""The data dir is its owner's alone: folders 0700 and files 0600, whatever the umask, old dirs too."""

import os
import stat

from pipelines.lib.layout import DataDir, private_dir


def mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_private_dir_creates_every_missing_folder_0700_under_a_permissive_umask(
    tmp_path, permissive_umask
):
    target = private_dir(tmp_path / "data" / "raw" / "roster")
    assert target.is_dir()
    assert [mode(p) for p in (tmp_path / "data", tmp_path / "data" / "raw", target)] == [0o700] * 3
    assert private_dir(target) == target  # already there: fine


def test_an_older_data_dir_is_tightened_but_landing_and_links_are_left_alone(
    tmp_path, permissive_umask
):
    root = tmp_path / "data"
    for folder in ("landing/roster", "raw/roster/parser=1", "published", ".dagster/storage"):
        (root / folder).mkdir(parents=True)
    files = {
        "landing/roster/roster.csv": "participant_id\nP-00001\n",
        "raw/roster/_files.parquet": "x",
        "published/current.duckdb": "x",
        ".dagster/storage/runs.db": "x",
        "warehouse.duckdb": "x",
    }
    for name, text in files.items():
        (root / name).write_text(text)
        os.chmod(root / name, 0o644)
    for folder in (root, *root.rglob("*")):
        if folder.is_dir():
            os.chmod(folder, 0o755)
    outside = tmp_path / "shared.txt"
    outside.write_text("not ours to change")
    os.chmod(outside, 0o644)
    (root / "published" / "link").symlink_to(outside)

    DataDir.at(root).make_private()

    assert mode(root) == 0o700
    for path in root.rglob("*"):
        relative = path.relative_to(root).as_posix()
        if relative.startswith("landing") or path.is_symlink():
            continue
        assert mode(path) == (0o700 if path.is_dir() else 0o600), relative
    assert mode(root / "landing") == 0o755, "the exporters' folder keeps its modes"
    assert mode(root / "landing/roster/roster.csv") == 0o644
    assert mode(outside) == 0o644, "a link's target is not ours"
