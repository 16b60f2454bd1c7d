"""The embedded SQLite broker is prepared once even when many processes start together."""

import sqlite3
import subprocess
import sys
import time


def test_processes_starting_together_share_one_queue_row(tmp_path):
    go = tmp_path / "go"
    env = {"VIDEOGEN_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    # Every process imports everything first, then all create the app at the same moment.
    code = (
        "import os, time\n"
        "import kombu.transport.sqlalchemy, celery, videogen.settings\n"
        f"while not os.path.exists({str(go)!r}): time.sleep(0.001)\n"
        "import workers.celery_app as c\n"
        "with c.app.connection_for_write() as conn:\n"
        "    conn.default_channel._put('videogen', {'body': 'x'})\n"
        "print('ok')\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(12)]
    time.sleep(4)
    go.touch()
    results = [p.communicate(timeout=90) for p in procs]
    for p, (out, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, err[-2000:]
        assert out.strip() == "ok"
    db = sqlite3.connect(tmp_path / "home" / "broker.sqlite")
    assert db.execute("select name from kombu_queue").fetchall() == [("videogen",)]
    assert db.execute("select count(*) from kombu_message").fetchone()[0] == 12
