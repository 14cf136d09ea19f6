from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "miniprogram_api.accounts"
    label = "accounts"
    verbose_name = "Customers and login"
