"""Stripe's error shape, `{"error": {"type", "message", "param"?, "code"?}}`, and its status."""

from __future__ import annotations

from typing import Any


class StripeError(Exception):
    """An API error answered exactly as Stripe words and shapes it."""

    def __init__(
        self,
        status: int,
        error_type: str,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message
        self.param = param
        self.code = code

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.error_type}
        if self.param is not None:
            error["param"] = self.param
        if self.code is not None:
            error["code"] = self.code
        return {"error": error}

    @classmethod
    def invalid(
        cls, message: str, *, param: str | None = None, code: str | None = None
    ) -> StripeError:
        return cls(400, "invalid_request_error", message, param=param, code=code)

    @classmethod
    def missing(cls, param: str) -> StripeError:
        return cls.invalid(
            f"Missing required param: {param}.", param=param, code="parameter_missing"
        )

    @classmethod
    def unknown_param(cls, param: str) -> StripeError:
        return cls.invalid(
            f"Received unknown parameter: {param}", param=param, code="parameter_unknown"
        )

    @classmethod
    def no_such(cls, kind: str, object_id: str, *, param: str | None = None) -> StripeError:
        return cls(
            404 if param is None else 400,
            "invalid_request_error",
            f"No such {kind}: '{object_id}'",
            param=param if param is not None else "id",
            code="resource_missing",
        )
