"""The registered model: refitted on all the data once evaluation on the latest part has chosen its size.

Evaluation holds out the latest TEST_SHARE (and early stopping a validation slice before it), so
the evaluated model never saw the most recent behaviour, which is what it will serve next. The
bundle that is registered is fitted again on every row, with the same parameters and the number
of boosting rounds early stopping found, and keeps the evaluated model's calibration temperature.
"""

from __future__ import annotations

import numpy as np

from models.content import ContentModel
from models.next_stage import NextStageModel, tree_size


def boosting_rounds(booster) -> int:
    """The rounds a fitted booster predicts with: the best iteration early stopping kept, else all."""
    return int(booster.best_iteration or booster.current_iteration())


def refit_next_stage(evaluated: NextStageModel, rows, feature_names) -> tuple[NextStageModel, dict]:
    """`evaluated`'s rounds and temperature, fitted on all `rows`; the tree size follows its rule for the
    number of rows (models.next_stage.tree_size), recorded beside the rounds."""
    rounds = boosting_rounds(evaluated.booster_)
    model = NextStageModel(evaluated.n_classes, num_boost_round=rounds).fit(rows.X, rows.y, feature_names=feature_names)
    model.temperature_ = evaluated.temperature_
    return model, {"rows": int(len(rows.y)), "num_trees": rounds, "tree_size": tree_size(len(rows.y))}


def refit_content(evaluated: ContentModel, rows, feature_names) -> tuple[ContentModel, dict]:
    """A content model with `evaluated`'s rounds, fitted on all `rows` (with their IPS weights)."""
    rounds = boosting_rounds(evaluated.booster_)
    weight = rows.weight if rows.weight is not None else np.ones(len(rows.y))
    model = ContentModel(num_boost_round=rounds).fit(rows.X, rows.y, weight=weight, feature_names=feature_names)
    return model, {"rows": int(len(rows.y)), "num_trees": rounds}
