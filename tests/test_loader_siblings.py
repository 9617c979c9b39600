"""`sibling()`: one service file using another's resources. Two files that ask for each other used to recurse until
Python gave up (found by a new user's tryout); now each gets the other's module as declared so far, as Python's own
imports do, and a name asked of a file still loading gets a message saying what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from platform_sdk.errors import PlatformError
from platform_sdk.loader import load_services

FRONT = '''
from platform_sdk import Function, Queue, Service, http
from platform_sdk.loader import sibling

front = Service("front", owner="team")
api = front.add(Function("api", handler="h.handle", triggers=[http()]))
replies = front.add(Queue("replies"))
back = sibling("back")
api.sends(back.jobs)
'''
BACK = '''
from platform_sdk import Function, Queue, Service, http
from platform_sdk.loader import sibling

back = Service("back", owner="team")
jobs = back.add(Queue("jobs"))
worker = back.add(Function("worker", handler="h.handle", triggers=[http()]))
front = sibling("front")
worker.sends(front.replies)
'''


def write(root: Path, files: dict[str, str]) -> Path:
    services = root / "services"
    services.mkdir(parents=True)
    (services / "h.py").write_text("def handle(event):\n    return None\n")
    for name, text in files.items():
        (services / name).write_text(text)
    return services


def test_two_files_that_ask_for_each_other_load_once_each(tmp_path: Path) -> None:
    services = {s.name: s for s in load_services(write(tmp_path, {"front.py": FRONT, "back.py": BACK}))}
    api, worker = services["front"].get("api"), services["back"].get("worker")
    assert [g.target.address for g in api.grants] == ["back.jobs"]
    assert [g.target.address for g in worker.grants] == ["front.replies"]


def test_a_name_asked_of_a_file_still_loading_says_what_to_do(tmp_path: Path) -> None:
    """back.py (loaded first: files load in name order) asks for front.py before declaring its queue, and front.py
    then asks back.py for that queue."""
    early = BACK.replace('front = sibling("front")\n', "").replace(
        'back = Service("back", owner="team")\n', 'back = Service("back", owner="team")\nfront = sibling("front")\n')
    with pytest.raises(PlatformError) as err:
        load_services(write(tmp_path, {"front.py": FRONT, "back.py": early}))
    text = str(err.value)
    assert "front.py:9: services/back.py defines no 'jobs' yet (it defines: back)" in text, text
    assert "back.py is still being loaded (it called sibling() before declaring 'jobs')" in text
