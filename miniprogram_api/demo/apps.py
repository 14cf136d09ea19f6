from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "miniprogram_api.demo"
    label = "demo"
    verbose_name = "Demo pages (local only)"
