"""Schemathesis hooks for .ci/schemathesis: positive (schema-valid) cases are adjusted where a
rule spans several parameters or depends on the service's state, which an OpenAPI document
cannot express. Only those parameters are touched, only in positive cases; everything else is
generated and checked as the schema says (negative cases are left alone).

- GET /api/v1/stats*: `to` must not be before `from`, and the range (with `to` defaulting to
  today) may cover at most 1096 days. A range breaking that gets `to = from`.
- GET /api/v1/tips: `submitted_to` must not be before `submitted_from` (same repair), and
  `cursor` must be a `next_cursor` the service handed out: a generated one is replaced by a
  well-formed cursor (the schema can only say "base64url").
"""

import base64
import datetime

import schemathesis
from schemathesis import GenerationMode

MAX_RANGE_DAYS = 1096
# Priority rank 0, both instants at the epoch, the nil UUID: a cursor before every tip.
VALID_CURSOR = base64.urlsafe_b64encode(b"0|0|0|00000000-0000-0000-0000-000000000000").decode().rstrip("=")


def _date(value):
    if not isinstance(value, str):
        return None
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        return None


def _repair_range(query, first, last, limit_days):
    start = _date(query.get(first))
    if start is None:
        return
    end = _date(query.get(last))
    if end is None and query.get(last) not in (None, ""):
        return  # an invalid `last` is not ours to fix
    # Without `last` the service takes today (or `first`, if later); a day of margin for the
    # Swedish date against this machine's.
    effective = end or max(start, datetime.date.today() + datetime.timedelta(days=1))
    too_long = limit_days is not None and (effective - start).days + 1 > limit_days - 1
    if effective < start or too_long:
        query[last] = query[first]


@schemathesis.hook
def map_case(context, case):
    meta = case.meta
    if meta is None or meta.generation.mode != GenerationMode.POSITIVE or not case.query:
        return case
    path, method = case.operation.path, case.operation.method.upper()
    if method != "GET":
        return case
    if path.startswith("/api/v1/stats"):
        _repair_range(case.query, "from", "to", MAX_RANGE_DAYS)
    elif path == "/api/v1/tips":
        _repair_range(case.query, "submitted_from", "submitted_to", None)
        if case.query.get("cursor") not in (None, ""):
            case.query["cursor"] = VALID_CURSOR
    return case
