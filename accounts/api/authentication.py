"""Personal access tokens for programs: `Authorization: Bearer nija_...`. A token acts as its user
(an investor's token reads only their own account, as their session would) and only reads: any
other method is refused. The browser keeps session authentication."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.permissions import SAFE_METHODS

from ..selectors import api_token_valid
from ..services import api_token_touch


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode(errors="replace").lower() != self.keyword.lower():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization: Bearer <token>, one token.")
        try:
            text = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("invalid, expired or revoked token") from None
        token = api_token_valid(token=text)
        if token is None:
            raise exceptions.AuthenticationFailed("invalid, expired or revoked token")
        if request.method not in SAFE_METHODS:
            raise exceptions.PermissionDenied("API tokens are read-only")
        api_token_touch(token=token)
        return token.user, token

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="api"'


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Documents the token in the OpenAPI schema (and lets the docs page send one)."""

    target_class = ApiTokenAuthentication
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "A personal access token from `manage.py api_token_create` or the admin."}
