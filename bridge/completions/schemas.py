"""Request and response shapes of the completions API."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class CriterionIn(Schema):
    key = fields.String(required=True, validate=validate.Length(min=1, max=100))
    count = fields.Integer(required=True, strict=True)


class RulesIn(Schema):
    criteria = fields.List(
        fields.Nested(CriterionIn), required=True, validate=validate.Length(max=20)
    )
    score_mode = fields.String(
        load_default="completion", validate=validate.OneOf(["completion", "progress"])
    )


class CriterionOut(Schema):
    key = fields.String()
    count = fields.Integer()
    label = fields.String()


class OfferedOut(Schema):
    key = fields.String()
    label = fields.String()


class RulesOut(Schema):
    version = fields.Integer()
    criteria = fields.List(fields.Nested(CriterionOut))
    score_mode = fields.String()
    offered = fields.List(fields.Nested(OfferedOut))


class DeliveryOut(Schema):
    connector = fields.String()
    status = fields.String()
    attempts = fields.Integer()
    delivered_at = fields.DateTime(allow_none=True)
    last_reason = fields.String()


class StandingOut(Schema):
    user_id = fields.String()
    name = fields.String()
    score = fields.String()
    met = fields.List(fields.String())
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    completed_at = fields.DateTime(allow_none=True)
    completed_version = fields.Integer(allow_none=True)  # the rule version completed
    deliveries = fields.List(fields.Nested(DeliveryOut))


class MyStandingOut(Schema):
    rules = fields.Nested(RulesOut)
    standing = fields.Nested(StandingOut, allow_none=True)


class StandingsOut(Schema):
    rules = fields.Nested(RulesOut)
    learners = fields.List(fields.Nested(StandingOut))
