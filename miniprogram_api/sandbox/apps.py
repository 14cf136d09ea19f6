from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "miniprogram_api.sandbox"
    label = "sandbox"
    verbose_name = "Provider sandbox (local only)"
