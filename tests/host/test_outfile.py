"""Every file a verb writes (`collector export --out`, `sync --out`, `trust init --out`, the fleet
manifest) goes through lightmeter_host.outfile: a regular file or a new path is replaced whole,
a link is followed to its regular file and stays a link, a character device or FIFO is written
in place (never replaced by a renamed file), anything else is refused in one line (issue #12)."""

import json
import os
import stat
import threading

import pytest

from lightmeter_host import cli, outfile
from lightmeter_host.collector import db as db_mod
from lightmeter_host.hardware import fleet
from lightmeter_host.lightclient import synccmd, trustinit


@pytest.fixture
def collector_db(tmp_path):
    url = "sqlite://" + str(tmp_path / "c.db")
    db_mod.open_db(url).close()
    return url


def export(capsys, url, out):
    code = cli.main(["collector", "export", "--db", url, "--format", "csv", "--out", str(out)])
    return (code,) + capsys.readouterr()


class FifoReader:
    """Reads a FIFO in a thread; release() unblocks it if nobody ever opened the FIFO to write."""

    def __init__(self, path):
        self.path, self.data = path, None
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        with open(self.path, "rb") as f:
            self.data = f.read()

    def result(self):
        self.t.join(5)
        if self.t.is_alive() and stat.S_ISFIFO(os.lstat(self.path).st_mode):
            os.close(os.open(self.path, os.O_WRONLY | os.O_NONBLOCK))
            self.t.join(5)
        return self.data


def test_export_to_a_fifo_writes_into_it(tmp_path, collector_db, capsys):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = FifoReader(str(fifo))
    code, _, err = export(capsys, collector_db, fifo)
    data = reader.result()
    assert code == 0, err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode), "the FIFO was replaced by a file"
    assert data is not None and data.startswith(b"meter_id,")


def test_export_to_a_character_device_writes_into_it(tmp_path, collector_db, capsys):
    """A pseudo-terminal's slave is a character device any user can open."""
    master, slave = os.openpty()
    try:
        path = os.ttyname(slave)
        code, _, err = export(capsys, collector_db, path)
        assert code == 0, err
        assert stat.S_ISCHR(os.lstat(path).st_mode)
        got = os.read(master, 4096)
        assert got.startswith(b"meter_id,")
    finally:
        os.close(master)
        os.close(slave)


def test_export_through_a_link_to_a_character_device(tmp_path, collector_db, capsys):
    link = tmp_path / "null"
    os.symlink("/dev/null", link)
    code, _, err = export(capsys, collector_db, link)
    assert code == 0, err
    assert os.readlink(link) == "/dev/null" and stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_export_through_a_link_replaces_its_file_and_keeps_the_link(tmp_path, collector_db, capsys):
    target = tmp_path / "exports" / "2026-12.csv"
    target.parent.mkdir()
    target.write_text("old\n")
    os.chmod(target, 0o640)
    link = tmp_path / "latest.csv"
    os.symlink(os.path.relpath(target, tmp_path), link)
    code, _, err = export(capsys, collector_db, link)
    assert code == 0, err
    assert os.path.islink(link) and target.read_text().startswith("meter_id,")
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o640
    assert sorted(os.listdir(target.parent)) == ["2026-12.csv"]  # no temporary file left


@pytest.mark.parametrize("what", ["dangling-link", "directory"])
def test_export_refuses_what_it_cannot_write(tmp_path, collector_db, capsys, what):
    path = tmp_path / "out"
    if what == "directory":
        path.mkdir()
    else:
        os.symlink(str(tmp_path / "nowhere" / "x.csv"), path)
    code, out, err = export(capsys, collector_db, path)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert ("symbolic link" in err) if what == "dangling-link" else ("directory" in err)
    assert os.path.islink(path) if what == "dangling-link" else path.is_dir()


def test_a_regular_file_is_replaced_whole_and_keeps_its_mode(tmp_path):
    p = tmp_path / "t.json"
    p.write_text("old")
    os.chmod(p, 0o604)
    outfile.write_text(str(p), "new\n")
    assert p.read_text() == "new\n" and stat.S_IMODE(os.stat(p).st_mode) == 0o604


def test_an_error_while_writing_leaves_the_old_file_and_no_temporary(tmp_path):
    p = tmp_path / "t.json"
    p.write_text("old")
    with pytest.raises(RuntimeError):
        with outfile.Output(str(p)) as f:
            f.write("half")
            raise RuntimeError("cut")
    assert p.read_text() == "old" and os.listdir(tmp_path) == ["t.json"]


def test_trust_init_out_writes_into_a_fifo(tmp_path):
    fifo = tmp_path / "trust"
    os.mkfifo(fifo)
    reader = FifoReader(str(fifo))
    trustinit.write_atomic(str(fifo), '{"x": 1}\n')
    assert reader.result() == b'{"x": 1}\n' and stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_sync_out_writes_into_a_fifo_without_reading_it_first(tmp_path):
    fifo = tmp_path / "new-trust"
    os.mkfifo(fifo)
    reader = FifoReader(str(fifo))
    synccmd.write_checkpoint(str(fifo), {"number": 5, "hash": "0x" + "00" * 32}, 1)
    assert json.loads(reader.result())["number"] == 5 and stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_fleet_manifest_must_be_a_regular_file(tmp_path):
    fifo = tmp_path / "fleet.json"
    os.mkfifo(fifo)
    with pytest.raises(fleet.FleetError, match="regular file"):
        fleet.writable(str(fifo))
    with pytest.raises(fleet.FleetError, match="directory"):
        (tmp_path / "dir.json").mkdir()
        fleet.writable(str(tmp_path / "dir.json"))
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
