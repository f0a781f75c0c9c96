"""The full-catalog evaluation as `train` runs it: split, fit the baselines, build the model scorer, summarise."""

from __future__ import annotations

import pandas as pd

from models.features import FeatureSpec
from training.baselines_ranking import fit_baselines
from training.full_catalog import evaluate, split_log, summarise
from training.model_ranking import model_scorer

FULL_CATALOG_QUERIES = 5_000
"""Queries `train` scores at most (a fixed-seed sample beyond): the model scores ~300 candidates per query,
about 1.3 ms a query on 2 cores (YOOCHOOSE: 16,769 queries took 21.7 s), so all of them would break the
60 s budget; 5,000 keep the MRR@20 interval within about +-0.012."""


def full_catalog_metrics(
    events: pd.DataFrame,
    spec: FeatureSpec,
    cutoff: float,
    content,
    catalog_items: dict,
    signals,
    profiles: dict | None = None,
    max_queries: int | None = FULL_CATALOG_QUERIES,
) -> dict:
    """The `full_catalog` block of the summary for the content model fitted before `cutoff`, ranking what the
    generators as frozen at `cutoff` (`signals`, a models.retrieval.Retrieval) propose."""
    log, queries = split_log(events, spec.journey, cutoff, catalog_items, max_queries)
    if len(queries) == 0 or not log.universe:
        return {"queries": len(queries), "universe": len(log.universe), "verdict": "no later engagements to rank"}
    scorers = [model_scorer(content, spec, events, queries, log, catalog_items, profiles, signals), *fit_baselines(log)]
    block = summarise(evaluate(queries, scorers, len(log.universe)), queries, len(log.universe))
    block["max_queries"] = max_queries
    return block
