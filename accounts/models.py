from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A seller or an admin. Sellers own people whose Marketo lead owner email is theirs."""

    class Role(models.TextChoices):
        SELLER = "seller", "Seller"
        ADMIN = "admin", "Admin"

    role = models.CharField(max_length=10, choices=Role.choices, default=Role.SELLER)

    @property
    def is_admin(self) -> bool:
        return self.role == self.Role.ADMIN

    def __str__(self) -> str:
        return self.get_full_name() or self.username
