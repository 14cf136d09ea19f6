"""The demo pages' server side: served with the sandbox, absent without it (and so in
production, which refuses to start with the sandbox on)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders

# In a fresh interpreter with the sandbox off: what /demo/ answers, and whether the app and
# its static files exist at all.
SANDBOX_OFF_PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client
client = Client()
print(json.dumps({
    "installed": "miniprogram_api.demo" in settings.INSTALLED_APPS,
    "shopper": client.get("/demo/").status_code,
    "gate": client.get("/demo/gate").status_code,
    "script": finders.find("demo/shopper.js"),
}))
"""


def test_the_shopper_page_is_served_with_the_sandbox_and_loads_its_scripts(client):
    response = client.get("/demo/")

    assert response.status_code == 200
    page = response.content.decode()
    for shopper in ("li-na", "wang-wei", "zhang-min", "liu-yang", "chen-jing"):
        assert f'<option value="{shopper}">' in page
    assert '<script src="/static/demo/common.js">' in page
    assert '<script src="/static/demo/shopper.js">' in page
    assert finders.find("demo/shopper.js") and finders.find("demo/common.js")


def test_the_gate_page_is_served_with_the_sandbox_and_loads_its_script(client):
    response = client.get("/demo/gate")

    assert response.status_code == 200
    assert '<script src="/static/demo/gate.js">' in response.content.decode()
    assert finders.find("demo/gate.js")


def test_the_demo_pages_take_only_get(client):
    assert client.post("/demo/").status_code == 405
    assert client.post("/demo/gate").status_code == 405


@pytest.mark.parametrize("path", ["/demo/", "/demo/gate"])
def test_the_demo_pages_refuse_to_exist_when_the_sandbox_is_switched_off_after_mounting(client, settings, path):
    settings.SANDBOX_ENABLED = False

    assert client.get(path).status_code == 404


def test_without_the_sandbox_the_demo_pages_are_not_mounted_nor_installed(tmp_path):
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "DJANGO_SETTINGS_MODULE": "miniprogram_api.settings",
        "VAR_DIR": str(tmp_path / "var"),
        "PYTHONDONTWRITEBYTECODE": "1",
        "SANDBOX_ENABLED": "false",
        "DEBUG": "false",
    }
    result = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-c", SANDBOX_OFF_PROBE],
        cwd=settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "installed": False,
        "shopper": 404,
        "gate": 404,
        "script": None,
    }
