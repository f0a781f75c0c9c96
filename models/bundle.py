"""A model bundle: both models, their feature signature, item stats and a manifest, in one directory."""

from __future__ import annotations

import dataclasses
import json
import platform
from pathlib import Path

from models.content import ContentModel
from models.errors import BundleError
from models.features import DEFAULT_RECENT_CAP, FeatureSpec, ItemStats
from models.journey import JourneyMap
from models.next_stage import NextStageModel
from models.retrieval import FILE as RETRIEVAL_FILE
from models.retrieval import Retrieval

MANIFEST = "manifest.json"
ITEM_STATS = "item_stats.json"
BUNDLE_FORMAT = 1


@dataclasses.dataclass
class ModelBundle:
    version: str
    manifest: dict
    spec: FeatureSpec
    next_stage: NextStageModel
    content: ContentModel
    item_stats: ItemStats

    @property
    def retrieval(self) -> Retrieval:
        """The candidate generators (models.retrieval), kept beside the item stats they extend."""
        if self.item_stats.signals is None:
            self.item_stats.signals = Retrieval.empty()
        return self.item_stats.signals

    @property
    def classes(self) -> list[str]:
        return self.manifest["next_stage_classes"]

    def save(self, directory: Path) -> None:
        """Write every file of the bundle into `directory` (which the registry makes atomic)."""
        directory.mkdir(parents=True, exist_ok=True)
        self.next_stage.save(directory)
        self.content.save(directory)
        self.retrieval.save(directory)
        (directory / ITEM_STATS).write_text(json.dumps(self.item_stats.to_dict()))
        (directory / MANIFEST).write_text(json.dumps(self.manifest, indent=2, sort_keys=True))

    @classmethod
    def load(cls, directory: Path, journey: JourneyMap) -> ModelBundle:
        """Load and verify a bundle against this code's feature spec for `journey`."""
        directory = Path(directory)
        try:
            manifest = json.loads((directory / MANIFEST).read_text())
        except FileNotFoundError as exc:
            raise BundleError(
                f"cannot load model: {directory / MANIFEST} not found, maybe you forgot to run "
                "`python -m training train`?"
            ) from exc
        except json.JSONDecodeError as exc:
            raise BundleError(f"cannot load model: {directory / MANIFEST} is not valid JSON ({exc})") from exc
        spec = FeatureSpec(journey, recent_cap=recent_cap(manifest))
        check_signature(manifest.get("features", {}), spec, directory)
        try:
            next_stage = NextStageModel.load(directory)
            content = ContentModel.load(directory)
            item_stats = ItemStats.from_dict(json.loads((directory / ITEM_STATS).read_text()))
            item_stats.signals = Retrieval.load(directory) if (directory / RETRIEVAL_FILE).exists() else None
        except (OSError, ValueError, KeyError) as exc:
            raise BundleError(f"cannot load model from {directory}: {exc}; retrain or roll back") from exc
        except Exception as exc:  # LightGBM raises its own LightGBMError on a corrupt model file
            raise BundleError(f"cannot load model from {directory}: {exc}; retrain or roll back") from exc
        return cls(manifest["version"], manifest, spec, next_stage, content, item_stats)


def recent_cap(manifest: dict) -> int:
    """The recent-events cap the bundle was trained with (its `feature_settings`); older bundles: 50."""
    return int((manifest.get("feature_settings") or {}).get("recent_events_cap", DEFAULT_RECENT_CAP))


def check_signature(recorded: dict, spec: FeatureSpec, directory: Path) -> None:
    """Refuse a bundle whose feature spec differs from what this code computes."""
    expected = spec.signature
    if recorded.get("version") != expected["version"]:
        raise BundleError(
            f"bundle {directory.name} was trained with feature spec {recorded.get('version')!r}, this code "
            f"computes {expected['version']!r}: retrain with `python -m training train`"
        )
    for model in ("next_stage", "content"):
        if recorded.get(model) != expected[model]:
            missing = sorted(set(expected[model]) - set(recorded.get(model) or ()))
            extra = sorted(set(recorded.get(model) or ()) - set(expected[model]))
            raise BundleError(
                f"bundle {directory.name}: {model} features differ from this code's (missing {missing}, "
                f"unexpected {extra}; the journey map may have changed): retrain with `python -m training train`"
            )


def library_versions() -> dict:
    import lightgbm
    import numpy
    import sklearn

    return {
        "python": platform.python_version(),
        "lightgbm": lightgbm.__version__,
        "numpy": numpy.__version__,
        "scikit-learn": sklearn.__version__,
    }
