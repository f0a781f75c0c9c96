"""Champion and challenger: gated promotion and the one-command retrain a scheduler runs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from models.bundle import ModelBundle
from models.bundle import recent_cap as bundle_recent_cap
from models.catalog import Catalog
from models.errors import BundleError, WayfinderError
from models.features import DEFAULT_RECENT_CAP, FeatureSpec
from models.journey import JourneyMap
from models.registry import Registry
from training.decision_logs import decision_files
from training.evaluate import GateRefused, gate, load_logged
from training.readers import event_files, fingerprint

DEFAULT_MARGIN = 0.0


def gated_promote(
    registry: Registry,
    version: str,
    journey: JourneyMap,
    catalog: Catalog,
    data_dir: Path,
    margin: float = DEFAULT_MARGIN,
    force_reason: str | None = None,
    reward: str = "response",
) -> dict:
    """Make `version` current if, on the logged traffic under `data_dir`, its estimated value is
    not worse than the champion's by more than `margin` (lower 95 % bound of the difference);
    `force_reason` skips the gate and is recorded in the promotion history."""
    registry.manifest(version)  # refuses an unknown version before any work
    champion = registry.current()
    if force_reason:
        registry.promote(version, reason=f"forced: {force_reason}")
        return {"promoted": True, "forced": force_reason, "champion": champion}
    if champion is None or champion == version:
        registry.promote(version, reason="first version" if champion is None else "already current")
        return {"promoted": True, "champion": champion, "gate": "no champion to compare with"}
    ModelBundle.load(registry.path(version), journey)  # a challenger that cannot serve is refused here
    unservable = _cannot_load(registry, champion, journey)
    if unservable:
        # e.g. an upgrade changed the feature spec: the service is on fallback, there is nothing to compare with
        registry.promote(version, reason=f"the champion {champion} cannot be loaded: {unservable}")
        return {"promoted": True, "champion": champion, "gate": f"champion cannot be loaded: {unservable}"}
    decisions, events = Path(data_dir) / "decisions", Path(data_dir) / "events"
    if not _logged(decisions):
        raise GateRefused(
            f"no logged decisions under {decisions} to compare {version} with the champion {champion}: "
            "serve traffic first, or pass --force --reason '...'"
        )
    logged = load_logged(decisions, events, journey)
    result = gate(version, champion, logged.impressions, logged.events, registry, journey, catalog, margin, reward)
    result.update(champion_version=champion, challenger_version=version, join=logged.join, skipped=logged.skipped)
    if not result["passed"]:
        low, high = result["difference"]["ci"]
        raise GateRefused(
            f"{version} is not promoted: its estimated value minus the champion's is "
            f"{result['difference']['value']:+.4f} (95% CI {low:+.4f} to {high:+.4f}), below -{margin}; "
            "retrain, or pass --force --reason '...'",
            errors={"gate": result},
        )
    registry.promote(version, reason=f"gate passed vs {champion}: {result['difference']['value']:+.4f}")
    return {"promoted": True, **result}


def retrain(
    registry: Registry,
    journey: JourneyMap,
    catalog: Catalog,
    data_dir: Path,
    margin: float = DEFAULT_MARGIN,
    progress=print,
    reward: str = "response",
    recent_cap: int = DEFAULT_RECENT_CAP,
) -> dict:
    """Train on the service's own event and decision logs, register, then promote through the gate.

    It trains on the whole log (a point-in-time replay needs each visitor's history), but only when
    the log has changed since the latest version was trained: otherwise there is nothing to learn.
    """
    from training.train import train

    data_dir = Path(data_dir)
    unchanged = _unchanged_since(registry, data_dir, journey, recent_cap)
    if unchanged:
        progress(f"nothing new since {unchanged}: its data is the log as it is now")
        reason = f"the event and decision logs are unchanged since {unchanged} was trained"
        return {"trained": None, "promoted": False, "reason": reason, "current": registry.current()}
    decisions = data_dir / "decisions"
    has_decisions = _logged(decisions)
    summary = train(
        data_dir / "events",
        registry.root,
        journey,
        catalog,
        promote=False,
        progress=progress,
        decisions_path=decisions if has_decisions else None,
        recent_cap=recent_cap,
    )
    progress(f"trained {summary['version']}; comparing with the champion {registry.current()}")
    try:
        outcome = gated_promote(registry, summary["version"], journey, catalog, data_dir, margin, reward=reward)
    except WayfinderError as refused:
        return {
            "trained": summary,
            "promoted": False,
            "reason": refused.message,
            "at": dt.datetime.now(dt.UTC).isoformat(),
        }
    return {"trained": summary, **outcome}


def _cannot_load(registry: Registry, version: str, journey: JourneyMap) -> str | None:
    """Why `version` cannot be loaded by this code with this journey map, or None when it can."""
    try:
        ModelBundle.load(registry.path(version), journey)
    except BundleError as error:
        return error.message
    return None


def _logged(decisions: Path) -> bool:
    return decisions.exists() and bool(decision_files(decisions))


def _unchanged_since(registry: Registry, data_dir: Path, journey: JourneyMap, recent_cap: int) -> str | None:
    """The latest version, if it was trained with this code's features and recent-events cap on exactly
    the event and decision logs there are now."""
    versions = registry.versions()
    if not versions or not (data_dir / "events").exists():
        return None
    latest = versions[-1]
    manifest = registry.manifest(latest)
    if manifest.get("features") != FeatureSpec(journey).signature or bundle_recent_cap(manifest) != recent_cap:
        return None
    data = manifest.get("data", {})
    files = [str(f) for f in event_files(data_dir / "events")]
    if sorted(data.get("paths") or []) != sorted(files) or data.get("fingerprint") != fingerprint(files):
        return None
    decisions = data_dir / "decisions"
    logged = [str(f) for f in decision_files(decisions)] if _logged(decisions) else []
    return latest if data.get("decisions_fingerprint") == (fingerprint(logged) if logged else None) else None
