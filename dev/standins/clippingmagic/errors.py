"""The documented Error JSON Object: `{"error": {"status", "code", "message"}}` on every failure, unless
`--error-body` asks for a proxy's page, text or nothing (`common.error_bodies`)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from dev.standins import guesses
from dev.standins.common.error_bodies import non_json_error
from dev.standins.common.knobs import Knobs

_CODE_BY_STATUS = {
    401: guesses.CM_CODE_UNAUTHORIZED,
    404: guesses.CM_CODE_NOT_FOUND,
    429: guesses.CM_CODE_RATE_LIMITED,
}


class ClippingMagicError(Exception):
    def __init__(self, status: int, code: int, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_response(status: int, message: str, code: int | None = None) -> JSONResponse:
    if code is None:
        code = _CODE_BY_STATUS.get(
            status, guesses.CM_CODE_SERVER_ERROR if status >= 500 else guesses.CM_CODE_BAD_PARAMETER
        )
    headers = {"WWW-Authenticate": 'Basic realm="Clipping Magic API"'} if status == 401 else None
    return JSONResponse({"error": {"status": status, "code": code, "message": message}}, status, headers=headers)


def error_responder(knobs: Knobs):
    """`respond(status, message, code=None, target=None)`: the Error JSON Object, or what `--error-body` asks."""

    def respond(status: int, message: str, code: int | None = None, target: str | None = None) -> Response:
        other = non_json_error(knobs.error_body, status, target)
        if other is not None:
            if status == 401:
                other.headers["WWW-Authenticate"] = 'Basic realm="Clipping Magic API"'
            return other
        return error_response(status, message, code)

    return respond


def _target(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def install_error_handlers(app: FastAPI, knobs: Knobs) -> None:
    respond = error_responder(knobs)

    @app.exception_handler(ClippingMagicError)
    async def api_error(request: Request, error: ClippingMagicError) -> Response:
        return respond(error.status, error.message, error.code, _target(request))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        return respond(error.status_code, str(error.detail), target=_target(request))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> Response:
        message = f"Invalid request: {error.errors()[0].get('msg', 'bad parameter')}"
        return respond(400, message, target=_target(request))

    @app.exception_handler(Exception)
    async def internal_error(request: Request, error: Exception) -> Response:
        return respond(500, f"Internal error: {type(error).__name__}", target=_target(request))
