"""Helpers shared by the tests (fixtures live in conftest.py)."""
import re
import threading
from contextlib import contextmanager

PASSWORD = "correct-horse-42"


def csrf_token(client, path="/login") -> str:
    html = client.get(path).get_data(as_text=True)
    m = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'<meta name="csrf-token" content="([^"]+)"', html)
    assert m, f"no CSRF token on {path}"
    return m.group(1)


def login(client, user_login: str, password: str = PASSWORD):
    token = csrf_token(client)
    return client.post("/login", data={"login": user_login, "password": password, "csrf_token": token})




def form_fields(html: str, form_id: str) -> dict[str, str]:
    """The fields a browser would submit from the form with `form_id` (inputs, textareas, selected options)."""
    from html.parser import HTMLParser

    class Collector(HTMLParser):
        def __init__(self):
            super().__init__()
            self.inside, self.fields, self.textarea, self.select = False, {}, None, None

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "form" and a.get("id") == form_id:
                self.inside = True
            if not self.inside:
                return
            if tag == "input" and a.get("name") and a.get("type") not in ("submit", "file"):
                if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                    return                      # a browser sends only the ticked ones
                self.fields[a["name"]] = a.get("value") or ""
            elif tag == "textarea":
                self.textarea = a["name"]
                self.fields[self.textarea] = ""
            elif tag == "select":
                self.select = a["name"]
            elif tag == "option" and self.select and ("selected" in a or self.select not in self.fields):
                self.fields[self.select] = a.get("value", "")

        def handle_endtag(self, tag):
            if tag == "form":
                self.inside = False
            elif tag == "textarea":
                self.textarea = None
            elif tag == "select":
                self.select = None

        def handle_data(self, data):
            if self.textarea:
                self.fields[self.textarea] += data

    c = Collector()
    c.feed(html)
    # A browser drops the newline that follows <textarea>.
    return {k: (v[1:] if v.startswith("\n") else v) for k, v in c.fields.items()}


def assign_teacher(sheets, teacher, actor=None):
    """Make `teacher` the class teacher of each sheet's class (what the director does on the page)."""
    from sheets import class_teachers
    return class_teachers.assign_for(sheets, teacher, actor=actor or teacher)


@contextmanager
def statements_sent(app, prefix: str = ""):
    """The SQL statements the app's engine sends inside the block (those starting with `prefix`, any case)."""
    from sqlalchemy import event
    engine = app.extensions["db_engine"]
    seen: list[str] = []

    def listen(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith(prefix.upper()):
            seen.append(statement)
    event.listen(engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listen)


def at_once(threads: int, work) -> None:
    """`work()` in `threads` threads released together by a barrier (as a batch's or a worker's threads start),
    every one of them joined before this returns."""
    start = threading.Barrier(threads)

    def one():
        start.wait()
        work()
    running = [threading.Thread(target=one) for _ in range(threads)]
    for t in running:
        t.start()
    for t in running:
        t.join()
