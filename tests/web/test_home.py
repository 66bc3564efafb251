"""The home page says what needs the user now, per role, each item linking to where it is done (issue 19)."""
import datetime as dt

from sheets import services as sheet_services
from sheets.models import ClassTeacher
from tests.helpers import csrf_token
from transitions import services as transitions


def home(client) -> str:
    return client.get("/").get_data(as_text=True)


def test_each_role_finds_its_work_on_the_home_page(client, logged_in, db, tree, make_user):
    from sheets.views import current_school_year
    year = current_school_year()
    teacher, director = make_user("class_teacher", tree["a"]), make_user("director", tree["a"])
    from tests.sheets.test_sheet_flow import class_marks
    (sheet,) = sheet_services.import_classes(tree["a"], year, {"7А": class_marks("7А")}, actor=director)
    db.add(ClassTeacher(school_id=tree["a"].id, school_year=year, class_name="7А", user_id=teacher.id))
    db.add(ClassTeacher(school_id=tree["a"].id, school_year=year, class_name="8Б", user_id=teacher.id))
    db.flush()
    sheet_services.render_pdf(sheet, actor=director)
    logged_in(teacher)
    page = home(client)
    assert "1 ждут вашей подписи как классного руководителя" in page and 'href="/sheets?year=' in page
    assert "Загрузите отметки классов: 8Б" in page and 'href="/sheets/import"' in page
    assert "Непрочитанных уведомлений: 1" in page                     # «сформирована: подпишите»
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})

    official = make_user("regional_official", tree["region"])
    c = transitions.create_campaign(region=tree["region"], title="Безбумажно с 01.09.2026",
                                    target_date=dt.date(2026, 9, 1), reply_deadline=dt.date(2026, 6, 3), actor=official)
    transitions.set_recommended(c, [tree["a"]], actor=official)
    transitions.publish_list(c, actor=official)
    logged_in(make_user("municipal_official", tree["m1"]))
    page = home(client)
    assert f'href="/transitions/{c.id}/reply/{tree["m1"].id}"' in page and "(просрочен)" in page
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})

    logged_in(official)
    page = home(client)
    assert "Поручения" in page and "в срок" in page
    assert f'href="/assignments/dashboard/region/{tree["region"].id}' in page
    assert "Итоги года: в архиве 0 из 2 ведомостей" in page
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})

    logged_in(make_user("archivist", tree["region"]))
    page = home(client)
    assert "Выдано копий за 7 дней: 0" in page and "Принято в архив за 7 дней: 0" in page and 'href="/archive"' in page
