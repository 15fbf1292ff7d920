"""``cached_built_once``: values missing from the cache are built by one request at a time;
the others asking for them meanwhile get that request's values instead of building them."""

import threading

import pytest
from django.core.cache import cache

from salesactions.caching import building_lock, cached_built_once


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


def test_requests_asking_while_one_builds_wait_for_its_values():
    release, building = threading.Event(), threading.Event()
    builds = []

    def build(keys):
        builds.append(list(keys))
        building.set()
        assert release.wait(10)
        return {key: f"value of {key}" for key in keys}

    answers = {}

    def ask(name):
        answers[name] = cached_built_once(["a", "b"], 60, build, wait=10)

    first = threading.Thread(target=ask, args=("first",))
    first.start()
    assert building.wait(10)
    others = [threading.Thread(target=ask, args=(f"other {n}",)) for n in range(3)]
    for thread in others:
        thread.start()
    release.set()
    for thread in [first, *others]:
        thread.join(15)

    assert builds == [["a", "b"]]
    assert len(answers) == 4
    assert all(answer == {"a": "value of a", "b": "value of b"} for answer in answers.values())


def test_only_the_missing_values_are_built_and_cached():
    cache.set("a", "kept", 60)
    built = cached_built_once(["a", "b"], 60, lambda keys: {key: keys for key in keys})
    assert built == {"a": "kept", "b": ["b"]}
    assert cache.get("b") == ["b"]
    assert cached_built_once(["a", "b"], 60, lambda keys: pytest.fail("built again")) == built


def test_a_builder_that_fails_lets_the_waiting_request_build(monkeypatch):
    from salesactions import caching

    waiting = threading.Event()
    wait_for_builder = caching._built_elsewhere

    def waits(*args):
        waiting.set()
        return wait_for_builder(*args)

    monkeypatch.setattr(caching, "_built_elsewhere", waits)

    def broken(keys):
        assert waiting.wait(10)  # the second request is waiting for this one
        raise RuntimeError("database went away")

    errors, answers = [], []

    def first():
        try:
            cached_built_once(["c"], 60, broken, wait=3600)
        except RuntimeError as error:
            errors.append(error)

    def second():
        answers.append(cached_built_once(["c"], 60, lambda keys: {"c": "built by the second"},
                                         wait=3600))

    threads = [threading.Thread(target=first)]
    threads[0].start()
    while cache.get(building_lock(["c"])) is None:  # until the first holds it
        threading.Event().wait(0.01)
    threads.append(threading.Thread(target=second))
    threads[1].start()
    for thread in threads:
        thread.join(30)

    # The second saw the first give up and built the value itself, not after its hour.
    assert not any(thread.is_alive() for thread in threads)
    assert answers == [{"c": "built by the second"}]
    assert [str(error) for error in errors] == ["database went away"]

