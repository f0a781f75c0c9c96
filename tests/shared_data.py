"""Where the shared public data sets are (../shared/data beside the checkout, or $WAYFINDER_SHARED_DATA)."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir(needs: str) -> Path | None:
    """The first data folder that holds the file `needs` (a path inside it), or None on a machine without it."""
    candidates = (
        Path(os.environ.get("WAYFINDER_SHARED_DATA", ROOT.parent / "shared" / "data")),
        Path("/work/shared/data"),
    )
    return next((folder for folder in candidates if (folder / needs).is_file()), None)
