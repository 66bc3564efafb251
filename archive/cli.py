"""`flask --app wsgi archive verify FILE | fixity | renew | reconcile`."""
import json
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from core import db

archive_cli = AppGroup("archive", help="Электронный архив: проверка документов, целостность, штампы времени.")


@archive_cli.command("verify", help="Проверить PDF: подписи, цепочки до доверенных УЦ, отзыв, штампы времени, "
                                    "охват файла и совпадение с архивной записью. Код выхода 1 — проверка не пройдена.")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path),
              help="записать отчёт в JSON (`-` — на стандартный вывод)")
@click.option("--offline", is_flag=True, help="не запрашивать OCSP/CRL: только данные, сохранённые в файле")
@click.option("--evidence", "ers_path", type=click.Path(dir_okay=False, path_type=Path),
              help="файл доказательства сохранности (.ers, RFC 4998) к этому документу, например из выгрузки")
def verify_cmd(path: Path, json_out: Path | None, offline: bool, ers_path: Path | None):
    from archive.verify import MAX_FILE, save_report, verify_bytes
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE + 1)
    except OSError as e:
        raise click.ClickException(f"{path}: файл не прочитан ({e.strerror}).") from None
    if len(data) > MAX_FILE:
        raise click.ClickException(f"{path}: файл больше 60 МБ.")
    v = verify_bytes(data, filename=path.name, allow_fetching=not offline)
    if ers_path is not None:
        from archive import evidence_store
        from archive.verify import configured_trust_roots, evidence_check, summarise
        try:
            ers = ers_path.read_bytes()
        except OSError as e:
            raise click.ClickException(f"{ers_path}: файл не прочитан ({e.strerror}).") from None
        v.checks.append(evidence_check(evidence_store.verify_bytes(data, ers, configured_trust_roots())))
        summarise(v)
    if current_app.extensions.get("db_engine") is not None:
        try:
            save_report(v, source="cli")
            db.commit()
        except Exception as e:     # the report is printed anyway
            db.rollback()
            click.echo(f"(отчёт не сохранён в базе: {type(e).__name__})", err=True)
    if json_out is not None:
        text = v.to_json()
        if str(json_out) == "-":
            click.echo(text)
        else:
            json_out.write_text(text, encoding="utf-8")
    if json_out is None or str(json_out) != "-":
        for line in v.lines_ru():
            click.echo(line)
    sys.exit(0 if v.ok else 1)


@archive_cli.command("fixity", help="Перечитать объекты архива, пересчитать SHA-256 и сверить с базой. "
                                    "Код выхода 1 — найдены изменённые или отсутствующие объекты.")
@click.option("--limit", type=int, default=None, help="сколько записей проверить (давно не проверенные — первыми)")
def fixity_cmd(limit: int | None):
    from sqlalchemy import func, select

    from archive import fixity
    from archive.models import ArchiveRecord, RecordStatus
    from core.db import session
    total = session.scalar(select(func.count(ArchiveRecord.id))
                           .where(ArchiveRecord.status == RecordStatus.archived)) or 0
    target = min(total, limit) if limit else total
    totals = {"checked": 0, "ok": 0, "changed": 0, "missing": 0, "errors": 0}
    problems = []
    batch = 500
    with click.progressbar(length=target, label="Проверка целостности", file=sys.stderr) as bar:
        while totals["checked"] < target:
            n = min(batch, target - totals["checked"])
            run = fixity.run(limit=n, trigger="cli")
            db.commit()
            if run.checked == 0:
                break
            for k in totals:
                totals[k] += getattr(run, k)
            problems += run.problems
            bar.update(run.checked)
    click.echo(f"Проверено записей: {totals['checked']}; в порядке: {totals['ok']}; изменено: {totals['changed']}; "
               f"отсутствует: {totals['missing']}; ошибок чтения: {totals['errors']}.")
    for p in problems:
        click.echo(f"  запись № {p['record_id']}: {p['key']}: {p['message']}")
    sys.exit(1 if totals["changed"] or totals["missing"] or totals["errors"] else 0)


@archive_cli.command("renew", help="Продлить штампы времени архива (B-LTA), сертификат службы штампов которых "
                                   "скоро истекает.")
@click.option("--limit", type=int, default=100, show_default=True)
def renew_cmd(limit: int):
    from archive.tasks import renew_due
    result = renew_due(limit=limit)
    click.echo(json.dumps(result, ensure_ascii=False))
    sys.exit(1 if result.get("failed") else 0)


@archive_cli.command("evidence", help="Доказательства сохранности (RFC 4998): одним штампом времени заверить "
                                     "записи без доказательства и продлить доказательства, срок штампа которых "
                                     "истекает (--renew-all — все).")
@click.option("--renew-all", is_flag=True, help="продлить все текущие доказательства, не только истекающие")
def evidence_cmd(renew_all: bool):
    from archive import evidence_store
    try:
        result = {"seal": evidence_store.seal(), "renew": evidence_store.renew(force=renew_all)}
    except evidence_store.EvidenceError as e:
        raise click.ClickException(str(e)) from None
    click.echo(json.dumps(result, ensure_ascii=False))


@archive_cli.command("reconcile", help="Сверить хранилище с базой: объекты без записей (например, после "
                                       "восстановления старой копии базы) и записи без объектов.")
@click.option("--rebuild", is_flag=True, help="Восстановить записи (и версии) по манифестам объектов без записей.")
@click.option("--record", "record_ids", type=int, multiple=True, help="Только эти записи (номер; можно повторять).")
def reconcile_cmd(rebuild: bool, record_ids: tuple[int, ...]):
    from archive import reconcile
    from core import db
    if rebuild:
        done = reconcile.rebuild(set(record_ids) or None)
        db.commit()
        click.echo(f"Восстановлено записей: {len(done.records)}; версий: {len(done.versions)}.")
        for record_id in done.records:
            click.echo(f"  запись № {record_id} восстановлена по манифесту")
        for record_id, number in done.versions:
            click.echo(f"  запись № {record_id}: версия {number} восстановлена по манифесту")
        for key, why in done.problems:
            click.echo(f"  не восстановлено: {key}: {why}")
    report = reconcile.compare()
    click.echo(f"Записей в архиве: {report.records}; объектов в хранилище: {report.objects}.")
    for key in report.orphans:
        click.echo(f"  объект без записи: {key}")
    for record_id, key in report.missing:
        click.echo(f"  запись № {record_id}: нет объекта {key}")
    sys.exit(1 if report.orphans or report.missing else 0)
