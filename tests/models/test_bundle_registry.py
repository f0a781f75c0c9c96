"""Bundles refuse the wrong features; the registry writes atomically, promotes and rolls back."""

import json
import shutil

import numpy as np
import pytest

from models.bundle import MANIFEST, ModelBundle
from models.errors import BundleError, NotFound
from models.journey import JourneyMap
from models.registry import Registry


def test_trained_bundle_loads_and_scores(trained_registry, journey):
    registry = Registry(trained_registry)
    bundle = ModelBundle.load(registry.path(registry.current()), journey)
    X = np.zeros((3, len(bundle.spec.context_names)))
    probabilities = bundle.next_stage.predict_proba(X)
    assert probabilities.shape == (3, len(journey.next_stage_classes))
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    manifest = bundle.manifest
    assert manifest["data"]["events"] > 0 and len(manifest["data"]["fingerprint"]) == 64
    assert {"lightgbm", "scikit-learn"} <= set(manifest["libraries"])
    assert (registry.path(registry.current()) / "content.txt").read_text().startswith("tree")


def test_bundle_with_another_journey_map_is_refused_with_retrain_hint(trained_registry, journey):
    registry = Registry(trained_registry)
    other = JourneyMap.from_dict({**journey.to_dict(), "stages": [*journey.stages, "advocacy"]})
    with pytest.raises(BundleError, match="retrain"):
        ModelBundle.load(registry.path(registry.current()), other)


def test_bundle_with_older_feature_spec_is_refused(trained_registry, journey, tmp_path):
    source = Registry(trained_registry).path(Registry(trained_registry).current())
    copy = tmp_path / source.name
    shutil.copytree(source, copy)
    manifest = json.loads((copy / MANIFEST).read_text())
    manifest["features"]["version"] = "0"
    (copy / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="feature spec '0'"):
        ModelBundle.load(copy, journey)


def test_interrupted_write_leaves_no_bundle_and_keeps_current(tmp_path):
    registry = Registry(tmp_path)
    registry.write("20260101T000000Z-aaaaaa", lambda d: (d.mkdir(), (d / MANIFEST).write_text("{}")))
    registry.promote("20260101T000000Z-aaaaaa")

    def crash(directory):
        directory.mkdir()
        (directory / "content.txt").write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        registry.write("20260102T000000Z-bbbbbb", crash)
    assert registry.versions() == ["20260101T000000Z-aaaaaa"]
    assert registry.current() == "20260101T000000Z-aaaaaa"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp")] == []


def test_promote_and_rollback(tmp_path):
    registry = Registry(tmp_path)
    for version in ("20260101T000000Z-aaaaaa", "20260102T000000Z-bbbbbb"):
        registry.write(version, lambda d: (d.mkdir(), (d / MANIFEST).write_text("{}")))
    registry.promote("20260101T000000Z-aaaaaa")
    registry.promote("20260102T000000Z-bbbbbb")
    assert registry.rollback() == "20260101T000000Z-aaaaaa"
    assert registry.current() == "20260101T000000Z-aaaaaa"
    assert [h["reason"] for h in registry.history()][-1].startswith("rollback")


@pytest.mark.parametrize("version", ["../etc", "latest", "20260101T000000Z-zzzzzz/.."])
def test_versions_are_never_trusted_as_paths(tmp_path, version):
    with pytest.raises(NotFound):
        Registry(tmp_path).promote(version)


def test_rollback_without_history_says_so(tmp_path):
    with pytest.raises(BundleError, match="nothing to roll back"):
        Registry(tmp_path).rollback()
