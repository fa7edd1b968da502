"""Export files put into a data dir's landing/ by hand, for tests that need a few exact rows."""

from __future__ import annotations

from pathlib import Path


def write_landing(data_dir: Path, files: dict[str, str]) -> Path:
    """Write each text at `landing/<relative path>` (folders made as needed); returns data_dir."""
    for relative, text in files.items():
        path = data_dir / "landing" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return data_dir
