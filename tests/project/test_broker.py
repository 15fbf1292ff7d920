"""The embedded broker (salesactions/broker.py): a message is never read before it is whole."""

import os
import threading

import pytest
from kombu import Connection

from salesactions import broker as broker_module
from salesactions.broker import PART, Transport

MESSAGES = 2000


@pytest.fixture
def broker(tmp_path):
    """A connection and its folder. kombu keeps exchange bindings per process, so each test
    names its queue uniquely (``tmp_path.name``)."""
    folder = tmp_path / "queue"
    folder.mkdir()
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder),
               "control_folder": str(tmp_path / "control"), "store_processed": False}
    with Connection("filesystem://", transport=Transport, transport_options=options) as conn:
        yield conn, folder


def test_a_message_still_being_written_is_not_taken(broker):
    connection, folder = broker
    queue = connection.SimpleQueue(folder.parent.name)
    # What a writer leaves while it writes: the reader must skip it, not decode it.
    (folder / f"1_half.{folder.parent.name}.msg{PART}").write_bytes(b'{"body": "')

    with pytest.raises(queue.Empty):
        queue.get(block=False)
    queue.put({"n": 1})
    assert queue.get(block=False).payload == {"n": 1}


def test_the_message_file_takes_its_name_only_when_complete(broker, monkeypatch):
    connection, folder = broker
    queue = connection.SimpleQueue(folder.parent.name)
    takeable_while_writing = []

    class Watched:
        def __init__(self, file):
            self.file = file

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

        def write(self, data):
            takeable_while_writing.extend(f for f in os.listdir(folder) if f.endswith(".msg"))
            return self.file.write(data)

    monkeypatch.setattr(broker_module, "open", lambda *a, **k: Watched(open(*a, **k)),
                        raising=False)
    queue.put({"n": 1})

    assert takeable_while_writing == []
    assert [f for f in os.listdir(folder) if f.endswith(".msg")]
    assert queue.get(block=False).payload == {"n": 1}


def test_messages_written_while_a_worker_reads_all_arrive_whole(broker, tmp_path):
    connection, _ = broker
    name = tmp_path.name
    received, errors = [], []

    def produce():
        with connection.clone() as producer_connection:
            queue = producer_connection.SimpleQueue(name)
            for n in range(MESSAGES):
                queue.put({"n": n, "padding": "x" * 2000})

    consumer = connection.SimpleQueue(name)  # a worker declares its queue at start
    producer = threading.Thread(target=produce)
    producer.start()
    while len(received) < MESSAGES and not errors:
        try:
            message = consumer.get(block=True, timeout=10)
        except consumer.Empty:
            if not producer.is_alive():
                break
            continue
        except Exception as error:  # a torn message surfaces here
            errors.append(error)
            break
        received.append(message.payload["n"])
        message.ack()
    producer.join()

    assert not errors
    assert sorted(received) == list(range(MESSAGES))


def test_the_apps_filesystem_urls_name_this_transport():
    from salesactions.celery import app

    assert app.conf.broker_transport is None  # chosen by the URL, so other URLs stay theirs
    assert Connection("filesystem://").get_transport_cls() is Transport
    assert Connection("redis://127.0.0.1:1/0").get_transport_cls() is not Transport
