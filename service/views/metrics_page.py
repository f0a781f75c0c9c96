"""GET /metrics: Prometheus text, every gunicorn worker's values added up (service/metric_values.py)."""

from flask import Blueprint

from service.views import services

blp = Blueprint("metrics", __name__)
ENDPOINT = "metrics.get_metrics"
"""Its scope is the setting metrics_scope (open by default), not a declaration (service/access.py)."""


@blp.route("/metrics", methods=["GET"])
def get_metrics():
    from service import metric_values  # after create_app chose the multiprocess folder

    return metric_values.exposition(services().settings.data_dir / "spool")
