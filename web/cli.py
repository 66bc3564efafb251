"""Command line: `flask --app wsgi <command>`."""
import json
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from core import db
from orgs.models.users import Role

audit_cli = AppGroup("audit", help="Журнал аудита.")
orgs_cli = AppGroup("orgs", help="Организации.")
users_cli = AppGroup("users", help="Пользователи.")
ordinance_cli = AppGroup("ordinance", help="Приказы, письма, решения.")


def alembic_config(url: str):
    from alembic.config import Config

    from core import ROOT
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.attributes.update(url=url, quiet=True)
    return cfg


@click.command("migrate", help="Обновить схему базы данных до последней версии (alembic upgrade head); "
                               "как владелец таблиц из MIGRATION_DATABASE_URL, если он задан.")
def migrate():
    import os

    from alembic import command
    # The service's own login may only append to the audit log; the schema is the owner's business.
    url = os.environ.get("MIGRATION_DATABASE_URL") or current_app.config["DATABASE_URL"]
    command.upgrade(alembic_config(url), "head")
    click.echo("Схема базы данных обновлена.")


@audit_cli.command("verify", help="Проверить цепочку хешей журнала аудита и её якоря в WORM-хранилище "
                                   "(обрезанный хвост, переписанные записи).")
def audit_verify():
    from archive.audit_anchor import verify
    report = verify()
    for note in report.notes:
        click.echo(f"Внимание: {note}")
    if report.ok:
        click.echo(f"Цепочка цела и совпадает с якорями: проверено записей {report.checked}, "
                   f"якорей {report.anchors}.")
        return
    for problem in report.problems:
        click.echo(f"НАРУШЕНИЕ: {problem}", err=True)
    click.echo(f"Проверено записей {report.checked}, якорей {report.anchors}.", err=True)
    sys.exit(1)


@audit_cli.command("anchor", help="Заверить голову журнала аудита штампом времени и записать в WORM-хранилище.")
def audit_anchor():
    from archive.audit_anchor import make_anchor
    key = make_anchor(reason="cli")
    click.echo(f"Якорь записан: {key}" if key else "Новых записей нет: голова журнала уже заверена.")


@orgs_cli.command("import", help="Загрузить организации из CSV/XLSX.")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def orgs_import(path: Path):
    from core.tabular import ImportFailed
    from orgs.importer import import_organisations
    try:
        summary = import_organisations(path.read_bytes(), path.name)
    except ImportFailed as exc:
        db.rollback()
        for err in exc.errors:
            click.echo(str(err), err=True)
        click.echo("Ничего не записано.", err=True)
        sys.exit(1)
    db.commit()
    click.echo(f"Создано {summary.created}, обновлено {summary.updated}, без изменений {summary.unchanged}.")


@users_cli.command("create", help="Создать пользователя и выдать роль на организацию (по коду).")
@click.argument("login")
@click.option("--name", "full_name", required=True)
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--org", "org_code", required=True, help="код организации")
def users_create(login, full_name, role, org_code):
    from orgs import accounts as services
    from orgs.models.users import Role
    from orgs.passwords import check_strength
    from orgs.services import by_code
    org = by_code(org_code)
    if org is None:
        raise click.UsageError(f"Нет организации с кодом {org_code}.")
    # Asked interactively (or piped on stdin), never taken from the command line.
    password = click.prompt("Пароль", hide_input=True, confirmation_prompt=True)
    if weak := check_strength(password):
        raise click.UsageError(weak)
    user = services.create_user(login, full_name, password)
    services.grant(user, Role(role), org)
    db.commit()
    click.echo(f"Пользователь {user.login} создан.")


@ordinance_cli.command("parse", help="Распознать документ (.txt или .docx) и напечатать JSON; ничего не сохраняет.")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def ordinance_parse(path: Path):
    from ordinances.parsing.parser import parse_file
    try:
        parsed = parse_file(path)
    except ValueError as exc:
        raise click.ClickException(f"{path.name}: {exc}") from None
    click.echo(json.dumps(parsed, ensure_ascii=False, indent=2))


@click.command("demo-data", help="Создать демонстрационный регион с муниципалитетами, школами, пользователями и "
                                 "его работой: приказ № 3116 с поручениями, кампания перехода, отчёты, ведомости.")
@click.option("--schools", default=30, show_default=True, help="сколько школ")
@click.option("--seed", default=1, show_default=True)
@click.option("--empty", is_flag=True, help="только организации и пользователи, без работы")
def demo_data(schools: int, seed: int, empty: bool):
    from web.demo import make_demo
    from web.demo_work import populate
    try:
        logins = make_demo(schools=schools, seed=seed)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if not empty:
        from pathlib import Path

        from core import instance_dir
        from web.demo import make_demo_pki
        keys = instance_dir() / "demo-pki"
        make_demo_pki(keys)
        render = bool(current_app.config.get("PUBLIC_URL"))
        trusted = Path(str(current_app.config.get("TRUST_ROOTS") or "")).resolve() == (keys / "ca.pem").resolve()
        populate(seed, render=render, keys=keys if trusted else None)
        if not render:
            click.echo("PUBLIC_URL не задан: ведомости загружены, но не сформированы (ссылка проверки в PDF).")
        elif not trusted:
            click.echo(f"TRUST_ROOTS не указывает на демо-УЦ ({keys / 'ca.pem'}): ведомости не подписаны.")
    db.commit()
    print_logins(logins)


def print_logins(logins: list[tuple[str, str, str]]) -> None:
    click.echo("Демо-пользователи (логин / пароль / роль):")
    for login, password, role in logins:
        click.echo(f"  {login:<16} {password:<18} {role}")


@click.command("serve", help="Запустить сервис; для незаданных DATABASE_URL, REDIS_URL, ARCHIVE_URL "
                             "поднимаются встроенные серверы в instance/.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option("--demo-schools", default=30, show_default=True, help="школ в демо-данных при первом запуске")
@click.option("--dev", is_flag=True, help="веб-сервер разработки Flask вместо gunicorn")
@click.option("--empty-demo", is_flag=True, help="демо-регион без работы (только организации и пользователи)")
def serve(host: str, port: int, demo_schools: int, dev: bool, empty_demo: bool):
    from web.serve import run
    run(host=host, port=port, demo_schools=demo_schools, dev=dev, empty_demo=empty_demo)


def init_app(app: Flask) -> None:
    from sheets.cli import sheets_cli
    for cmd in (migrate, demo_data, serve, audit_cli, orgs_cli, users_cli, ordinance_cli, sheets_cli):
        app.cli.add_command(cmd)
    from archive.cli import archive_cli
    app.cli.add_command(archive_cli)
