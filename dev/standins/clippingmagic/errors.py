"""The documented Error JSON Object: `{"error": {"status", "code", "message"}}` on every failure."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from dev.standins import guesses

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


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ClippingMagicError)
    async def api_error(_: Request, error: ClippingMagicError) -> JSONResponse:
        return error_response(error.status, error.message, error.code)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        return error_response(error.status_code, str(error.detail))

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, error: RequestValidationError) -> JSONResponse:
        return error_response(400, f"Invalid request: {error.errors()[0].get('msg', 'bad parameter')}")

    @app.exception_handler(Exception)
    async def internal_error(_: Request, error: Exception) -> JSONResponse:
        return error_response(500, f"Internal error: {type(error).__name__}")
