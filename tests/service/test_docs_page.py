"""/docs works offline: the page loads Swagger UI from this service, without a key."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient


@pytest.fixture
def anonymous(app):
    return FlaskClient(app, app.response_class)


def test_the_docs_page_loads_every_file_from_this_service(anonymous):
    page = anonymous.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.get_data(as_text=True))
    assert sources and all(s.startswith("/") for s in sources), sources  # nothing from a CDN
    for source in sources:
        answer = anonymous.get(source)
        assert answer.status_code == 200 and answer.data, source
    assert anonymous.get("/docs/assets/swagger-ui-bundle.js").mimetype in ("text/javascript", "application/javascript")
    csp = page.headers["Content-Security-Policy"]
    assert "'self'" in csp and "http" not in csp


@pytest.mark.parametrize("name", ["index.html", "swagger-ui.js.map", "..%2F__init__.py", "nothing.js"])
def test_only_the_files_the_page_needs_are_served(anonymous, name):
    assert anonymous.get(f"/docs/assets/{name}").status_code == 404
