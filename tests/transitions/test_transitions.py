"""Transition campaigns, service level: stages, the recommended list, replies, evidence checks, reports.

The end-to-end walk through pages and the API, with access checked at every step, is in
test_transitions_flow.py.
"""
from datetime import date

# minio signs S3 requests with the real clock (the server refuses skewed requests): imported before any
# freeze and on freezegun's ignore list, its modules keep the real datetime
import minio.api  # noqa: E402,F401
import pytest
from freezegun import freeze_time

from core.audit import AuditEntry
from reports import services as reports
from reports.models import Periodicity, ReportStatus
from transitions import services as svc
from transitions.models import ReplyDecision, StageKind, StageStatus

REAL_TIME_FOR = ["minio", "urllib3"]


@pytest.fixture
def official(make_user, tree):
    return make_user("regional_official", tree["region"])


@pytest.fixture
def campaign(db, tree, official):
    return svc.create_campaign(region=tree["region"], title="Безбумажное ведение с 01.09.2026",
                               target_date=date(2026, 9, 1), reply_deadline=date(2026, 6, 3), actor=official)


def test_campaign_gets_the_default_stages_from_the_seeds(campaign):
    kinds = [s.kind for s in campaign.stages]
    assert kinds == [StageKind.document, StageKind.platform, StageKind.document, StageKind.document,
                     StageKind.parents_link, StageKind.trial, StageKind.readiness, StageKind.paperless]
    assert "271" in campaign.stages[4].basis and "Муниципальная услуга" in campaign.stages[4].title
    assert campaign.stages[0].requires_order and campaign.stages[2].requires_file


def test_campaign_input_is_checked(db, tree, official):
    with pytest.raises(svc.TransitionError) as exc:
        svc.create_campaign(region=tree["a"], title=" ", target_date=date(2026, 9, 1),
                            reply_deadline=date(2026, 10, 1), actor=official)
    text = str(exc.value)
    assert "регион или муниципалитет" in text and "название" in text and "позже даты перехода" in text


def test_stages_are_editable_per_campaign(db, campaign, official):
    custom = svc.add_stage(campaign, title="Обучены учителя", requires_order=True, actor=official)
    titles = [s.title for s in sorted(campaign.stages, key=lambda s: s.position)]
    assert titles.index("Обучены учителя") == len(titles) - 3        # before the two fixed final stages
    svc.move_stage(custom, -1, actor=official)
    assert [s.code for s in campaign.stages][-4:-2] == ["custom-1", "trial"]
    readiness = next(s for s in campaign.stages if s.kind is StageKind.readiness)
    with pytest.raises(svc.TransitionError, match="обязателен"):
        svc.remove_stage(readiness, actor=official)
    svc.update_stage(custom, title="Обучены все учителя", requires_file=True, actor=official)
    assert custom.requires_file and not custom.requires_order
    svc.remove_stage(custom, actor=official)
    assert len(campaign.stages) == 8 and [s.position for s in campaign.stages] == list(range(8))


def test_recommended_list_from_a_file_names_every_bad_row(db, tree, campaign, make_org):
    other_region = make_org("region", name="Другая область")
    foreign = make_org("school", make_org("municipality", other_region))
    data = (f"Код;Наименование\n{tree['a'].code};А\nNO-SUCH;?\n{tree['m1'].code};район\n"
            f"{foreign.code};чужая\n{tree['a'].code};повтор\n;пусто\n").encode("cp1251")
    with pytest.raises(svc.TransitionError) as exc:
        svc.schools_from_file(campaign, data, "перечень.csv")
    errors = exc.value.errors
    assert len(errors) == 5
    assert errors[0] == "перечень.csv, строка 3, поле «Код» («NO-SUCH»): нет организации с таким кодом"
    assert "строка 4" in errors[1] and "это не школа" in errors[1]
    assert "строка 5" in errors[2] and "не из региона" in errors[2]
    assert "строка 6" in errors[3] and "уже в строке 2" in errors[3]
    assert "строка 7" in errors[4] and "не указан" in errors[4]
    schools = svc.schools_from_file(campaign, f"code\n{tree['a'].code}\n{tree['b'].code}\n".encode(), "list.csv")
    assert [s.id for s in schools] == [tree["a"].id, tree["b"].id]
    with pytest.raises(svc.TransitionError, match="нет столбца «Код»"):
        svc.schools_from_file(campaign, "name\nШкола\n".encode(), "list.csv")


def _published(campaign, tree, official):
    svc.set_recommended(campaign, [tree["a"], tree["a2"], tree["b"]], actor=official)
    svc.publish_list(campaign, actor=official)


def test_reply_form_checks_each_school(db, tree, campaign, official, make_user):
    _published(campaign, tree, official)
    mouo = make_user("municipal_official", tree["m1"])
    with pytest.raises(svc.TransitionError) as exc:
        svc.save_reply(campaign, tree["m1"], [
            {"school_id": tree["a"].id, "decision": "included"},
            {"school_id": tree["a2"].id, "decision": "excluded", "reason": "  "},
            {"school_id": tree["b"].id, "decision": "added"},
        ], submit=True, actor=mouo)
    errors = exc.value.errors
    assert any("Школа А2" in e and "укажите причину" in e for e in errors)
    assert any("Школа Б" in e and "не школа муниципалитета" in e for e in errors)
    with pytest.raises(svc.TransitionError, match="Школа А2.*укажите решение"):
        svc.save_reply(campaign, tree["m1"], [{"school_id": tree["a"].id, "decision": "included"}],
                       submit=True, actor=mouo)
    with pytest.raises(svc.TransitionError, match="уже есть в перечне"):
        svc.save_reply(campaign, tree["m1"], [{"school_id": tree["a"].id, "decision": "added"},
                                              {"school_id": tree["a2"].id, "decision": "included"}],
                       submit=True, actor=mouo)
    assert svc.reply_of(campaign, tree["m1"]) is None          # nothing half-written


def test_replies_on_time_late_and_missing_and_the_final_list(db, tree, campaign, official, make_user, make_org):
    m3 = make_org("municipality", tree["region"], name="Третий район")
    c3 = make_org("school", m3, name="Школа В")
    svc.set_recommended(campaign, [tree["a"], tree["a2"], tree["b"], c3], actor=official)
    with pytest.raises(svc.TransitionError, match="не направлен"):
        svc.save_reply(campaign, tree["m1"], [], submit=True)
    svc.publish_list(campaign, actor=official)
    with pytest.raises(svc.TransitionError, match="уже направлен"):
        svc.set_recommended(campaign, [tree["a"]], actor=official)
    with freeze_time("2026-06-02 10:00:00", ignore=REAL_TIME_FOR):
        svc.save_reply(campaign, tree["m1"], [
            {"school_id": tree["a"].id, "decision": "included"},
            {"school_id": tree["a2"].id, "decision": "excluded", "reason": "Нет устойчивого доступа в Интернет"},
        ], submit=True, contact_name="Петрова Т.А.", actor=make_user("municipal_official", tree["m1"]))
        states = {s.municipality.id: s for s in svc.reply_states(campaign)}
        assert states[tree["m2"].id].code == "waiting" and not states[tree["m2"].id].overdue
    with freeze_time("2026-06-05 09:00:00", ignore=REAL_TIME_FOR):
        svc.save_reply(campaign, tree["m2"], [
            {"school_id": tree["b"].id, "decision": "included"},
            {"school_id": tree["b2"].id, "decision": "added", "reason": "Базовая школа района"},
        ], submit=True, actor=make_user("municipal_official", tree["m2"]))
    with freeze_time("2026-06-10", ignore=REAL_TIME_FOR):
        states = {s.municipality.id: s for s in svc.reply_states(campaign)}
        assert states[tree["m1"].id].code == "on_time" and not states[tree["m1"].id].overdue
        assert states[tree["m2"].id].code == "late" and "на 2 дн." in states[tree["m2"].id].label
        assert states[m3.id].code == "overdue" and "на 7 дн." in states[m3.id].label
        final = {r.school.name: r for r in svc.final_list(campaign)}
    assert final["Школа А"].change == "unchanged" and final["Школа А"].in_final
    assert final["Школа А2"].change == "excluded" and not final["Школа А2"].in_final
    assert final["Школа А2"].reason == "Нет устойчивого доступа в Интернет"
    assert final["Школа Б2"].change == "added" and final["Школа Б2"].decision is ReplyDecision.added
    assert final["Школа В"].change == "no_reply" and final["Школа В"].in_final
    assert svc.final_school_ids(campaign) == {tree["a"].id, tree["b"].id, tree["b2"].id, c3.id}
    for school in (tree["a"], tree["a2"], tree["b"], tree["b2"], c3, tree["institute"]):   # one school's answer
        assert svc.in_final_list(campaign, school) is (school.id in svc.final_school_ids(campaign)), school.name
    late = db.query(AuditEntry).filter_by(action="transition.reply.submit").order_by(AuditEntry.id).all()
    assert [e.summary["after"]["late_days"] for e in late] == [0, 2]


def test_url_check():
    assert svc.check_url("https://school12.edu.ru/munusluga") is None
    assert svc.check_url("http://xn--80a.xn--p1ai/услуга") is None
    assert "http://" in svc.check_url("ftp://school.ru/")
    assert "нет имени сайта" in svc.check_url("http://localhost/")
    assert "пробел" in svc.check_url("http://school.ru/a b")
    assert "http://" in svc.check_url("school.ru/page")


def test_evidence_is_checked_per_stage_kind(db, tree, campaign, official, make_user):
    _published(campaign, tree, official)
    director = make_user("director", tree["a"])
    stage = {s.code: s for s in campaign.stages}
    school = tree["a"]
    with pytest.raises(svc.TransitionError) as exc:
        svc.submit_evidence(campaign, school, stage["parents_link"],
                            {"url": "school.ru/usluga", "section": "Новости"}, actor=director)
    assert any("http://" in e for e in exc.value.errors)
    assert any("Муниципальная услуга" in e and "Новости" in e for e in exc.value.errors)
    with pytest.raises(svc.TransitionError, match="Другая платформа"):
        svc.submit_evidence(campaign, school, stage["platform"], {"platform": "other"}, actor=director)
    with pytest.raises(svc.TransitionError, match="номер и дату"):
        svc.submit_evidence(campaign, school, stage["responsible"], {"order_number": "12"}, actor=director)
    with pytest.raises(svc.TransitionError, match="Приложите файл"):
        svc.submit_evidence(campaign, school, stage["regulation"],
                            {"order_number": "15-о", "order_date": "01.02.2026"}, actor=director)
    with pytest.raises(svc.TransitionError, match="неверная дата"):
        svc.submit_evidence(campaign, school, stage["trial"], {"date_from": "32.13.2026"}, actor=director)
    with pytest.raises(svc.TransitionError, match="Сначала директор подтверждает"):
        svc.submit_evidence(campaign, school, stage["paperless"], {"date_from": "01.09.2026"}, actor=director)
    with pytest.raises(svc.TransitionError, match="не входит в итоговый перечень"):
        svc.submit_evidence(campaign, tree["b2"], stage["platform"], {"platform": "dnevnik_ru"}, actor=director)
    with pytest.raises(svc.TransitionError, match="не принимается"):
        svc.submit_evidence(campaign, school, stage["charter"], {}, file=("устав.exe", b"MZ"), actor=director)
    ev = svc.submit_evidence(campaign, school, stage["parents_link"],
                             {"url": "https://sch1.edu.ru/municipal", "section": "«муниципальная  услуга»"},
                             actor=director)
    assert ev.section == "Муниципальная услуга"
    state = svc.state_for(campaign, school, stage["parents_link"])
    assert state.status is StageStatus.submitted and [e.action for e in state.events] == ["submitted"]


def test_accept_and_return(db, tree, campaign, official, make_user):
    _published(campaign, tree, official)
    director, mouo = make_user("director", tree["a"]), make_user("municipal_official", tree["m1"])
    stage = next(s for s in campaign.stages if s.code == "platform")
    svc.submit_evidence(campaign, tree["a"], stage, {"platform": "other", "platform_other": "Сетевой город"},
                        actor=director)
    state = svc.state_for(campaign, tree["a"], stage)
    with pytest.raises(svc.TransitionError, match="без комментария"):
        svc.decide(state, accept=False, actor=mouo)
    svc.decide(state, accept=False, comment="Нужна ссылка на страницу школы", actor=mouo)
    assert state.status is StageStatus.returned
    with pytest.raises(svc.TransitionError, match="не ждёт проверки"):
        svc.decide(state, accept=True, actor=mouo)
    svc.submit_evidence(campaign, tree["a"], stage, {"platform": "dnevnik_ru", "url": "https://dnevnik.ru/school/1"},
                        actor=director)
    svc.decide(state, accept=True, actor=mouo)
    assert state.status is StageStatus.accepted and state.evidence.platform == "dnevnik_ru"
    assert len(state.evidences) == 2 and state.evidences[0].platform_other == "Сетевой город"   # history kept
    assert [e.action for e in state.events] == ["submitted", "returned", "submitted", "accepted"]
    with pytest.raises(svc.TransitionError, match="уже принят"):
        svc.submit_evidence(campaign, tree["a"], stage, {"platform": "eor_rt"}, actor=director)
    actions = [e.action for e in db.query(AuditEntry).filter(AuditEntry.action.like("transition.stage.%"))
               .order_by(AuditEntry.id)]
    assert actions == ["transition.stage.submit", "transition.stage.return", "transition.stage.submit",
                       "transition.stage.accept"]


# ---- reports ---------------------------------------------------------------------------------------------

def test_schema_errors_name_the_field():
    with pytest.raises(reports.ReportError) as exc:
        reports.check_schema([
            {"key": "total", "label": "Всего", "type": "number", "min": 10, "max": 5},
            {"key": "Total", "label": "Плохой ключ", "type": "number"},
            {"key": "share", "label": "Доля", "type": "percentage", "max": 150},
            {"key": "x", "label": "Что-то", "type": "float"},
            {"key": "total", "label": "Повтор", "type": "text", "min": 1},
            {"key": "part", "label": "Часть", "type": "number", "max_field": "nothing"},
        ])
    e = exc.value.errors
    assert "Поле 1 («Всего»): min больше max." in e
    assert any(m.startswith("Поле 2 («Плохой ключ»): ключ «Total»") for m in e)
    assert "Поле 3 («Доля»): процент лежит в пределах 0–100." in e
    assert any(m.startswith("Поле 4 («Что-то»): неизвестный тип «float»") for m in e)
    assert "Поле 5 («Повтор»): ключ «total» уже использован." in e
    assert "Поле 5 («Повтор»): свойство min только для чисел и процентов." in e
    assert any(m.startswith("Поле 6 («Часть»): max_field «nothing»") for m in e)


def _monthly(tree, official):
    spec = reports.DEFAULT_FORMS["monthly"]
    return reports.create_form(owner=tree["region"], title=spec["title"], periodicity=spec["periodicity"],
                               deadline_text=spec["deadline_text"], submitter_kind="municipality",
                               fields=spec["fields"], first_period=date(2026, 1, 15), actor=official)


def test_periods_follow_the_wording(db, tree, official):
    form = _monthly(tree, official)
    assert form.first_period == date(2026, 1, 1)
    feb = reports.period_from_key(form, "2026-02")
    assert (feb.start, feb.end, feb.due, feb.label) == (date(2026, 2, 1), date(2026, 2, 28), date(2026, 2, 28),
                                                         "февраль 2026")
    assert reports.period_from_key(form, "2026-05").due == date(2026, 5, 30)
    with pytest.raises(reports.ReportError, match="2014-09"):
        reports.period_from_key(form, "май")
    spec = reports.DEFAULT_FORMS["quarterly"]
    q = reports.create_form(owner=tree["region"], title=spec["title"], periodicity=Periodicity.quarterly,
                            deadline_text="Ежеквартально", submitter_kind="municipality", fields=spec["fields"],
                            first_period=date(2026, 2, 1), actor=official)
    p = reports.period_from_key(q, "2026-Q2")
    assert (p.start, p.end, p.due, p.label) == (date(2026, 4, 1), date(2026, 6, 30), date(2026, 6, 30),
                                                 "II квартал 2026")
    with freeze_time("2026-08-10", ignore=REAL_TIME_FOR):
        assert [x.key for x in reports.periods(q)] == ["2026-Q3", "2026-Q2", "2026-Q1"]
    with pytest.raises(reports.ReportError, match="не распознан"):
        reports.create_form(owner=tree["region"], title="X", periodicity="monthly", deadline_text="когда-нибудь",
                            submitter_kind="school", fields=spec["fields"], first_period=date(2026, 1, 1))


def test_values_are_validated_with_the_field_named(db, tree, official, make_user):
    form = _monthly(tree, official)
    mouo = make_user("municipal_official", tree["m1"])
    may = reports.period_from_key(form, "2026-05")
    with freeze_time("2026-05-20", ignore=REAL_TIME_FOR):
        with pytest.raises(reports.ReportError) as exc:
            reports.save_submission(form, tree["m1"], may, {
                "schools_total": "12,5", "schools_electronic": "-1", "schools_paperless": "много",
                "paperless_share": "140", "parents_link": "может быть"}, submit=True, actor=mouo)
        e = exc.value.errors
        assert "Поле «Общеобразовательных учреждений, всего»: нужно целое число, указано 12,5." in e
        assert "Поле «Из них ведут электронные журналы»: не меньше 0, указано -1." in e
        assert "Поле «Из них перешли на безбумажное ведение»: «много» — не число." in e
        assert "Поле «Доля школ на безбумажном ведении, %»: не больше 100, указано 140." in e
        assert any(m.startswith("Поле «Ссылка для родителей") and "«да» или «нет»" in m for m in e)
        with pytest.raises(reports.ReportError, match="больше, чем в поле «Из них ведут электронные журналы»"):
            reports.save_submission(form, tree["m1"], may, {
                "schools_total": "10", "schools_electronic": "4", "schools_paperless": "5",
                "paperless_share": "50", "parents_link": "да"}, submit=True, actor=mouo)
        draft = reports.save_submission(form, tree["m1"], may, {"schools_total": "10"}, submit=False, actor=mouo)
        assert draft.status is ReportStatus.draft and draft.values == {"schools_total": 10}
        with pytest.raises(reports.ReportError, match="обязательно для заполнения"):
            reports.save_submission(form, tree["m1"], may, {"schools_total": "10"}, submit=True, actor=mouo)
        with pytest.raises(reports.ReportError, match="не заполняет эту форму"):
            reports.save_submission(form, tree["a"], may, {}, submit=False, actor=mouo)
        with pytest.raises(reports.ReportError, match="ещё не начался"):
            reports.save_submission(form, tree["m1"], reports.period_from_key(form, "2026-06"), {}, submit=False)


def test_rollup_sums_and_averages_per_municipality_and_period(db, tree, official, make_user, make_org):
    form = _monthly(tree, official)
    m3 = make_org("municipality", tree["region"], name="=Третий район")      # a formula-like name, for the export
    by = {m: make_user("municipal_official", tree[m] if m != "m3" else m3) for m in ("m1", "m2", "m3")}
    orgs = {"m1": tree["m1"], "m2": tree["m2"], "m3": m3}
    data = {("m1", "2026-04"): (10, 8, 2, 20, "да"), ("m2", "2026-04"): (20, 10, 4, 20, "нет"),
            ("m1", "2026-05"): (10, 9, 5, 50, "да"), ("m2", "2026-05"): (20, 16, 10, 50, "да"),
            ("m3", "2026-05"): (5, 5, 5, 100, "да")}
    with freeze_time("2026-06-15", ignore=REAL_TIME_FOR):
        subs = {}
        for (m, key), (total, el, pl, share, link) in data.items():
            subs[m, key] = reports.save_submission(form, orgs[m], reports.period_from_key(form, key), {
                "schools_total": total, "schools_electronic": el, "schools_paperless": pl,
                "paperless_share": share, "parents_link": link}, submit=True, actor=by[m])
        for k, sub in subs.items():
            if k != ("m3", "2026-05"):          # m3's report is submitted, not accepted: not in the roll-up
                reports.decide_submission(sub, accept=True, actor=official)
        st = reports.submission_state(subs["m1", "2026-04"], reports.period_from_key(form, "2026-04"))
        assert st.code == "accepted" and "с опозданием" in st.label
    rows = reports.rollup(form)
    got = {(r.municipality, r.period.key): r for r in rows}
    assert set(got) == {("Первый район", "2026-04"), ("Второй район", "2026-04"), ("Итого по региону", "2026-04"),
                        ("Первый район", "2026-05"), ("Второй район", "2026-05"), ("Итого по региону", "2026-05")}
    total_may = got["Итого по региону", "2026-05"]
    assert total_may.count == 2 and total_may.sums["schools_paperless"] == 15
    assert total_may.avgs["paperless_share"] == 50 and total_may.avgs["parents_link"] == 100
    assert got["Итого по региону", "2026-04"].avgs["parents_link"] == 50
    assert got["Итого по региону", "2026-04"].avgs["schools_total"] == 15
    only_m1 = reports.rollup(form, municipalities=[tree["m1"]], totals=False)
    assert {r.municipality for r in only_m1} == {"Первый район"}
    with_submitted = reports.rollup(form, statuses=(ReportStatus.accepted, ReportStatus.submitted))
    assert any(r.municipality == "=Третий район" for r in with_submitted)
    labels, series = reports.chart_series(form, rows, "paperless_share")
    assert labels == ["апрель 2026", "май 2026"] and series["Первый район"] == [20, 50]
    svg = reports.svg_line_chart(labels, series, title="Доля школ", y_max=100, unit="%")
    assert svg.startswith("<svg") and "Первый район" in svg and "polyline" in svg
    headers, table = reports.rollup_table(form, with_submitted)
    assert headers[:3] == ["Период", "Муниципалитет", "Отчётов"]
    import io

    from openpyxl import load_workbook

    from core.tabular import workbook_bytes
    ws = load_workbook(io.BytesIO(workbook_bytes(headers, table))).active
    assert "'=Третий район" in [c.value for c in ws["B"]]       # formula injection neutralised


# ---- stages fall due -------------------------------------------------------------------------------------

def test_stages_fall_due_per_campaign_and_municipality(db, tree, campaign, official, make_user, make_org):
    _published(campaign, tree, official)
    platform = next(s for s in campaign.stages if s.code == "platform")
    with pytest.raises(svc.TransitionError, match="позже даты перехода"):
        svc.update_stage(platform, title=platform.title, due_date=date(2026, 10, 1), actor=official)
    svc.update_stage(platform, title=platform.title, due_date=date(2026, 5, 1), actor=official)
    svc.set_stage_due(platform, tree["m2"], date(2026, 6, 1), actor=official)        # m2 was given longer
    with pytest.raises(svc.TransitionError, match="муниципалитета этого региона"):
        svc.set_stage_due(platform, make_org("municipality", make_org("region")), date(2026, 6, 1), actor=official)
    mouo = make_user("municipal_official", tree["m1"])
    with freeze_time("2026-04-20 10:00:00", ignore=REAL_TIME_FOR):                   # a: accepted in time
        svc.submit_evidence(campaign, tree["a"], platform, {"platform": "dnevnik_ru"},
                            actor=make_user("director", tree["a"]))
        svc.decide(svc.state_for(campaign, tree["a"], platform), accept=True, actor=mouo)
    p = svc.progress(campaign, today=date(2026, 5, 20))
    m1, m2 = tree["m1"].id, tree["m2"].id
    assert p.overdue[m1][platform.id] == 1 and not p.overdue.get(m2)                 # a2 late; b not yet (01.06)
    assert [sp.school.id for sp in p.schools][0] == tree["a2"].id                    # late first
    assert [s.code for s in p.schools[0].late] == ["platform"]
    assert (p.timeliness[m1].on_time, p.timeliness[m1].overdue, p.timeliness[m1].rate) == (1, 1, 0.5)
    p = svc.progress(campaign, today=date(2026, 6, 2))
    assert p.overdue[m2][platform.id] == 1 and p.timeliness[m2].rate == 0.0
    with freeze_time("2026-06-10 10:00:00", ignore=REAL_TIME_FOR):                   # a2: accepted, but late
        svc.submit_evidence(campaign, tree["a2"], platform, {"platform": "dnevnik_ru"},
                            actor=make_user("director", tree["a2"]))
        svc.decide(svc.state_for(campaign, tree["a2"], platform), accept=True, actor=mouo)
    p = svc.progress(campaign, today=date(2026, 6, 11))
    assert (p.timeliness[m1].on_time, p.timeliness[m1].late, p.timeliness[m1].overdue) == (1, 1, 0)
    assert not p.overdue[m1][platform.id]
    actions = [e.action for e in db.query(AuditEntry).filter(AuditEntry.action == "transition.stage.due")]
    assert actions == ["transition.stage.due"]


def test_stage_due_dates_on_the_pages(client, logged_in, db, tree, campaign, official, make_user):
    from tests.helpers import csrf_token
    _published(campaign, tree, official)
    platform = next(s for s in campaign.stages if s.code == "platform")
    logged_in(official)
    token = csrf_token(client, f"/transitions/{campaign.id}")
    resp = client.post(f"/transitions/{campaign.id}/stages/{platform.id}",
                       data={"csrf_token": token, "op": "save", "title": platform.title, "due_date": "2026-05-01"})
    assert resp.status_code == 302 and platform.due_date == date(2026, 5, 1)
    resp = client.post(f"/transitions/{campaign.id}/stages/{platform.id}/due",
                       data={"csrf_token": token, "municipality_id": tree["m2"].id, "due_date": "31.13.2026"})
    assert resp.status_code == 400 and "неверная дата" in resp.get_data(as_text=True)
    page = client.get(f"/transitions/{campaign.id}/progress").get_data(as_text=True)       # today: past 01.05
    assert "Этапы в срок, %" in page and "срок 01.05.2026" in page
    client.post("/logout", data={"csrf_token": token})
    logged_in(make_user("municipal_official", tree["m1"]))
    assert client.post(f"/transitions/{campaign.id}/stages/{platform.id}/due",
                       data={"csrf_token": csrf_token(client, "/"), "municipality_id": tree["m1"].id,
                             "due_date": "2026-08-01"}).status_code == 403          # only the region sets dues
    page = client.get(f"/transitions/{campaign.id}/progress").get_data(as_text=True)
    assert "Первый район" in page and "Второй район" not in page
    assert page.count('class="late"') == 2                                      # a and a2 of m1 are late


def test_a_municipality_runs_its_own_monthly_report_form(client, logged_in, db, tree, official, make_user):
    """Order 004 is a city's: the municipality runs a monthly report for its schools; a school submits late;
    the municipality and the region see it late; the neighbouring municipality does not see the form."""
    import json

    from tests.helpers import csrf_token
    spec = reports.DEFAULT_FORMS["monthly"]
    mouo = make_user("municipal_official", tree["m1"])
    with pytest.raises(reports.ReportError, match="своих школ"):
        reports.create_form(owner=tree["m1"], title="x", periodicity="monthly", deadline_text=spec["deadline_text"],
                            submitter_kind="municipality", fields=spec["fields"], first_period=date(2026, 10, 1))
    logged_in(mouo)
    assert f'value="{tree["m1"].id}"' in client.get("/transitions/reports/new").get_data(as_text=True)
    data = {"csrf_token": csrf_token(client, "/transitions/reports/new"), "region_id": tree["m1"].id,
            "title": "Ежемесячный отчёт школ района", "periodicity": "monthly",
            "deadline_text": spec["deadline_text"], "submitter_kind": "school",
            "fields": json.dumps(spec["fields"], ensure_ascii=False), "first_period": "2026-10-01"}
    resp = client.post("/transitions/reports/new", data=data)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    from reports.models import ReportForm
    form = db.query(ReportForm).one()
    assert (form.owner_id, form.region_id) == (tree["m1"].id, tree["region"].id)
    assert [o.id for o in reports.expected_orgs(form)] == [tree["a"].id, tree["a2"].id]      # its schools only
    october = reports.period_from_key(form, "2026-10")
    values = {"schools_total": "1", "schools_electronic": "1", "schools_paperless": "1", "paperless_share": "100",
              "parents_link": "yes"}
    reports.save_submission(form, tree["a"], october, values, submit=True, actor=make_user("director", tree["a"]))
    state = reports.submission_state(reports.submission_for(form, tree["a"], october), october)
    assert state.code == "late"                                  # submitted in December for October
    page = client.get(f"/transitions/reports/{form.id}?period=2026-10").get_data(as_text=True)
    assert "с опозданием" in page and "Школа А2" in page
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    logged_in(official)
    page = client.get(f"/transitions/reports/{form.id}?period=2026-10").get_data(as_text=True)
    assert "с опозданием" in page and "Школа Б" not in page                   # the region sees the district's
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    logged_in(make_user("municipal_official", tree["m2"]))
    assert client.get(f"/transitions/reports/{form.id}").status_code == 403
    assert "Ежемесячный отчёт школ района" not in client.get("/transitions/reports").get_data(as_text=True)


def test_the_platform_the_order_names_goes_into_the_platform_stage(client, logged_in, db, tree, official, make_user):
    """Order 001 п. 1.1 makes Дневник.ру the platform: the campaign based on it says so and the school's form
    offers it first."""
    from pathlib import Path

    from ordinances import services as ordsvc
    from ordinances.parsing.parser import parse_file
    seeds = Path(__file__).resolve().parents[1] / "data" / "seeds"
    order = ordsvc.create_from_parsed(parse_file(next(seeds.glob("001_*.txt"))), issuer=tree["region"], actor=official)
    c = svc.create_campaign(region=tree["region"], title="Электронные журналы", target_date=date(2026, 9, 1),
                            reply_deadline=date(2026, 6, 3), ordinance=order, actor=official)
    platform = next(s for s in c.stages if s.code == "platform")
    assert c.platform == "dnevnik_ru" and "п. 1.1" in platform.hint and "Дневник.ру" in platform.hint
    _published(c, tree, official)
    logged_in(make_user("director", tree["a"]))
    page = client.get(f"/transitions/{c.id}/schools/{tree['a'].id}").get_data(as_text=True)
    assert '<option value="dnevnik_ru" selected>Дневник.ру (по приказу)</option>' in page
    plain = svc.create_campaign(region=tree["region"], title="Без основания", target_date=date(2026, 9, 1),
                                actor=official)
    assert plain.platform is None


def test_base_schools_are_marked_and_make_the_recommended_list(client, logged_in, db, tree, official, make_user,
                                                               campaign):
    """Letter 000: «перевести базовые школы» — the municipality marks its base schools; the region takes them
    as the recommended list in one step."""
    from core.audit import AuditEntry as Entry
    from tests.helpers import csrf_token
    mouo = make_user("municipal_official", tree["m1"])
    logged_in(mouo)
    page = client.get(f"/orgs/{tree['a'].id}").get_data(as_text=True)
    assert 'id="base-school-form"' in page
    resp = client.post(f"/orgs/{tree['a'].id}/base-school", data={"csrf_token": csrf_token(client, "/"),
                                                                    "base_school": "1"})
    assert resp.status_code == 302 and tree["a"].base_school
    assert client.post(f"/orgs/{tree['b'].id}/base-school", data={"csrf_token": csrf_token(client, "/"),
                                                                   "base_school": "1"}).status_code == 403
    assert db.query(Entry).filter_by(action="org.base_school").count() == 1
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    logged_in(official)
    resp = client.post(f"/transitions/{campaign.id}/list", data={"csrf_token": csrf_token(client, "/"),
                                                                 "base_only": "1"})
    assert resp.status_code == 302
    assert [r.school_id for r in svc.recommended(campaign)] == [tree["a"].id]
    assert "базовая" in client.get(f"/transitions/{campaign.id}/list").get_data(as_text=True)


def test_a_municipality_runs_its_own_campaign_for_its_schools(client, logged_in, db, tree, official, make_user):
    """A district's programme (002 is a district's order): the municipality creates the campaign, lists its own
    schools, and the region sees it roll up; the neighbouring municipality does not see it."""
    from tests.helpers import csrf_token
    mouo = make_user("municipal_official", tree["m1"])
    logged_in(mouo)
    assert client.get("/transitions/new").status_code == 200
    resp = client.post("/transitions/new", data={"csrf_token": csrf_token(client, "/transitions/new"),
                                                 "region_id": tree["m1"].id, "title": "Безбумажно в районе",
                                                 "target_date": "2026-09-01", "reply_deadline": "2026-06-03"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:1500]
    from transitions.models import Campaign
    c = db.query(Campaign).one()
    assert (c.owner_id, c.region_id) == (tree["m1"].id, tree["region"].id)
    assert [m.id for m in svc.region_municipalities(c)] == [tree["m1"].id]
    with pytest.raises(svc.TransitionError, match="не школа региона кампании"):
        svc.set_recommended(c, [tree["a"], tree["b"]], actor=mouo)                 # b is the neighbour's
    svc.set_recommended(c, [tree["a"], tree["a2"]], actor=mouo)
    svc.publish_list(c, actor=mouo)
    assert {r.school.id for r in svc.final_list(c) if r.in_final} == {tree["a"].id, tree["a2"].id}
    assert client.get(f"/transitions/{c.id}/progress").status_code == 200
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    logged_in(official)                                                        # the region sees it
    assert "Безбумажно в районе" in client.get("/transitions").get_data(as_text=True)
    assert client.get(f"/transitions/{c.id}/progress").status_code == 200
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    logged_in(make_user("municipal_official", tree["m2"]))                     # the neighbour does not
    assert "Безбумажно в районе" not in client.get("/transitions").get_data(as_text=True)
    assert client.get(f"/transitions/{c.id}").status_code == 403
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    logged_in(make_user("director", tree["a"]))                                # its school does
    assert client.get(f"/transitions/{c.id}/schools/{tree['a'].id}").status_code == 200
