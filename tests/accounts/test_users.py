import pytest
from django.core.management import CommandError, call_command
from django.http import HttpRequest
from rest_framework.authtoken.models import Token

from accounts.models import User

pytestmark = pytest.mark.django_db


def test_add_user_makes_a_seller_who_can_log_in(client, capsys):
    call_command("add_user", "carla", "--email", "carla@example.com", "--role", "seller",
                 "--password", "s3cret-pass-word")

    user = User.objects.get(username="carla")
    assert user.role == User.Role.SELLER and not user.is_admin
    assert user.email == "carla@example.com"
    assert client.login(request=HttpRequest(), username="carla", password="s3cret-pass-word")
    assert "Created seller carla" in capsys.readouterr().out


def test_add_user_admin_without_password_prints_a_generated_one(client, capsys):
    call_command("add_user", "dora", "--email", "dora@example.com", "--role", "admin")

    out = capsys.readouterr().out
    password = out.rsplit("with password ", 1)[1].strip()
    assert User.objects.get(username="dora").is_admin
    assert client.login(request=HttpRequest(), username="dora", password=password)


def test_add_user_refuses_a_taken_username(seller):
    with pytest.raises(CommandError, match="already exists"):
        call_command("add_user", seller.username, "--email", "x@example.com", "--role", "admin")


def test_add_user_rejects_an_unknown_role():
    with pytest.raises(CommandError):
        call_command("add_user", "erin", "--email", "erin@example.com", "--role", "owner")


def test_drf_create_token_gives_a_working_api_token(client, admin_user, capsys):
    call_command("drf_create_token", admin_user.username)

    key = Token.objects.get(user=admin_user).key
    assert key in capsys.readouterr().out
    response = client.get("/api/v1/sync/settings/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200


def test_demo_users_are_created_once_and_printed(capsys):
    call_command("demo_users")
    call_command("demo_users")

    assert set(User.objects.values_list("username", "role")) == {
        ("admin", "admin"), ("ava", "seller"), ("ben", "seller")}
    assert "admin / admin-demo-pass" in capsys.readouterr().out


def test_login_page_logs_in_and_pages_need_a_login(client, seller):
    assert client.get("/people/").status_code == 302
    response = client.post("/login/", {"username": seller.username,
                                       "password": "correct-horse-battery"})
    assert response.status_code == 302
    assert client.get("/people/").status_code == 200


def test_wrong_password_is_refused_with_a_message(client, seller):
    response = client.post("/login/", {"username": seller.username, "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_navigation_shows_admin_links_only_to_admins(seller_client, admin_user, client):
    seller_page = seller_client.get("/people/").content.decode()
    assert "Settings" not in seller_page and "Diagnostics" not in seller_page
    assert "Tasks" in seller_page

    client.force_login(admin_user)
    admin_page = client.get("/people/").content.decode()
    assert "Settings" in admin_page and "Diagnostics" in admin_page
