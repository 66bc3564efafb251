"""The embedded PostgreSQL of `serve` asks for a password (scram-sha-256): another local account cannot
connect; the service's own login may append to the audit log but not change it."""
import shutil

import psycopg
import pytest

from web import embedded


@pytest.fixture
def tmp_path():
    """Our own temporary directory (pytest's lies under a 0700 parent the postgres account cannot enter)."""
    base = embedded.service_tempdir("jt-auth-")
    yield base
    shutil.rmtree(base, ignore_errors=True)


def test_embedded_postgres_requires_its_password_and_the_app_login_is_append_only(tmp_path):
    port = embedded.free_ports(1)[0]
    stop = embedded.start_postgres(tmp_path / "pg", port, fsync=False, password="owner-secret-1")
    try:
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(f"host=127.0.0.1 port={port} user=postgres dbname=postgres", connect_timeout=5).close()
        owner = embedded.create_database(f"postgresql+psycopg://postgres:owner-secret-1@127.0.0.1:{port}/postgres",
                                         "journals")
        from alembic import command

        from web.cli import alembic_config
        command.upgrade(alembic_config(owner), "head")
        app_url = embedded.app_login(owner, "journals_web", "app-secret-2")
        assert "app-secret-2" in app_url and "owner-secret-1" not in app_url
        with psycopg.connect(app_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
            conn.execute("INSERT INTO audit_log (id, at, actor_label, action, object_type, summary, prev_hash, hash) "
                         "VALUES (nextval('audit_log_id_seq'), now(), 'system', 't', '-', '{}', 'p', 'h')")
            for sql in ("UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log",
                        "DROP TRIGGER audit_log_append_only ON audit_log"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(sql)
    finally:
        stop()


def test_a_cluster_made_with_trust_is_switched_to_passwords(tmp_path):
    port = embedded.free_ports(1)[0]
    embedded.start_postgres(tmp_path / "pg", port, fsync=False)()          # an older serve's cluster
    stop = embedded.start_postgres(tmp_path / "pg", port, fsync=False, password="now-a-password")
    try:
        import time
        deadline = time.time() + 10
        while True:                                                          # pg_ctl reload takes a moment
            try:
                psycopg.connect(f"host=127.0.0.1 port={port} user=postgres dbname=postgres", connect_timeout=5).close()
            except psycopg.OperationalError:
                break
            assert time.time() < deadline, "still open without a password"
            time.sleep(0.2)
        psycopg.connect(f"host=127.0.0.1 port={port} user=postgres password=now-a-password dbname=postgres").close()
    finally:
        stop()
