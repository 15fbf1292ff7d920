"""The error a handler raises to answer with Marketo's response-level envelope."""

from __future__ import annotations


class ApiError(Exception):
    """``success: false`` with ``errors: [{"code": code, "message": message}]`` (HTTP 200).

    Codes are strings on the wire, as Marketo sends them.
    """

    def __init__(self, code: str | int, message: str):
        super().__init__(f"{code}: {message}")
        self.code = str(code)
        self.message = message


def blank(name: str) -> ApiError:
    return ApiError("701", f"{name} cannot be blank")


def invalid(message: str) -> ApiError:
    return ApiError("1003", message)


def field_not_found(name: str) -> ApiError:
    return ApiError("1006", f"Field '{name}' not found")
