"""Stripe's error bodies: `{"error": {"type", "message", "code", "param", "doc_url"}}`."""
from __future__ import annotations

import orjson
from aiohttp import web


class StripeError(Exception):
    """Raised by a handler; the server answers it with Stripe's error body."""

    def __init__(self, status: int, message: str, type_: str = "invalid_request_error",
                 code: str | None = None, param: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.type = status, message, type_
        self.code, self.param, self.headers = code, param, headers or {}

    def body(self) -> dict:
        error = {"type": self.type, "message": self.message}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param:
            error["param"] = self.param
        return {"error": error}

    def response(self) -> web.Response:
        return web.Response(status=self.status, body=orjson.dumps(self.body()),
                            content_type="application/json", headers=self.headers)


def masked_key(key: str) -> str:
    """Show only the key's kind (sk_test_...), never its secret part."""
    parts = key.split("_")
    kind = "_".join(parts[:2]) + "_" if len(parts) > 2 else ""
    return kind + "*" * 24


def invalid_api_key(key: str) -> StripeError:
    return StripeError(401, f"Invalid API Key provided: {masked_key(key)}")


def missing_api_key() -> StripeError:
    return StripeError(401, "You did not provide an API key. You need to provide your API key "
                            "in the Authorization header, using Bearer auth "
                            "(e.g. 'Authorization: Bearer YOUR_SECRET_KEY').")


def rate_limited(reason: str) -> StripeError:
    # Stripe sends the reason header and no Retry-After on a rate-limit 429.
    return StripeError(429, "Request rate limit exceeded. You can learn more about rate limits "
                            "here https://stripe.com/docs/rate-limits.",
                       code="rate_limit", headers={"Stripe-Rate-Limited-Reason": reason})


def api_error() -> StripeError:
    return StripeError(500, "An unknown error occurred", type_="api_error",
                       headers={"Stripe-Should-Retry": "true"})


def no_such(object_name: str, object_id: str, param: str = "id", status: int = 404) -> StripeError:
    return StripeError(status, f"No such {object_name}: '{object_id}'",
                       code="resource_missing", param=param)


def bad_parameter(param: str, message: str, code: str = "parameter_invalid_integer") -> StripeError:
    return StripeError(400, message, code=code, param=param)


def unknown_parameter(param: str) -> StripeError:
    return StripeError(400, f"Received unknown parameter: {param}",
                       code="parameter_unknown", param=param)


def unrecognized_url(method: str, path: str) -> StripeError:
    return StripeError(404, f"Unrecognized request URL ({method}: {path}). Please see "
                            "https://stripe.com/docs or we can help at https://support.stripe.com/.")
