"""Web glue around lti1p3platform's LTI Advantage services: token endpoint, AGS and NRPS.

``lti1p3platform`` implements the platform side of the services (the client-credentials grant,
``AssignmentsGradesService``, ``NamesRoleProvisioningService``) without storage or an HTTP
layer. :class:`PeerServices` serves them on a real local HTTP server next to a
:class:`~tests.peer.platform.PeerPlatform`, with an in-memory line item store and a member list
the test sets, and checks what the library leaves out (FIELD-NOTES): the client assertion's
``iss``, ``sub``, ``aud`` and ``jti`` uniqueness (it checks only signature and expiry), and the
scope each endpoint needs (any grade scope opens every grade endpoint in the library). Refusals
are recorded in ``problems``; a test asserts it stays empty.

Three library gaps are bridged here: its line item container is an object (``content``,
``has_next``, ``next``) where AGS 2.0 §3.2 has a JSON array, so the glue answers the array; its
NRPS and AGS services put the next page in the body, where NRPS 2.0 §2.4.2 and AGS 2.0 want a
``Link`` header, so the glue copies it into one; and query values arrive as text, which its
paging arithmetic cannot add 1 to, so numeric ones become ints.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt
from flask import Flask, Response
from flask import request as flask_request
from lti1p3platform.ags import LtiAgs
from lti1p3platform.exceptions import LineItemNotFoundException
from lti1p3platform.lineitem import TLineItem
from lti1p3platform.membership import Context
from lti1p3platform.nrps import LtiNrps
from lti1p3platform.request import Request, TRequest
from lti1p3platform.response import Response as LibResponse
from lti1p3platform.score import UpdateScoreStatus
from lti1p3platform.service_connector import (
    AssignmentsGradesService,
    NamesRoleProvisioningService,
    TPage,
)
from werkzeug.serving import make_server

from tests.peer.platform import CLIENT_ID, PeerConf, PeerPlatform

AGS_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/"
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class ServiceRequest(Request):
    """A Flask request as the library reads it: JSON body, and numeric query values as ints."""

    def build_metadata(self, request: Any) -> TRequest:
        query = {k: int(v) if v.isdigit() else v for k, v in request.args.to_dict().items()}
        return {
            "method": request.method,
            "form_data": request.form.to_dict(),
            "get_data": query,
            "headers": dict(request.headers),
            "content_type": request.content_type,
            "path": request.path,
            "json": request.get_json(silent=True),
        }


@dataclass
class ServiceCall:
    """One request a service received: what the tool asked for, with which token scopes."""

    method: str
    path: str
    query: dict[str, str]
    accept: str
    content_type: str
    scopes: list[str]
    body: Any = None


@dataclass
class Gradebook:
    """The platform's line items and the scores they received, in memory."""

    base_url: str
    line_items: dict[str, dict[str, Any]] = field(default_factory=dict)  # url -> line item
    scores: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # url -> scores

    def url(self, number: str) -> str:
        """A line item's URL: with a query, as Moodle's (``?type_id=``) have."""
        return f"{self.base_url}/ags/lineitems/{number}/lineitem?type_id=7"

    def create(self, fields: dict[str, Any]) -> dict[str, Any]:
        url = self.url(str(len(self.line_items) + 1))
        self.line_items[url] = dict(fields) | {"id": url}
        self.scores[url] = []
        return self.line_items[url]


class PeerAGS(AssignmentsGradesService):
    """The library's AGS endpoints over :class:`Gradebook` (line item URLs carry a query)."""

    gradebook: Gradebook

    def find_lineitems(
        self,
        page: int = 1,
        limit: int | None = None,
        line_item_id: str | None = None,
        resource_link_id: str | None = None,
        resource_id: str | None = None,
        tag: str | None = None,
    ) -> TPage:
        items = [
            item
            for item in self.gradebook.line_items.values()
            if (resource_link_id is None or item.get("resourceLinkId") == resource_link_id)
            and (tag is None or item.get("tag") == tag)
        ]
        return {"content": items, "has_next": False}

    def find_lineitem(self, line_item_id: str) -> TLineItem:
        try:
            return self.gradebook.line_items[self.gradebook.url(line_item_id)]  # type: ignore[return-value]
        except KeyError:
            raise LineItemNotFoundException(line_item_id) from None

    def create_lineitem(self, creation_data: TLineItem) -> TLineItem:
        return self.gradebook.create(dict(creation_data))  # type: ignore[return-value]

    def update_lineitem(self, update_data: TLineItem) -> TLineItem:
        raise NotImplementedError

    def delete_lineitem(self, line_item_id: str) -> None:
        raise NotImplementedError

    def update_score(self, line_item_id: str, score: Any) -> UpdateScoreStatus:
        url = self.gradebook.url(line_item_id)
        if url not in self.gradebook.line_items:
            raise LineItemNotFoundException(line_item_id)
        held = self.gradebook.scores[url]
        mine = [s for s in held if s.get("userId") == score.get("userId")]
        if mine and mine[-1]["timestamp"] >= score["timestamp"]:  # as Moodle does (409)
            return UpdateScoreStatus.OLD_TIMESTAMP
        held.append(dict(score))
        return UpdateScoreStatus.SUCCESS

    def get_results(
        self, line_item_id: str, page: int = 1, limit: int | None = None, user_id: str | None = None
    ) -> TPage:
        raise NotImplementedError


class PeerNRPS(NamesRoleProvisioningService):
    """The library's NRPS endpoint over a member list, cut in pages of ``limit``."""

    members: list[dict[str, Any]]
    context: Context

    def get_member_data_page(
        self,
        page: int = 1,
        limit: int | None = None,
        role: str | None = None,
        since: str | None = None,
    ) -> TPage:
        size = limit or len(self.members) or 1
        start = (page - 1) * size
        chunk = [dict(m) for m in self.members[start : start + size]]
        return {"content": chunk, "has_next": start + size < len(self.members)}

    def get_context_by_id(self) -> Context:
        return self.context


class PeerServices:
    """lti1p3platform's token endpoint, AGS and NRPS for one course, over HTTP on 127.0.0.1."""

    def __init__(
        self,
        peer: PeerPlatform,
        tool_jwks: Callable[[], dict[str, Any]],
        context_id: str = "peer-course-1",
        page_size: int = 2,
    ) -> None:
        self.peer = peer
        self.tool_jwks = tool_jwks
        self.context = Context(id=context_id, label="PEER-1", title="Peer Course")
        self.page_size = page_size
        self.members: list[dict[str, Any]] = []
        self.gradebook: Gradebook
        self.assertions: list[dict[str, Any]] = []  # header and claims of every valid assertion
        self.calls: list[ServiceCall] = []
        self.problems: list[str] = []
        self._jtis: set[str] = set()
        self._lock = threading.Lock()
        web = Flask("peer-services")
        web.add_url_rule("/token", "token", self._token, methods=["POST"])
        web.add_url_rule("/ags/lineitems", "lineitems", self._lineitems, methods=["GET", "POST"])
        web.add_url_rule(
            "/ags/lineitems/<number>/lineitem/scores", "scores", self._scores, methods=["POST"]
        )
        web.add_url_rule("/nrps/memberships", "memberships", self._memberships)
        self._server = make_server("127.0.0.1", 0, web, threaded=True)
        self.base_url = f"http://127.0.0.1:{self._server.server_port}"
        self.gradebook = Gradebook(self.base_url)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()

    @property
    def token_url(self) -> str:
        return self.base_url + "/token"

    @property
    def lineitems_url(self) -> str:
        return self.base_url + "/ags/lineitems"

    @property
    def nrps_url(self) -> str:
        """The launch's ``context_memberships_url``: the page size rides along (the library pages
        only when the request names a limit)."""
        return f"{self.base_url}/nrps/memberships?limit={self.page_size}"

    def launch_claims(
        self, lineitem: str | None = None, allow_creating_lineitems: bool = True
    ) -> dict[str, Any]:
        """The AGS and NRPS claims of a launch, as the library builds them."""
        ags = LtiAgs(
            lineitems_url=self.lineitems_url,
            lineitem_url=lineitem,
            allow_creating_lineitems=allow_creating_lineitems,
        ).get_lti_ags_launch_claim()
        nrps = LtiNrps(self.nrps_url).get_lti_nrps_launch_claim()
        return ags | nrps

    def add_line_item(self, **fields: Any) -> str:
        """A line item the platform made itself (as an instructor's gradebook column)."""
        return str(self.gradebook.create(fields)["id"])

    # -- endpoints ---------------------------------------------------------------------------
    def _token(self) -> Response:
        form = flask_request.form.to_dict()
        conf = PeerConf(registration=self.peer.registration().set_tool_key_set(self.tool_jwks()))
        try:
            answer = conf.get_access_token(form)  # required fields, grant type, signature, exp
        except Exception as exc:  # the library raises many types for a refusal
            return self._refuse(f"library refused the token request: {type(exc).__name__}")
        problem = self._assertion_problem(form)
        if problem:
            return self._refuse(problem)
        return Response(json.dumps(answer), mimetype="application/json")

    def _assertion_problem(self, form: dict[str, str]) -> str:
        """What the library does not check (Security Framework §4.1.1)."""
        if form.get("client_assertion_type") != JWT_BEARER:
            return "client_assertion_type is not jwt-bearer"
        assertion = form["client_assertion"]
        header = jwt.get_unverified_header(assertion)
        claims = jwt.decode(assertion, options={"verify_signature": False})  # checked above
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        with self._lock:
            if claims.get("iss") != CLIENT_ID or claims.get("sub") != CLIENT_ID:
                return f"assertion iss/sub {claims.get('iss')}/{claims.get('sub')}"
            if self.token_url not in audiences:
                return f"assertion aud {audience!r} is not the token URL"
            if not claims.get("jti") or claims["jti"] in self._jtis:
                return "assertion jti missing or reused"
            exp, iat = claims.get("exp"), claims.get("iat")  # the library needs neither
            if not (isinstance(exp, int) and isinstance(iat, int) and 0 < exp - iat <= 3600):
                return "assertion lifetime out of bounds (or no exp/iat)"
            self._jtis.add(claims["jti"])
            self.assertions.append({"header": header, "claims": claims})
        return ""

    def _lineitems(self) -> Response:
        needed = "lineitem" if flask_request.method == "POST" else "lineitem.readonly"
        if problem := self._scope_problem({AGS_SCOPE + "lineitem", AGS_SCOPE + needed}):
            return self._refuse(problem, 403)
        service = self._ags()
        if flask_request.method == "POST":
            return self._answer(service.handle_resp(service.handle_create_lineitem))
        answer = service.handle_resp(service.handle_get_lineitems)
        page = answer.result if isinstance(answer.result, dict) else {}
        answer.result = page.get("content", answer.result)  # AGS §3.2: the container is an array
        response = self._answer(answer)
        if page.get("next"):
            response.headers["Link"] = f'<{page["next"]}>; rel="next"'
        return response

    def _scores(self, number: str) -> Response:
        if problem := self._scope_problem({AGS_SCOPE + "score"}):
            return self._refuse(problem, 403)
        if flask_request.args.get("type_id") != "7":
            return self._refuse("score URL lost the line item's query", 404)
        service = self._ags()
        return self._answer(service.handle_resp(service.handle_update_score, line_item_id=number))

    def _memberships(self) -> Response:
        if problem := self._scope_problem({NRPS_SCOPE}):
            return self._refuse(problem, 403)
        service = PeerNRPS(
            ServiceRequest(flask_request),
            PeerConf(registration=self.peer.registration()),
            self.base_url + "/nrps/memberships",
        )
        service.members, service.context = self.members, self.context
        answer = service.handle_resp(service.handle_get_members)
        response = self._answer(answer)
        if isinstance(answer.result, dict) and answer.result.get("next"):
            response.headers["Link"] = f'<{answer.result["next"]}>; rel="next"'
        return response

    # -- helpers -----------------------------------------------------------------------------
    def _ags(self) -> PeerAGS:
        service = PeerAGS(
            ServiceRequest(flask_request),
            PeerConf(registration=self.peer.registration()),
            self.lineitems_url,
        )
        service.gradebook = self.gradebook
        return service

    def _scope_problem(self, accepted: set[str]) -> str:
        """Record the call; a problem unless its bearer token holds one of ``accepted``."""
        auth = flask_request.headers.get("Authorization", "")
        scopes: list[str] = []
        if auth.startswith("Bearer "):
            try:
                contents = jwt.decode(
                    auth.removeprefix("Bearer "), self.peer.public_pem, algorithms=["RS256"]
                )
                scopes = str(contents.get("scopes", "")).split()
            except jwt.InvalidTokenError:
                scopes = []
        self.calls.append(
            ServiceCall(
                method=flask_request.method,
                path=flask_request.path,
                query=flask_request.args.to_dict(),
                accept=flask_request.headers.get("Accept", ""),
                content_type=flask_request.content_type or "",
                scopes=scopes,
                body=flask_request.get_json(silent=True),
            )
        )
        if not scopes:
            return ""  # the library answers 401 itself
        return "" if accepted & set(scopes) else f"token scopes {scopes} lack {sorted(accepted)}"

    def _refuse(self, problem: str, status: int = 401) -> Response:
        self.problems.append(problem)
        return Response(
            json.dumps({"error": "invalid_client" if status == 401 else "forbidden"}),
            status=status,
            mimetype="application/json",
        )

    @staticmethod
    def _answer(answer: LibResponse) -> Response:
        body = "" if answer.result is None else json.dumps(answer.result)
        return Response(body, status=answer.code, mimetype=answer.media_type)
