"""`flask serve` as a newcomer sees it: human lines only (no JSON, no library chatter), the web under gunicorn
rather than Flask's development server, and everything stopped on Ctrl-C (issue 19)."""
import urllib.request

from tests.serve_process import running_serve


def test_serve_starts_under_gunicorn_with_a_readable_console():
    with running_serve("--demo-schools", "2") as served:
        assert urllib.request.urlopen(f"{served.url}/login", timeout=5).status == 200  # nosec B310
    output = served.output
    lines = output.splitlines()
    assert not [ln for ln in lines if ln.lstrip().startswith("{")], output
    assert "Сервис: http://127.0.0.1:" in output and "Остановлено." in output, output
    assert "development server" not in output and "Booting worker" in output, output
    assert not [ln for ln in lines if "cleaning registries" in ln or "alembic.runtime" in ln], output
