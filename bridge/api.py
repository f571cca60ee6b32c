"""The JSON API framework (flask-smorest): validated requests and the OpenAPI spec at
``/api/openapi.json``. flask-smorest installs an app-wide HTTP error handler; here it produces the
project's error envelope for the API and leaves page errors as pages (``bridge.web``)."""

from __future__ import annotations

from flask import Flask, Response
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from bridge import web


class BridgeApi(Api):
    def handle_http_exception(self, error: HTTPException) -> Response:  # type: ignore[override]
        return web.handle_http_error(error)


def init_api(app: Flask) -> BridgeApi:
    app.config.update(
        API_TITLE="Social Bridge widget API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
    )
    return BridgeApi(app)
