"""Security headers on every answer; a Content-Security-Policy on the HTML pages."""

from __future__ import annotations

from flask import Response, current_app, request

REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'"
"""The lift report: one page of inline CSS and SVG, nothing loaded, no script."""
DEMO_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
"""/demo: its files and the snippet from this service, calls to this service only; no inline script or style."""


def docs_csp(swagger_ui_url: str) -> str:
    """/docs: Swagger UI's page (an inline start-up script) loading its files from this service (or from
    OPENAPI_SWAGGER_UI_URL where a deployment points it elsewhere)."""
    swagger_ui_url = "'self'" if swagger_ui_url.startswith("/") else swagger_ui_url
    return (
        f"default-src 'none'; script-src 'unsafe-inline' {swagger_ui_url}; style-src 'unsafe-inline' "
        f"{swagger_ui_url}; img-src data: {swagger_ui_url}; connect-src 'self'; frame-ancestors 'none'; "
        "base-uri 'none'"
    )


def add_security_headers(response: Response) -> Response:
    """after_request: no MIME sniffing, no framing, no referrer; a CSP on HTML."""
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    if response.mimetype == "text/html" and "Content-Security-Policy" not in response.headers:
        response.headers["Content-Security-Policy"] = _page_csp(request.path)
    return response


def _page_csp(path: str) -> str:
    if path.rstrip("/") == "/docs":
        return docs_csp(current_app.config["OPENAPI_SWAGGER_UI_URL"])
    if path == "/demo" or path.startswith("/demo/"):
        return DEMO_CSP
    return REPORT_CSP
