"""The Wayfinder HTTP service. `gunicorn 'service:create_app()'` serves it."""

from __future__ import annotations

import logging

from flask import Flask, request
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from config.settings import Settings
from models.errors import WayfinderError, flat_errors
from service import metrics, request_log
from service.cors import allow_origin, preflight
from service.json_provider import OrjsonProvider
from service.request_log import configure_logging
from service.schemas import ErrorSchema, document_journey
from service.security_headers import add_security_headers
from service.views import (
    analytics,
    catalog,
    decisions,
    demo,
    docs_assets,
    events,
    health,
    identify,
    journey,
    keys,
    metrics_page,
    reports,
    sdk,
    visitors,
)
from service.views.body import SECURITY_SCHEMES, read_body
from service.views.paths import PATH_IDS, register_path_converters
from service.wiring import build_services

log = logging.getLogger(__name__)


class WayfinderFlask(Flask):
    """Flask, answering JSON through orjson (service/json_provider.py)."""

    json_provider_class = OrjsonProvider


class WayfinderApi(Api):
    """flask-smorest's Api, rendering every error in one shape: code, status, message, errors."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: HTTPException):
        payload, status, headers = super().handle_http_exception(error)
        errors = payload.get("errors")
        if errors and isinstance(errors, dict) and all(isinstance(v, dict) for v in errors.values()):
            # webargs nests field errors under their location ("json"); clients want the fields.
            payload["errors"] = flat_errors({f: why for location in errors.values() for f, why in location.items()})
        if status == 422:
            payload.setdefault("message", "request body failed validation: see errors per field")
        if status == 404 and request.url_rule is None:
            payload["message"] = f"no route matches {request.path!r}: {PATH_IDS}"
            payload["errors"] = {"path": [f"no route matches: {PATH_IDS}"]}
        payload.setdefault("message", error.description or error.name)
        payload.setdefault("errors", {})
        # werkzeug's own headers (Allow on a 405, as RFC 9110 requires), which flask-smorest drops
        kept = {name: value for name, value in error.get_headers() if name.lower() != "content-type"}
        return payload, status, {**kept, **dict(headers or {})}


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app: settings (environment by default), services, blueprints, error handling."""
    settings = settings or Settings.from_env()
    metrics.use_folder(settings.data_dir)  # before prometheus_client is first imported
    from service import metric_values

    configure_logging(settings.log_level, settings.log_format)
    app = WayfinderFlask(__name__)
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        API_TITLE="Wayfinder",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL=docs_assets.URL,  # Swagger UI from the swagger-ui-bundle package: /docs works offline
    )
    state = app.extensions["wayfinder"] = build_services(settings)
    api = WayfinderApi(app)
    for name, scheme in SECURITY_SCHEMES.items():
        api.spec.components.security_scheme(name, scheme)
    register_path_converters(app, api)
    for module in (events, visitors, identify, decisions, catalog, journey, analytics, reports, keys, health):
        api.register_blueprint(module.blp)
    app.register_blueprint(docs_assets.blp)
    app.register_blueprint(metrics_page.blp)
    app.register_blueprint(sdk.blp)  # the browser snippet, no key (docs/browser.md)
    app.register_blueprint(demo.blp)  # the Northwind Motors demo site at /demo, no key
    document_journey(api.spec, state.journey)
    app.before_request(lambda: preflight(state.keys))  # a CORS preflight carries no key
    app.before_request(state.access.check)  # 401, 403 before anything else is read
    app.before_request(read_body)  # every JSON body checked once, before any view reads it
    app.before_request(state.access.limit)  # 429 before any work, once the visitor is known
    app.after_request(state.audit.after_request)
    app.after_request(allow_origin)
    app.after_request(add_security_headers)
    app.register_error_handler(WayfinderError, _render_domain_error)
    app.after_request(metric_values.observe)
    app.after_request(lambda response: metric_values.report_model(state.models.version) or response)
    request_log.install(app)  # last: its after_request runs first of all, its before_request first too
    return app


def _render_domain_error(error: WayfinderError):
    from werkzeug.http import HTTP_STATUS_CODES

    body = {
        "code": error.status_code,
        "status": HTTP_STATUS_CODES.get(error.status_code, "Error"),
        "message": error.message,
    }
    body["errors"] = error.errors
    if error.status_code >= 500:
        log.error("%s: %s", type(error).__name__, error.message)
    return body, error.status_code, error.headers()
