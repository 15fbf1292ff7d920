"""Users and their roles (seller, admin)."""

from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        from .selectors import seller_choices_forget

        user = self.get_model("User")
        post_save.connect(seller_choices_forget, sender=user, dispatch_uid="seller-choices")
        post_delete.connect(seller_choices_forget, sender=user, dispatch_uid="seller-choices-d")
