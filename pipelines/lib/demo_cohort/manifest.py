"""The generator's record of the landing files it wrote: what makes a data dir "demo data".

`generate_cohort` writes `truth/landing.sha256` (the `sha256sum` format: one
`<sha256>  <path under landing/>` line per file). A data dir holds the generated cohort
exactly while the files in landing/ are those files, byte for byte — a roster swapped
for a real one, one real export added, or a manifest with no landing behind it all make
it real data, and everything that is allowed only on demo data (the public demo key,
demo logins) is refused. Nothing here trusts a marker file on its own: the comparison
with what is in landing/ is `pipelines.lib.key_policy.landing_is_generated`, and with
what a build read, `key_policy.build_is_generated`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from pipelines.lib.files import file_sha256

MANIFEST_NAME = "landing.sha256"


def manifest_path(root: str | os.PathLike) -> Path:
    return Path(root) / "truth" / MANIFEST_NAME


def write_landing_manifest(root: str | os.PathLike, files: Iterable[Path]) -> Path:
    """Record the generated landing files (paths under `root/landing`) and their hashes."""
    landing = Path(root) / "landing"
    lines = sorted(
        f"{file_sha256(path)}  {path.relative_to(landing).as_posix()}\n" for path in files
    )
    target = manifest_path(root)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("".join(lines), encoding="utf-8")
    return target


def read_landing_manifest(root: str | os.PathLike) -> dict[str, str] | None:
    """{path under landing/: sha256} as the generator wrote it; None when there is none."""
    try:
        text = manifest_path(root).read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        return None
    manifest: dict[str, str] = {}
    for line in text.splitlines():
        digest, _, relative = line.partition("  ")
        if len(digest) != 64 or not relative:
            return None  # not a manifest the generator wrote: not demo data
        manifest[relative] = digest
    return manifest or None


def matches_manifest(files: Mapping[str, str], manifest: Mapping[str, str] | None) -> bool:
    """Whether {path under landing/: sha256} is exactly the generated set."""
    return manifest is not None and dict(files) == dict(manifest)
