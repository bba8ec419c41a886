"""Car-Cutter errors: `{"code", "message"}`, nested under "error" unless `--no-nest-errors`; optional HTML 401;
any error as a proxy's page, text or nothing under `--error-body` (`common.error_bodies`)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from dev.standins import guesses
from dev.standins.common.error_bodies import non_json_error
from dev.standins.common.knobs import Knobs

UNAUTHORIZED_MESSAGE = "submitted 'Bearer' token is unauthorized"
CREDITS_EXCEEDED_MESSAGE = "Credits exceeded. Please contact sales."
NO_SUCH_IMAGE_MESSAGE = "no such image"
EXPIRED_MESSAGE = "file does not exist anymore."


class CarCutterError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def bad_input(message: str) -> CarCutterError:
    return CarCutterError(400, message)


def error_responder(knobs: Knobs):
    """`respond(status, message, target=None)`; `target` (path and query) is what a proxy's page may repeat."""

    def respond(status: int, message: str, target: str | None = None) -> Response:
        if status == 401 and knobs.html_401:
            return HTMLResponse(guesses.CC_HTML_401, status_code=401)
        other = non_json_error(knobs.error_body, status, target)
        if other is not None:
            return other
        body = {"code": status, "message": message}
        return JSONResponse({"error": body} if knobs.nest_errors else body, status_code=status)

    return respond


def _target(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def install_error_handlers(app: FastAPI, knobs: Knobs) -> None:
    respond = error_responder(knobs)

    @app.exception_handler(CarCutterError)
    async def api_error(request: Request, error: CarCutterError) -> Response:
        return respond(error.status, error.message, _target(request))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        return respond(error.status_code, str(error.detail), _target(request))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> Response:
        return respond(400, f"invalid input: {error.errors()[0].get('msg', 'bad parameter')}", _target(request))

    @app.exception_handler(Exception)
    async def internal_error(request: Request, error: Exception) -> Response:
        return respond(500, f"internal server error: {type(error).__name__}", _target(request))
