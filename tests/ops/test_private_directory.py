"""A project under a private (0700) directory — /root/project, a mktemp -d — runs its embedded PostgreSQL as
root without opening that directory or any of its parents to other accounts (issue 19)."""
import os
import shutil
import stat
import tempfile
from pathlib import Path

import psycopg
import pytest

from web import embedded

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="as a user the server runs as that user: nothing to open")


def modes(path: Path) -> dict[str, int]:
    return {str(p): stat.S_IMODE(os.stat(p).st_mode) for p in [path, *path.parents]}


def test_embedded_postgres_under_a_private_directory_opens_nothing():
    private = Path(tempfile.mkdtemp(prefix="jt-private-"))            # 0700, like /root
    instance = private / "project" / "instance"
    instance.mkdir(parents=True)
    before = modes(instance)
    port = embedded.free_ports(1)[0]
    cluster = embedded.cluster_dir(instance / "pg")
    assert cluster.parent == embedded.CLUSTERS                            # not inside the private tree
    stop = embedded.start_postgres(instance / "pg", port, fsync=False, password="private-secret-3")
    try:
        with psycopg.connect(f"host=127.0.0.1 port={port} user=postgres password=private-secret-3 "
                             "dbname=postgres") as conn:
            assert conn.execute("SHOW data_directory").fetchone()[0] == str(cluster)
        assert modes(instance) == before                                  # every parent as it was
        assert stat.S_IMODE(os.stat(cluster).st_mode) == 0o700
        assert str(cluster) in (instance / "pg" / "ГДЕ-ДАННЫЕ.txt").read_text()
    finally:
        stop()
        shutil.rmtree(cluster, ignore_errors=True)
        shutil.rmtree(private, ignore_errors=True)


def test_a_start_failure_names_the_server_the_command_and_the_fix(tmp_path):
    base = embedded.service_tempdir("jt-fail-")
    try:
        port = embedded.free_ports(1)[0]
        stop = embedded.start_postgres(base / "pg", port, fsync=False)
        try:
            with pytest.raises(embedded.EmbeddedServerError) as exc:        # the same port again: refused
                embedded.start_postgres(base / "pg2", port, fsync=False)
            text = str(exc.value)
            assert "PostgreSQL" in text and "pg_ctl" in text and "порт свободен" in text and "DATABASE_URL" in text
        finally:
            stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)
