"""The orjson provider renders every value as Flask's own JSON provider did."""

from __future__ import annotations

import datetime
import decimal
import enum
import json
import uuid
from collections import OrderedDict, defaultdict
from dataclasses import dataclass

import pytest
from flask import Flask, render_template_string
from flask.json.provider import DefaultJSONProvider
from flask_babel import LazyString
from markupsafe import Markup

from bridge.jsonio import OrjsonJSONProvider


class Colour(enum.StrEnum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


class Html:
    def __html__(self) -> str:
        return "<b>bold</b>"


@dataclass
class Stamp:
    at: datetime.datetime
    id: uuid.UUID


class Ratio(float):
    pass


WHEN = datetime.datetime(2024, 3, 5, 14, 7, 9, tzinfo=datetime.UTC)
ID = uuid.UUID("0b9c2a36-3f0e-4a4b-9d55-52c1bd2f4a10")


@pytest.fixture
def app():
    app = Flask(__name__)
    app.json = OrjsonJSONProvider(app)
    return app


@pytest.fixture
def flask_json(app):
    """Flask's provider, unsorted so mixed key types encode; outputs are compared once parsed."""
    provider = DefaultJSONProvider(app)
    provider.sort_keys = False
    return provider


@pytest.mark.parametrize(
    "value",
    [
        WHEN,
        WHEN.date(),
        ID,
        decimal.Decimal("1.10"),
        Stamp(WHEN, ID),
        Markup("<i>x</i>"),
        Html(),
        LazyString(lambda: "lazy"),
        Colour.RED,
        Level.HIGH,
        OrderedDict(b=1, a=2),
        defaultdict(int, a=1),
        Ratio(0.5),
        {1: "int key", None: "none key", 1.5: "float key"},
        2**70,
        "\ud800 lone surrogate",
        {"nested": [WHEN, {"id": ID}], "text": "façade ✓"},
    ],
    ids=repr,
)
def test_value_renders_as_flask_rendered_it_when_encoded_with_orjson(app, flask_json, value):
    with app.app_context():
        ours = app.json.response(value).get_data()
    assert json.loads(ours) == json.loads(flask_json.response(value).get_data())
    assert json.loads(app.json.dumps(value)) == json.loads(flask_json.dumps(value))


def test_datetime_renders_as_an_http_date_when_in_a_response(app):
    with app.app_context():
        body = app.json.response({"at": WHEN, "id": ID}).get_data()
    assert (
        body
        == b'{"at":"Tue, 05 Mar 2024 14:07:09 GMT","id":"0b9c2a36-3f0e-4a4b-9d55-52c1bd2f4a10"}\n'
    )


def test_non_ascii_text_is_utf8_when_rendered(app):
    text = "Ça va? 日本語 ✓ 🎉"
    with app.app_context():
        response = app.json.response({"text": text})
    assert response.mimetype == "application/json"
    assert text.encode() in response.get_data()
    assert response.get_json() == {"text": text}
    assert json.loads(app.json.dumps(text)) == text


def test_keys_keep_their_order_when_sort_keys_is_off(app):
    assert app.json.dumps({"b": 1, "a": 2}) == '{"b":1,"a":2}'
    assert app.json.dumps({"b": 1, "a": 2}, sort_keys=True) == '{"a":2,"b":1}'


def test_response_is_compact_with_a_trailing_newline_when_not_in_debug_mode(app):
    with app.app_context():
        body = app.json.response(a=[1, 2]).get_data()
    assert body == b'{"a":[1,2]}\n'


def test_response_is_indented_when_in_debug_mode(app):
    app.debug = True
    with app.app_context():
        body = app.json.response({"a": [1]}).get_data()
    assert body == b'{\n  "a": [\n    1\n  ]\n}\n'


def test_response_is_indented_when_compact_is_off(app):
    app.json.compact = False
    with app.app_context():
        assert app.json.response({"a": 1}).get_data() == b'{\n  "a": 1\n}\n'


def test_unserialisable_value_raises_type_error_when_rendered_as_before(app, flask_json):
    with pytest.raises(TypeError, match="not JSON serializable"):
        flask_json.dumps({"t": datetime.time(1, 2)})
    with pytest.raises(TypeError, match="not JSON serializable"):
        app.json.dumps({"t": datetime.time(1, 2)})
    with app.app_context(), pytest.raises(TypeError, match="not JSON serializable"):
        app.json.response({"t": object()})


def test_arguments_orjson_cannot_honour_fall_back_to_the_json_module(app):
    assert app.json.dumps({"a": 1}, indent=4) == '{\n    "a": 1\n}'
    assert app.json.dumps("é", ensure_ascii=True) == '"\\u00e9"'


def test_tojson_filter_escapes_html_when_rendered_through_the_provider(app):
    with app.app_context():
        html = render_template_string("{{ data|tojson }}", data={"b": "</script>", "a": "é"})
    assert html == '{"a":"é","b":"\\u003c/script\\u003e"}'
