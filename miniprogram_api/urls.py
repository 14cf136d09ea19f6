from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("miniprogram_api.api.urls")),
    path("api/gate/v1/", include("miniprogram_api.api.gate_urls")),
    path("api/payments/", include("miniprogram_api.api.payments_urls")),
    path("api/couriers/v1/", include("miniprogram_api.api.courier_urls")),
    path("api/schema", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
]

if settings.SANDBOX_ENABLED:
    urlpatterns.append(path("sandbox/", include("miniprogram_api.sandbox.urls")))
    urlpatterns.append(path("demo/", include("miniprogram_api.demo.urls")))

admin.site.site_header = "Mini-program backend"
admin.site.site_title = "Mini-program admin"
