"""The model registry: versioned bundle directories, a CURRENT pointer, promotion history."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import uuid
from pathlib import Path

from models.errors import BundleError, NotFound

CURRENT = "CURRENT"
SHADOW = "SHADOW"
HISTORY = "history.jsonl"
VERSION_PATTERN = re.compile(r"^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}$")


def new_version(now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.UTC)
    return now.strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


class Registry:
    """Bundles live in `root/<version>/`; `root/CURRENT` names the one that serves."""

    def __init__(self, root: Path | str):
        self.root = Path(root)

    def path(self, version: str) -> Path:
        if not VERSION_PATTERN.match(version or ""):
            raise NotFound(f"{version!r} is not a model version (expected e.g. 20260101T000000Z-abc123)")
        return self.root / version

    def write(self, version: str, save) -> Path:
        """Call `save(tmp_dir)`, then move the finished bundle into place in one rename.

        An interrupted run leaves only a hidden temporary directory, never a half bundle.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        final = self.path(version)
        tmp = self.root / f".tmp-{version}-{uuid.uuid4().hex[:6]}"
        try:
            save(tmp)
            os.replace(tmp, final)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return final

    def versions(self) -> list[str]:
        """Every complete bundle, oldest first."""
        if not self.root.exists():
            return []
        bundles = [p for p in self.root.iterdir() if VERSION_PATTERN.match(p.name) and (p / "manifest.json").exists()]
        # Names order by second; within one second the bundle written first comes first.
        return [p.name for p in sorted(bundles, key=lambda p: (p.name[:16], p.stat().st_mtime_ns, p.name))]

    def manifest(self, version: str) -> dict:
        try:
            return json.loads((self.path(version) / "manifest.json").read_text())
        except FileNotFoundError as exc:
            raise NotFound(f"model version {version} not found in {self.root}") from exc

    def current(self) -> str | None:
        try:
            version = (self.root / CURRENT).read_text().strip()
        except FileNotFoundError:
            return None
        return version or None

    def current_stamp(self) -> tuple[int, int] | None:
        """The CURRENT pointer's inode and modification time: a cheap stat for hot reload. Each promotion
        renames a new file into place, so the inode changes even where two land within one clock tick."""
        return _stamp(self.root / CURRENT)

    def shadow(self) -> str | None:
        """The challenger scoring live traffic beside the champion without changing answers, if any."""
        try:
            return (self.root / SHADOW).read_text().strip() or None
        except FileNotFoundError:
            return None

    def shadow_stamp(self) -> tuple[int, int] | None:
        return _stamp(self.root / SHADOW)

    def set_shadow(self, version: str | None) -> None:
        """Start shadowing `version` (None stops)."""
        if version is None:
            (self.root / SHADOW).unlink(missing_ok=True)
            return
        if version not in self.versions():
            raise NotFound(f"model version {version} not found in {self.root}; see `python -m training list`")
        tmp = self.root / f".{SHADOW}.{uuid.uuid4().hex[:6]}"
        tmp.write_text(version + "\n")
        os.replace(tmp, self.root / SHADOW)

    def promote(self, version: str, reason: str = "promote") -> None:
        if version not in self.versions():
            raise NotFound(f"model version {version} not found in {self.root}; see `python -m training list`")
        previous = self.current()
        tmp = self.root / f".{CURRENT}.{uuid.uuid4().hex[:6]}"
        tmp.write_text(version + "\n")
        os.replace(tmp, self.root / CURRENT)
        entry = {
            "at": dt.datetime.now(dt.UTC).isoformat(),
            "version": version,
            "previous": previous,
            "reason": reason,
        }
        with open(self.root / HISTORY, "a") as history:
            history.write(json.dumps(entry) + "\n")

    def history(self) -> list[dict]:
        try:
            lines = (self.root / HISTORY).read_text().splitlines()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in lines if line.strip()]

    def rollback(self) -> str:
        """Make the version that was current before the present one current again."""
        current = self.current()
        for entry in reversed(self.history()):
            if entry["version"] == current and entry["previous"] and entry["previous"] != current:
                self.promote(entry["previous"], reason=f"rollback from {current}")
                return entry["previous"]
        raise BundleError("nothing to roll back to: no earlier version was ever current")


def _stamp(pointer: Path) -> tuple[int, int] | None:
    try:
        status = pointer.stat()
    except FileNotFoundError:
        return None
    return status.st_ino, status.st_mtime_ns
