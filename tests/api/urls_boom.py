"""The project's URLs plus views that fail on purpose, for the error-shape tests."""

from django.http import HttpResponse
from django.urls import path
from django.views.decorators.http import require_POST
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from miniprogram_api.core import errors as domain
from miniprogram_api.urls import urlpatterns as project_urlpatterns


class BoomView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request):
        raise RuntimeError("a bug in a DRF view: secret internals here")


class DomainErrorView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request):
        raise domain.Conflict("The basket is already checked out.", code="basket_checked_out", details={"id": 7})


def plain_boom(request):
    raise RuntimeError("a bug in a plain Django view: secret internals here")


@require_POST
def plain_post_only(request):
    return HttpResponse("done")


urlpatterns = [
    path("api/v1/test-boom", BoomView.as_view()),
    path("api/v1/test-domain-error", DomainErrorView.as_view()),
    path("api/v1/test-plain-boom", plain_boom),
    path("api/v1/test-plain-post-only", plain_post_only),
    path("test-plain-boom", plain_boom),
    *project_urlpatterns,
]
