"""GET /api/v1/schema/ (the OpenAPI schema, documenting its own errors like every other endpoint) and
GET /api/v1/docs/ (Swagger UI over it). Both render YAML or HTML, but their errors are the API's JSON
error shape with its code (otp_required, not_authenticated, ...), as every other endpoint's are."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from .api import error_responses
from .errors import ApplicationError

FORMATS = ("json", "yaml")


class JsonErrors:
    """An error from a view that renders YAML or HTML is rendered as JSON: otherwise its code and
    message never reach the caller (the error-shape middleware could only say "Forbidden")."""

    def handle_exception(self, exc: Exception) -> Response:
        self.request.accepted_renderer, self.request.accepted_media_type = JSONRenderer(), "application/json"
        return super().handle_exception(exc)


class ApiDocsView(JsonErrors, SpectacularSwaggerSplitView):
    pass


class ApiSchemaView(JsonErrors, SpectacularAPIView):
    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=list(FORMATS),
                                     description="default: by the Accept header (YAML first)")],
        # errors are JSON (core.middleware), whatever the schema itself is rendered as
        responses={200: OpenApiTypes.OBJECT, **{(status, "application/json"): response for status, response
                                                in error_responses(400, 401, 403, 405, 429).items()}},
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def initial(self, request: Request, *args, **kwargs) -> None:
        # DRF answers an unknown ?format= with "no such page" and ignores an empty one: say what is valid
        # (before content negotiation, which would fail on it; the error itself is JSON)
        if "format" in request.query_params and request.query_params["format"] not in FORMATS:
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), "application/json"
            raise ApplicationError(f"format must be one of {', '.join(FORMATS)}", code="invalid")
        super().initial(request, *args, **kwargs)
