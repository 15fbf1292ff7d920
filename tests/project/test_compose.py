"""The production shape as docker-compose.yml and the Dockerfile declare it. No Docker engine runs
where the tests do, so these read the files: what ``docker compose up --scale worker=4`` needs
(README "More workers") and that every app the settings install ships in the package."""

import re
import tomllib
from pathlib import Path

import yaml
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("migrate", "web", "worker", "beat")


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_runs_postgresql_redis_web_worker_and_beat_from_one_image():
    services = compose()["services"]

    assert set(services) == {"db", "redis", *APP_SERVICES}
    assert services["db"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    assert "gunicorn salesactions.wsgi --config gunicorn.conf.py" in services["web"]["command"]
    assert services["worker"]["command"].startswith("celery -A salesactions worker")
    assert services["beat"]["command"].startswith("celery -A salesactions beat")
    for name in APP_SERVICES:
        assert services[name]["build"] == "."


def test_every_app_process_shares_one_database_broker_and_key():
    services = compose()["services"]
    environments = [services[name]["environment"] for name in APP_SERVICES]

    for key in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY"):
        assert len({environment[key] for environment in environments}) == 1, key
    assert environments[0]["DATABASE_URL"].startswith("postgres://")
    assert re.match(r"redis://redis:6379/\d+$", environments[0]["REDIS_URL"])
    # No default key: compose refuses to start without one (never a forgeable default).
    assert environments[0]["SECRET_KEY"].startswith("${SECRET_KEY:?")


def test_workers_scale_beat_does_not_need_to():
    """``--scale worker=N`` starts N copies: a fixed container name or a published port would
    make the second copy fail to start."""
    services = compose()["services"]

    for name, service in services.items():
        assert "container_name" not in service, name
    assert "ports" not in services["worker"]
    assert "ports" not in services["beat"]
    for name in ("worker", "beat", "web"):
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"}


def test_every_local_app_is_in_the_package_and_the_image_copies_the_whole_tree():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    included = {pattern.rstrip("*") for pattern in setuptools["packages"]["find"]["include"]}
    local_apps = {app.split(".")[0] for app in settings.INSTALLED_APPS
                  if (ROOT / app.split(".")[0]).is_dir()}
    dockerfile = (ROOT / "Dockerfile").read_text()

    assert local_apps - included == set()
    assert "COPY . ." in dockerfile
    assert 'CMD ["gunicorn", "salesactions.wsgi", "--config", "gunicorn.conf.py"]' in dockerfile
