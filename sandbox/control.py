"""Control-surface routes both sandbox servers share (under /_sandbox/, no auth):
stats, rate-limit window, knobs, clock, reset and state dump. Server-specific routes are added by each app."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from starlette.responses import Response

from sandbox.common import CONTROL_PREFIX, json_response


async def _optional_json(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return {}
    try:
        return await request.json()
    except ValueError:
        return None


def add_common_controls(app: FastAPI, state: Any) -> APIRouter:
    """Return the /_sandbox router (caller adds its own routes, then includes it)."""
    ctl = APIRouter(prefix=CONTROL_PREFIX)

    @ctl.get("/stats")
    async def get_stats() -> Response:
        return json_response(state.stats.as_dict())

    @ctl.post("/stats/reset")
    async def reset_stats() -> Response:
        state.stats.reset()
        return json_response(state.stats.as_dict())

    @ctl.post("/ratelimit/reset")
    async def reset_rate_window() -> Response:
        """Forget the requests counted in the current rate-limit window (benches start each
        measured run with the account's whole minute, not what an earlier run left of it)."""
        state.limiter.reset()
        return json_response({"reset": True})

    @ctl.get("/knobs")
    async def get_knobs() -> Response:
        return json_response(state.knobs.as_dict())

    async def set_knobs(request: Request) -> Response:
        body = await _optional_json(request)
        if not isinstance(body, dict):
            return json_response({"message": "body must be a JSON object of knob: value"}, 400)
        try:
            state.knobs.update(body)
        except (KeyError, TypeError, ValueError) as exc:
            return json_response({"message": str(exc)}, 400)
        return json_response(state.knobs.as_dict())

    for method in ("PUT", "PATCH", "POST"):
        ctl.add_api_route("/knobs", set_knobs, methods=[method], name=f"set_knobs_{method.lower()}")

    @ctl.post("/knobs/reset")
    async def reset_knobs() -> Response:
        state.knobs.update(state.initial_knobs)
        return json_response(state.knobs.as_dict())

    @ctl.post("/reset")
    async def reset_world() -> Response:
        state.reset()
        return json_response({"reset": True})

    @ctl.get("/state")
    async def dump_state(only: str | None = None) -> Response:
        """Everything stored; `?only=a,b` limits to those collections."""
        names = {n.strip() for n in only.split(",")} if only else None
        return json_response(state.dump(names))

    @ctl.get("/clock")
    async def get_clock() -> Response:
        return json_response({"now": state.clock.now(), "frozen": state.clock.frozen})

    @ctl.post("/clock")
    async def move_clock(request: Request) -> Response:
        """Body: {"advance_seconds": 61} and/or {"freeze": true|false}, {"freeze_at": unix}."""
        body = await _optional_json(request) or {}
        if body.get("freeze") is True or "freeze_at" in body:
            state.clock.freeze(body.get("freeze_at"))
        elif body.get("freeze") is False:
            state.clock.unfreeze()
        if body.get("advance_seconds"):
            state.clock.advance(float(body["advance_seconds"]))
        return json_response({"now": state.clock.now(), "frozen": state.clock.frozen})

    return ctl
