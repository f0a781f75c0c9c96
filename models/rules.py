"""Contextual rules: resume what a visitor was in the middle of, interest boosts, consent."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import yaml

from models.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class ResumeRule:
    id: str
    after: str
    show: str
    unless: tuple[str, ...] = ()
    reason: str = "resume"


@dataclasses.dataclass(frozen=True)
class Resumption:
    rule: str
    item_id: str
    reason: str


@dataclasses.dataclass(frozen=True)
class Rules:
    resume: tuple[ResumeRule, ...] = ()
    interest_boost: float = 1.0
    require_consent: bool = False

    @classmethod
    def load(cls, path: Path | str) -> Rules:
        path = Path(path)
        if not path.exists():
            return cls()
        raw = yaml.safe_load(path.read_text()) or {}
        try:
            resume = tuple(
                ResumeRule(
                    id=r["id"],
                    after=r["after"],
                    show=r["show"],
                    unless=tuple(r.get("unless") or ()),
                    reason=r.get("reason", "resume"),
                )
                for r in raw.get("resume") or ()
            )
            return cls(resume, float(raw.get("interest_boost", 1.0)), bool(raw.get("require_consent", False)))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{path}: malformed rules ({exc})") from exc

    def resumptions(self, context: dict) -> list[Resumption]:
        """What this visitor left unfinished, most recent first: one per rule that applies."""
        out = []
        for rule in self.resume:
            for entry in context["recent"]:  # newest first
                if entry["type"] in rule.unless:
                    break
                if entry["type"] == rule.after:
                    item = entry.get("item_id") or ""
                    show = rule.show.replace("{item}", item)
                    if show:
                        out.append(Resumption(rule.id, show, rule.reason.replace("{item}", item or "it")))
                    break
        return out

    def consent_given(self, profile: dict) -> bool:
        consent = (profile.get("consent") or {}).get("personalization")
        return consent is True or (consent is None and not self.require_consent)
