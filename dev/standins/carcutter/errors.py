"""Car-Cutter errors: `{"code", "message"}`, nested under "error" unless `--no-nest-errors`; optional HTML 401."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from dev.standins import guesses
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
    def respond(status: int, message: str) -> Response:
        if status == 401 and knobs.html_401:
            return HTMLResponse(guesses.CC_HTML_401, status_code=401)
        body = {"code": status, "message": message}
        return JSONResponse({"error": body} if knobs.nest_errors else body, status_code=status)

    return respond


def install_error_handlers(app: FastAPI, knobs: Knobs) -> None:
    respond = error_responder(knobs)

    @app.exception_handler(CarCutterError)
    async def api_error(_: Request, error: CarCutterError) -> Response:
        return respond(error.status, error.message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> Response:
        return respond(error.status_code, str(error.detail))

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, error: RequestValidationError) -> Response:
        return respond(400, f"invalid input: {error.errors()[0].get('msg', 'bad parameter')}")

    @app.exception_handler(Exception)
    async def internal_error(_: Request, error: Exception) -> Response:
        return respond(500, f"internal server error: {type(error).__name__}")
