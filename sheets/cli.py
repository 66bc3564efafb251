"""`flask --app wsgi sheets import|render|sign|export` for operators, with progress bars."""
import getpass
import sys
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

from core import db
from core.db import session

sheets_cli = AppGroup("sheets", help="Сводные ведомости успеваемости.")


def _org(code: str):
    from orgs.services import by_code
    org = by_code(code)
    if org is None:
        raise click.UsageError(f"Нет организации с кодом {code}.")
    return org


def _user(login: str):
    from orgs.models.users import User
    user = session.scalar(select(User).where(User.login == login.lower()))
    if user is None:
        raise click.UsageError(f"Нет пользователя {login}.")
    return user


@sheets_cli.command("import", help="Загрузить оценки школы из CSV/XLSX (ничего не пишет при ошибке).")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--school", "school_code", required=True)
@click.option("--year", "school_year", required=True, help="учебный год, например 2025/2026")
@click.option("--as", "login", required=True, help="логин того, кто загружает (для журнала аудита)")
def import_cmd(path: Path, school_code: str, school_year: str, login: str):
    from core.tabular import ImportFailed
    from sheets import services
    from sheets.marks_import import import_marks
    try:
        sheets = services.import_classes(_org(school_code), school_year, import_marks(path.read_bytes(), path.name),
                                         actor=_user(login))
    except ImportFailed as exc:
        _refused_file(exc)
    except services.SheetFlowError as exc:
        db.rollback()
        raise click.ClickException(str(exc)) from None
    db.commit()
    click.echo(f"Загружено классов: {len(sheets)}.")


def _refused_file(exc) -> None:
    """Every problem of a refused file, one per line on stderr; nothing was written."""
    db.rollback()
    for err in exc.errors:
        click.echo(str(err), err=True)
    click.echo("Ничего не записано.", err=True)
    sys.exit(1)


@sheets_cli.command("class-teachers", help="Назначить классных руководителей из файла CSV/XLSX "
                                          "(столбцы: код_школы, класс, логин; учебный_год — по желанию).")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--year", "school_year", required=True, help="учебный год строк без своего, например 2025/2026")
@click.option("--as", "login", required=True, help="логин директора или заместителя (для журнала аудита)")
def class_teachers_cmd(path: Path, school_year: str, login: str):
    from core.tabular import ImportFailed
    from sheets import class_teachers
    try:
        summary = class_teachers.import_file(path.read_bytes(), path.name, school_year, actor=_user(login))
    except ImportFailed as exc:
        _refused_file(exc)
    db.commit()
    click.echo(f"Назначено: {summary.assigned}, без изменений: {summary.unchanged}.")


def _run(kind, org_code, school_year, login, pkcs12=None, passphrase=None, signer=None):
    import pades
    from sheets import services
    from sheets.tasks import process_batch
    try:
        batch = services.start_batch(kind, _org(org_code), school_year, actor=_user(login), pkcs12=pkcs12,
                                     passphrase=passphrase, in_process=signer is not None, signer=signer)
    except (services.SheetFlowError, pades.SigningError) as exc:
        db.rollback()
        raise click.ClickException(str(exc)) from None
    db.commit()   # the queued job finds the batch done when a worker gets to it
    total = len(batch.sheet_ids)
    with click.progressbar(length=total, label=f"Пакет № {batch.id}", show_pos=True) as bar:
        seen = [0]

        def advance(p):
            step = p["done"] + p["failed"] - seen[0]
            seen[0] += step
            bar.update(step)
        result = process_batch(batch.id, on_progress=advance, signer=signer)
    click.echo(f"Готово {result['done']} из {result['total']}, ошибок {result['failed']}.")
    for e in result["errors"]:
        click.echo(f"  ведомость {e['sheet_id']}: {e['message']}", err=True)
    if result["status"] != "done" or result["failed"]:
        sys.exit(1)


@sheets_cli.command("render", help="Сформировать ведомости организации (школы, муниципалитета, региона).")
@click.option("--org", "org_code", required=True)
@click.option("--year", "school_year", required=True)
@click.option("--as", "login", required=True)
def render_cmd(org_code, school_year, login):
    from sheets.models import BatchKind
    _run(BatchKind.render, org_code, school_year, login)


@sheets_cli.command("sign", help="Подписать ведомости ключом PKCS#12 (--key) или на токене PKCS#11 (--pkcs11-module); "
                                  "пароль или PIN спрашивается, в аргументах не передаётся.")
@click.option("--org", "org_code", required=True)
@click.option("--year", "school_year", required=True)
@click.option("--as", "login", required=True)
@click.option("--role", type=click.Choice(["teacher", "director"]), required=True)
@click.option("--key", "key_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--pkcs11-module", type=click.Path(exists=True, dir_okay=False))
@click.option("--token-label")
@click.option("--key-label")
def sign_cmd(org_code, school_year, login, role, key_path, pkcs11_module, token_label, key_label):
    import pades
    from sheets.models import BatchKind
    if (key_path is None) == (pkcs11_module is None):
        raise click.UsageError("Укажите либо --key ФАЙЛ.p12, либо --pkcs11-module с --token-label и --key-label.")
    prompt = "Пароль ключа: " if key_path else "PIN токена: "
    secret = getpass.getpass(prompt) if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    kind = BatchKind.sign_teacher if role == "teacher" else BatchKind.sign_director
    if key_path:
        _run(kind, org_code, school_year, login, pkcs12=key_path.read_bytes(), passphrase=secret)
        return
    if not (token_label and key_label):
        raise click.UsageError("Для токена нужны --token-label и --key-label.")
    # The token's key never leaves it: this process signs, nothing is queued for a worker.
    _run(kind, org_code, school_year, login,
         signer=pades.PKCS11Signer(pkcs11_module, token_label, secret, key_label=key_label))


@sheets_cli.command("export", help="Записать подписанные PDF школы за год в папку.")
@click.option("--school", "school_code", required=True)
@click.option("--year", "school_year", required=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True)
def export_cmd(school_code, school_year, out_dir: Path):
    from core import audit
    from sheets import services
    from sheets.models import SheetStatus, SummarySheet
    school = _org(school_code)
    sheets = session.scalars(select(SummarySheet).where(
        SummarySheet.school_id == school.id, SummarySheet.school_year == school_year,
        SummarySheet.status == SheetStatus.signed)).all()
    out_dir.mkdir(parents=True, exist_ok=True)
    for s in sheets:
        name = f"{s.class_name}-v{s.version}-{s.document_id}.pdf"
        (out_dir / name).write_bytes(services.working_pdf(s))
        audit.record("sheet.export", s, sha256=s.pdf_sha256, target="cli")
    db.commit()
    click.echo(f"Записано ведомостей: {len(sheets)} → {out_dir}")
