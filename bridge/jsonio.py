"""Flask's JSON provider with orjson doing the encoding, for the per-request CPU of the API.

The output matches Flask's ``DefaultJSONProvider`` value for value, except: keys keep their
insertion order (``sort_keys`` is off; it is honoured when a caller asks, as Jinja's ``tojson``
does, which stays HTML-safe); whitespace (``separators`` other than the compact ones are ignored);
non-ASCII text is written as UTF-8 instead of ``\\u`` escapes; NaN and infinities become ``null``
(the json module wrote the non-standard ``NaN``); a plain ``Enum`` renders as its value, and UUID
or date dictionary keys as text, where Flask raised. Anything orjson cannot encode the way the
standard library would (lone surrogates, integers past 64 bits, float subclasses) falls back to
Flask's own implementation, so it renders, or fails with ``TypeError``, exactly as before.
Decoding stays on the standard library: request bodies are not the hot path, and orjson refuses
the lone surrogates that ``json.loads`` accepts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from flask import Response
from flask.json.provider import DefaultJSONProvider

# Dates and dataclasses go to the inherited ``default`` hook so they render as Flask renders them
# (dates as HTTP dates, dataclasses through ``asdict``). Subclasses of str, int, dict and list are
# left to orjson: it writes their underlying value as the json module does, whereas passing them
# through would send an ``OrderedDict`` or an ``IntEnum`` to a hook that raises for them.
_BASE_OPTIONS = (
    orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)
_ORJSON_KWARGS = frozenset({"default", "sort_keys", "indent", "separators", "ensure_ascii"})


class OrjsonJSONProvider(DefaultJSONProvider):
    """``DefaultJSONProvider`` whose ``dumps`` and ``response`` encode with orjson.

    ``ensure_ascii`` stays at Flask's ``True`` but only governs the fallback to the json module,
    where it keeps lone surrogates escaped rather than unencodable.
    """

    sort_keys = False  # no client relies on key order, and sorting costs time on every response

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        """Serialise to a string; arguments orjson cannot honour fall back to ``json.dumps``."""
        indent = kwargs.get("indent")
        if (
            not kwargs.keys() <= _ORJSON_KWARGS
            or indent not in {None, 2}
            or kwargs.get("ensure_ascii", False)
        ):
            return super().dumps(obj, **kwargs)
        option = self._options(kwargs.get("sort_keys", self.sort_keys), pretty=indent == 2)
        encoded = self._encode(obj, option, kwargs.get("default", self.default))
        if encoded is None:
            return super().dumps(obj, **kwargs)
        return encoded.decode()

    def response(self, *args: Any, **kwargs: Any) -> Response:
        """Like Flask's: compact unless in debug mode, ending in a newline; bytes handed over as is."""
        obj = self._prepare_response_obj(args, kwargs)
        pretty = (self.compact is None and self._app.debug) or self.compact is False
        option = self._options(self.sort_keys, pretty=pretty) | orjson.OPT_APPEND_NEWLINE
        body = self._encode(obj, option, self.default)
        if body is None:
            layout: dict[str, Any] = {"indent": 2} if pretty else {"separators": (",", ":")}
            body = f"{super().dumps(obj, **layout)}\n".encode()
        return self._app.response_class(body, mimetype=self.mimetype)

    @staticmethod
    def _options(sort_keys: bool, *, pretty: bool) -> int:
        option = _BASE_OPTIONS
        if sort_keys:
            option |= orjson.OPT_SORT_KEYS
        if pretty:
            option |= orjson.OPT_INDENT_2
        return option

    @staticmethod
    def _encode(obj: Any, option: int, default: Callable[[Any], Any]) -> bytes | None:
        """The orjson encoding, or ``None`` when only the json module can say what to do."""
        try:
            return orjson.dumps(obj, default=default, option=option)
        except orjson.JSONEncodeError:
            return None
