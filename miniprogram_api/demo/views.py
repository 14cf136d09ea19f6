"""The demo pages are static shells: every figure on them comes from the public API,
called by the page itself, so what they show is what a mini-program would get."""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from stores.demo_data import SHOPPERS

# People's Square, where the demo data's around-the-clock scan & go flagship stands.
DEFAULT_LAT = "31.2304"
DEFAULT_LNG = "121.4737"


def sandbox_only(view):
    """A second lock behind the URL mount: should the urls ever be included without the
    sandbox, the pages still refuse to exist."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not settings.SANDBOX_ENABLED:
            raise Http404("The demo pages exist only with the sandbox.")
        return view(request, *args, **kwargs)

    return wrapper


@require_GET
@sandbox_only
def shopper(request):
    context = {"shoppers": SHOPPERS, "lat": DEFAULT_LAT, "lng": DEFAULT_LNG}
    return render(request, "demo/shopper.html", context)


@require_GET
@sandbox_only
def gate(request):
    return render(request, "demo/gate.html")
