"""Server-rendered pages: accounts, patients, visits, the patient record, eligibility, criteria
sets, printable summary, import/export forms and the language switch.

The pages are a thin layer over the JSON API's functions (:mod:`alsim.web.api`): a form is
parsed into the API's request model and handed to the same function, so validation, access
control, audit and transactions are shared. A form that fails validation is shown again with
the message next to the field and the user's input kept (status 422, or 409 for a conflict);
every form carries the CSRF token (:func:`alsim.web.deps.require_csrf` checks it).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alsim.errors import InputError
from alsim.web import api, auth, i18n
from alsim.web import schemas as s
from alsim.web.charts import Series, line_chart
from alsim.web.deps import (
    LANG_COOKIE,
    LANGUAGES,
    Db,
    get_lang,
    get_patient,
    optional_user,
    page_user,
    require_csrf,
    visible_patients,
)
from alsim.web.models import CriteriaSet, Patient, User, Visit
from alsim.web.records import as_dict, check_patient, json_safe, patient_summary
from alsim.web.render import render

router = APIRouter(include_in_schema=False)

PageUser = Annotated[User, Depends(page_user)]
Csrf = Depends(require_csrf)

#: Item keys of the visit form, in ALSFRS-R order; item 5 is "q5a" or "q5b" by gastrostomy.
FORM_ITEMS = ("q1", "q2", "q3", "q4", "q5", "q6", "q7", "q8", "q9", "q10", "q11", "q12")
DOMAIN_ITEMS = {
    "bulbar": ("q1", "q2", "q3"),
    "fine_motor": ("q4", "q5", "q6"),
    "gross_motor": ("q7", "q8", "q9"),
    "respiratory": ("q10", "q11", "q12"),
}
PATIENT_FORM_FIELDS = api.PATIENT_FIELDS
#: Longest criteria-set YAML the editor accepts (characters).
MAX_SPEC_CHARS = 100_000
VISIT_FORM_FIELDS = ("visit_date", "fvc_percent", "weight_kg", "nfl_pg_ml", "nfl_matrix")


async def form_data(request: Request) -> dict[str, Any]:
    """The submitted form as a dict of strings (files kept as upload objects)."""
    form = await request.form()
    return {key: value for key, value in form.multi_items()}


Form = Annotated[dict[str, Any], Depends(form_data)]


# -- helpers --------------------------------------------------------------------------------------
def tr(request: Request, key: str, **fmt: Any) -> str:
    return i18n.t(get_lang(request), key, **fmt)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def safe_next(url: str | None, default: str = "/patients") -> str:
    """A local path to go back to (never another site)."""
    if (
        not url
        or not url.startswith("/")
        or url.startswith("//")
        or "\\" in url
        or any(ord(char) < 33 or ord(char) == 127 for char in url)
    ):
        return default
    return url


def blank_to_none(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def error_messages(request: Request, err: ValidationError) -> dict[str, str]:
    """Pydantic errors as ``{field: translated message}`` (the first error per field)."""
    out: dict[str, str] = {}
    for item in err.errors():
        loc = [str(part) for part in item.get("loc", ())]
        field = loc[0] if loc else ""
        if field == "items" and len(loc) > 1 and loc[1].isdigit():
            field = FORM_ITEMS[int(loc[1])]
        message = _message(request, item)
        if not field:  # a model-level rule: attach it to the first field it names
            text = str(item.get("msg", ""))
            named = [(text.find(name), name) for name in _FIELD_NAMES if name in text]
            field = min(named)[1] if named else "form"
        out.setdefault("form" if field == "version" else field, message)
    return out


_FIELD_NAMES = (*PATIENT_FORM_FIELDS, *VISIT_FORM_FIELDS)


def _message(request: Request, item: Mapping[str, Any]) -> str:
    kind = str(item.get("type", ""))
    ctx = item.get("ctx") or {}
    simple = {
        "missing": "form.required",
        "int_parsing": "form.integer",
        "int_type": "form.integer",
        "int_from_float": "form.integer",
        "float_parsing": "form.number",
        "float_type": "form.number",
        "finite_number": "form.number",
        "date_parsing": "form.date",
        "date_from_datetime_parsing": "form.date",
        "date_type": "form.date",
        "literal_error": "form.choice",
        "bool_parsing": "form.choice",
    }
    if kind in simple:
        return tr(request, simple[kind])
    bounds = {
        "greater_than_equal": ("form.min", "ge"),
        "less_than_equal": ("form.max", "le"),
        "greater_than": ("form.gt", "gt"),
        "less_than": ("form.lt", "lt"),
        "string_too_long": ("form.too_long", "max_length"),
        "string_too_short": ("form.too_short", "min_length"),
    }
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        return tr(request, "form.required")
    if kind in bounds and bounds[kind][1] in ctx:
        key, name = bounds[kind]
        limit = ctx[name]
        return tr(request, key, limit=f"{limit:g}" if isinstance(limit, float) else limit)
    message = str(item.get("msg", "is invalid"))
    return message.removeprefix("Value error, ")


def api_error_field(detail: str, fields: tuple[str, ...]) -> str:
    """The form field an API error message names (``"visit_date: ..."``), else ``"form"``."""
    head = detail.split(":", 1)[0].strip()
    if head in fields:
        return head
    return next((name for name in fields if detail.startswith(name)), "form")


def user_teams(db: Session, user: User) -> list[Any]:
    return api.list_teams(user, db)


def flash_text(request: Request, **fmt: Any) -> str | None:
    key = request.query_params.get("done")
    allowed = {
        "patient_created": "patients.created",
        "patient_saved": "patients.updated",
        "patient_deleted": "patients.deleted",
        "visit_saved": "record.visit_saved",
        "visit_deleted": "record.visit_deleted",
        "criteria_saved": "criteria.saved",
        "criteria_deleted": "criteria.deleted",
        "team_saved": "teams.saved",
    }
    if key not in allowed:
        return None
    name = request.query_params.get("name", "")
    try:
        return tr(request, allowed[key], label=name, date=name, name=name, **fmt)
    except (KeyError, IndexError):
        return None


# -- home, language, accounts ---------------------------------------------------------------------
@router.get("/")
def home(request: Request, db: Db) -> Response:
    user = optional_user(request, db)
    return redirect("/patients" if user is not None else "/login")


@router.get("/lang/{code}")
def switch_language(request: Request, code: str, next: str = "/") -> Response:
    """Set the language cookie and go back to the page (``?lang=`` removed)."""
    target = safe_next(next, "/")
    if "lang=" in target:
        path, _, query = target.partition("?")
        kept = "&".join(p for p in query.split("&") if not p.startswith("lang="))
        target = path + (f"?{kept}" if kept else "")
    response = redirect(target)
    if code in LANGUAGES:
        response.set_cookie(
            LANG_COOKIE, code, max_age=365 * 24 * 3600, samesite="lax", httponly=False
        )
    return response


@router.get("/login")
def login_page(request: Request, db: Db, next: str = "/patients") -> Response:
    if optional_user(request, db) is not None:
        return redirect(safe_next(next))
    return render(request, "login.html", {"next": safe_next(next), "errors": {}, "form": {}})


@router.post("/login", dependencies=[Csrf])
def login_submit(request: Request, db: Db, form: Form) -> Response:
    target = safe_next(form.get("next"))
    values = {"username": str(form.get("username", "")), "password": str(form.get("password", ""))}
    ctx: dict[str, Any] = {"next": target, "form": {"username": values["username"]}}
    try:
        body = s.LoginIn.model_validate(values)
    except ValidationError as err:
        ctx["errors"] = error_messages(request, err)
        return render(request, "login.html", ctx, status_code=422)
    response = redirect(target)
    try:
        api.login(body, request, response, db)
    except HTTPException as err:
        key = "auth.throttled" if err.status_code == 429 else "auth.bad_login"
        ctx["errors"] = {"form": tr(request, key)}
        return render(request, "login.html", ctx, status_code=err.status_code)
    return response


@router.get("/register")
def register_page(request: Request, db: Db) -> Response:
    if optional_user(request, db) is not None:
        return redirect("/patients")
    return render(request, "register.html", {"errors": {}, "form": {}})


@router.post("/register", dependencies=[Csrf])
def register_submit(request: Request, db: Db, form: Form) -> Response:
    values = {
        "username": str(form.get("username", "")),
        "password": str(form.get("password", "")),
        "display_name": str(form.get("display_name", "")),
    }
    ctx: dict[str, Any] = {"form": {k: v for k, v in values.items() if k != "password"}}
    try:
        body = s.RegisterIn.model_validate(values)
    except ValidationError as err:
        ctx["errors"] = error_messages(request, err)
        return render(request, "register.html", ctx, status_code=422)
    response = redirect("/patients")
    try:
        api.register(body, request, response, db)
    except HTTPException as err:
        if err.status_code == 409:
            ctx["errors"] = {"username": tr(request, "auth.taken", name=body.username)}
        else:
            ctx["errors"] = {"form": tr(request, "auth.closed")}
        return render(request, "register.html", ctx, status_code=err.status_code)
    return response


async def _csrf_unless_logged_out(request: Request, db: Db) -> None:
    """CSRF for logging out a live session; an expired one has nothing left to protect."""
    if await run_in_threadpool(optional_user, request, db) is not None:
        await require_csrf(request, db)


@router.post("/logout", dependencies=[Depends(_csrf_unless_logged_out)])
def logout_submit(request: Request, db: Db) -> Response:
    response = redirect("/login")
    user = optional_user(request, db)
    if user is None:  # the session expired meanwhile: just drop the stale cookie
        auth.clear_session_cookie(response, request.app.state.settings)
    else:
        api.logout(user, request, response, db)
    return response


# -- patients -------------------------------------------------------------------------------------
def _patient_rows(db: Session, user: User) -> list[dict[str, Any]]:
    stats = (
        select(
            Visit.patient_id,
            func.count(Visit.id).label("n"),
            func.max(Visit.visit_date).label("last"),
        )
        .group_by(Visit.patient_id)
        .subquery()
    )
    rows = db.execute(
        select(Patient, stats.c.n, stats.c.last)
        .outerjoin(stats, stats.c.patient_id == Patient.id)
        .where(visible_patients(db, user))
        .order_by(Patient.label, Patient.id)
    )
    return [{"patient": p, "n_visits": n or 0, "last_visit": last} for p, n, last in rows]


def _patients_page(
    request: Request,
    db: Session,
    user: User,
    *,
    import_errors: dict[str, str] | None = None,
    import_form: dict[str, Any] | None = None,
    status_code: int = 200,
    flash: str | None = None,
) -> Response:
    ctx = {
        "rows": _patient_rows(db, user),
        "errors": import_errors or {},
        "form": import_form or {"format": "csv"},
        "flash": flash or flash_text(request),
    }
    return render(request, "patients.html", ctx, status_code=status_code)


@router.get("/patients")
def patients_list(request: Request, db: Db, user: PageUser) -> Response:
    return _patients_page(request, db, user)


def _patient_form_values(form: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in PATIENT_FORM_FIELDS:
        raw = form.get(name)
        values[name] = raw if isinstance(raw, str) else None
    values["label"] = values["label"] or ""
    values["notes"] = values["notes"] or ""
    return values


def _patient_model_input(values: Mapping[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name in PATIENT_FORM_FIELDS:
        value = blank_to_none(values.get(name))
        if name in ("label", "notes"):
            value = value or ""
        elif name == "ftd":
            value = {"yes": True, "no": False}.get(value) if value is not None else None
            if value is None and blank_to_none(values.get("ftd")) not in (None,):
                value = values.get("ftd")  # not yes/no: let the model reject it
        elif name in ("birth_year", "team_id") and value is not None:
            value = _as_int(value)
        data[name] = value
    return data


def _as_int(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        return text  # the model reports "must be a whole number"


def _patient_form(
    request: Request,
    db: Session,
    user: User,
    *,
    patient: Patient | None,
    form: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    ctx = {
        "patient": patient,
        "form": form,
        "errors": errors,
        "teams": user_teams(db, user),
        "choices": {
            "sex": s.SEXES,
            "onset_region": s.ONSET_REGIONS,
            "genotype": s.GENOTYPES,
            "el_escorial": s.EL_ESCORIAL,
            "ftd": ("yes", "no"),
        },
    }
    return render(request, "patient_form.html", ctx, status_code=status_code)


@router.get("/patients/new")
def patient_new(request: Request, db: Db, user: PageUser) -> Response:
    return _patient_form(request, db, user, patient=None, form={}, errors={})


@router.post("/patients/new", dependencies=[Csrf])
def patient_create(request: Request, db: Db, user: PageUser, form: Form) -> Response:
    values = _patient_form_values(form)
    try:
        body = s.PatientIn.model_validate(_patient_model_input(values))
        created = api.create_patient(body, user, db)
    except ValidationError as err:
        return _patient_form(
            request,
            db,
            user,
            patient=None,
            form=values,
            errors=error_messages(request, err),
            status_code=422,
        )
    except HTTPException as err:
        field = api_error_field(str(err.detail), PATIENT_FORM_FIELDS)
        return _patient_form(
            request,
            db,
            user,
            patient=None,
            form=values,
            errors={field: str(err.detail)},
            status_code=err.status_code,
        )
    return redirect(f"/patients/{created.id}?done=patient_created&name={_q(created.label)}")


def _q(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


def _patient_values(patient: Patient) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in PATIENT_FORM_FIELDS:
        value = getattr(patient, name)
        if name == "ftd":
            value = None if value is None else ("yes" if value else "no")
        values[name] = "" if value is None else str(value)
    return values


@router.get("/patients/{patient_id}/edit")
def patient_edit(request: Request, patient_id: s.IdPath, db: Db, user: PageUser) -> Response:
    patient = get_patient(db, user, patient_id)
    form = {**_patient_values(patient), "version": str(patient.version)}
    return _patient_form(request, db, user, patient=patient, form=form, errors={})


@router.post("/patients/{patient_id}/edit", dependencies=[Csrf])
def patient_update(
    request: Request, patient_id: s.IdPath, db: Db, user: PageUser, form: Form
) -> Response:
    patient = get_patient(db, user, patient_id)
    values = _patient_form_values(form)
    values["version"] = str(form.get("version", ""))
    try:
        data = {**_patient_model_input(values), "version": _as_int(values["version"] or "0")}
        body = s.PatientUpdate.model_validate(data)
        api.update_patient(patient_id, body, user, db)
    except ValidationError as err:
        return _patient_form(
            request,
            db,
            user,
            patient=patient,
            form=values,
            errors=error_messages(request, err),
            status_code=422,
        )
    except HTTPException as err:
        detail = tr(request, "form.stale") if err.status_code == 409 else str(err.detail)
        field = api_error_field(str(err.detail), PATIENT_FORM_FIELDS)
        db.rollback()
        return _patient_form(
            request,
            db,
            user,
            patient=get_patient(db, user, patient_id),
            form=values,
            errors={field: detail},
            status_code=err.status_code,
        )
    return redirect(f"/patients/{patient_id}?done=patient_saved&name={_q(body.label)}")


@router.post("/patients/{patient_id}/delete", dependencies=[Csrf])
def patient_delete(
    request: Request, patient_id: s.IdPath, db: Db, user: PageUser, form: Form
) -> Response:
    patient = get_patient(db, user, patient_id)
    label = patient.label
    if patient.owner_id != user.id:
        raise HTTPException(403, tr(request, "patients.owner_only"))
    version = _as_int(str(form.get("version", "")))
    api.delete_patient(patient_id, user, db, version if isinstance(version, int) else None)
    return redirect(f"/patients?done=patient_deleted&name={_q(label)}")


# -- patient record -------------------------------------------------------------------------------
def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _pairs(curve: Any) -> list[list[float]]:
    """Finite ``[x, y]`` points of a curve given as a list of pairs."""
    return [
        [p[0], p[1]]
        for p in curve or []
        if isinstance(p, list | tuple) and len(p) >= 2 and _finite(p[0]) and _finite(p[1])
    ]


def _quartile_range(quantiles: Any) -> tuple[float, float] | None:
    """The times at which S = 0.75 and S = 0.25 (``quantiles_months``), if both are known."""
    if not isinstance(quantiles, Mapping):
        return None
    pair = [quantiles.get("0.75"), quantiles.get("0.25")]
    if not all(_finite(v) for v in pair):
        return None
    return (min(pair), max(pair))


def record_view(summary: Any) -> dict[str, Any]:
    """:meth:`RecordSummary.to_dict` with the curves cleaned and the prognosis range added."""
    view = json_safe(as_dict(summary))
    for row in view.get("visits") or []:
        row["domains"] = row.get("domains") or {}
    fit = view.get("d50")
    if isinstance(fit, Mapping):
        view["d50"] = {**fit, "curve": _pairs(fit.get("curve"))}
    prognosis = view.get("prognosis")
    if isinstance(prognosis, Mapping):
        view["prognosis"] = {
            **prognosis,
            "curve": _pairs(prognosis.get("survival_curve")),
            "conditional_curve": _pairs(prognosis.get("conditional_curve")),
            "range": _quartile_range(prognosis.get("quantiles_months")),
        }
    view["prognosis_missing"] = list(view.get("prognosis_missing") or [])
    view["genotype_notes"] = [str(n) for n in view.get("genotype_notes") or []]
    view["warnings"] = [str(w) for w in view.get("warnings") or []]
    return view


def record_charts(request: Request, view: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The trajectory charts (SVG) for the record page."""
    rows = view.get("visits") or []
    if not rows:
        return []
    t = lambda key, **fmt: tr(request, key, **fmt)  # noqa: E731
    months = [r.get("months_since_onset") for r in rows]
    use_months = all(_finite(m) for m in months)
    if use_months:
        xs = [float(m) for m in months]
        x_label = t("record.axis_months")
    else:  # no onset date: months since the first visit
        first = dt.date.fromisoformat(rows[0]["visit_date"])
        xs = [(dt.date.fromisoformat(r["visit_date"]) - first).days / (365.25 / 12) for r in rows]
        x_label = t("record.axis_date")
    charts = []
    fit = view.get("d50") or {}
    total_series = [Series(t("record.total"), xs, [r.get("total") for r in rows])]
    curve = fit.get("curve") if isinstance(fit, Mapping) else None
    if curve and use_months:
        total_series.append(
            Series("D50", [p[0] for p in curve], [p[1] for p in curve], dashed=True, markers=False)
        )

    def chart(key, series, y_label, y_range):  # one titled SVG chart of the record page
        title = t(f"record.chart_{key}")
        svg = line_chart(series, title=title, x_label=x_label, y_label=y_label, y_range=y_range)
        return {"id": f"chart-{key}", "svg": svg, "caption": title}

    charts.append(chart("total", total_series, t("record.total"), (0, 48)))
    domain_series = [
        Series(t(f"domain.{name}"), xs, [(r.get("domains") or {}).get(name) for r in rows])
        for name in DOMAIN_ITEMS
    ]
    charts.append(chart("domains", domain_series, t("record.domains"), (0, 12)))
    for key, field, label, unit_range in (
        ("fvc", "fvc_percent", "visit.fvc", None),
        ("nfl", "nfl_pg_ml", "visit.nfl", None),
        ("weight", "weight_kg", "visit.weight", None),
    ):
        ys = [r.get(field) for r in rows]
        if any(_finite(y) for y in ys):
            charts.append(chart(key, [Series(t(label), xs, ys)], t(label), unit_range))
    return charts


def survival_chart(request: Request, prognosis: Mapping[str, Any]) -> Any:
    """The ENCALS event-free survival curve (from onset), and from today if event-free today."""
    points = prognosis.get("curve") or []
    if not points:
        return None
    series = [
        Series(
            tr(request, "prognosis.from_onset"),
            [p[0] for p in points],
            [p[1] for p in points],
            markers=False,
        )
    ]
    conditional = prognosis.get("conditional_curve") or []
    if conditional:
        series.append(
            Series(
                tr(request, "prognosis.conditional"),
                [p[0] for p in conditional],
                [p[1] for p in conditional],
                dashed=True,
                markers=False,
            )
        )
    median = prognosis.get("median_months")
    now = prognosis.get("conditional_from_months")
    return line_chart(
        series,
        title=tr(request, "prognosis.curve"),
        x_label=tr(request, "record.axis_months"),
        y_label=tr(request, "prognosis.axis_survival"),
        y_range=(0, 1),
        x_range=(0, max(p[0] for p in points)),
        hline=(0.5, f"50% · {median:.0f}" if _finite(median) else "50%"),
        vline=(now, tr(request, "prognosis.now")) if _finite(now) else None,
        percent=True,
    )


def _record_context(request: Request, db: Session, user: User, patient: Patient) -> dict[str, Any]:
    view = record_view(patient_summary(patient))
    rows = view.get("visits") or []
    prognosis = view.get("prognosis") or {}
    lang = get_lang(request)
    view["prognosis_missing_text"] = ", ".join(
        i18n.t_opt(lang, f"prognosis.needs.{str(name).split()[0]}", str(name))
        for name in view["prognosis_missing"]
    )
    # the record's reasons and warnings, in the page's language
    view["warnings"] = [i18n.message(lang, w) for w in view["warnings"]]
    for key in ("delta_fs_reason", "d50_reason", "prognosis_reason"):
        if view.get(key):
            view[key] = i18n.message(lang, str(view[key]))
    return {
        "patient": patient,
        "s": view,
        "rows": rows,
        "latest": view.get("latest"),
        "charts": record_charts(request, view),
        "survival_svg": survival_chart(request, prognosis) if prognosis else None,
        "prognosis": prognosis,
        "visit_db": {v.visit_date.isoformat(): v for v in patient.visits},
    }


@router.get("/patients/{patient_id}")
def patient_record(request: Request, patient_id: s.IdPath, db: Db, user: PageUser) -> Response:
    patient = get_patient(db, user, patient_id)
    ctx = _record_context(request, db, user, patient)
    ctx.update(
        {
            "form": _blank_visit_form(),
            "errors": {},
            "flash": flash_text(request),
            "item_keys": FORM_ITEMS,
            "domain_items": DOMAIN_ITEMS,
        }
    )
    return render(request, "record.html", ctx)


@router.get("/patients/{patient_id}/print")
def patient_print(request: Request, patient_id: s.IdPath, db: Db, user: PageUser) -> Response:
    patient = get_patient(db, user, patient_id)
    ctx = _record_context(request, db, user, patient)
    ctx["today"] = dt.date.today().isoformat()
    return render(request, "print.html", ctx)


# -- visits ---------------------------------------------------------------------------------------
def _blank_visit_form() -> dict[str, Any]:
    return {"visit_date": dt.date.today().isoformat()}


def _visit_values(visit: Visit) -> dict[str, Any]:
    form: dict[str, Any] = {
        "visit_date": visit.visit_date.isoformat(),
        "gastrostomy": "on" if visit.gastrostomy else "",
        "version": str(visit.version),
    }
    for key, value in zip(FORM_ITEMS, visit.items, strict=True):
        name = ("q5b" if visit.gastrostomy else "q5a") if key == "q5" else key
        form[name] = str(value)
    for name in ("fvc_percent", "weight_kg", "nfl_pg_ml", "nfl_matrix"):
        value = getattr(visit, name)
        form[name] = "" if value is None else (f"{value:g}" if isinstance(value, float) else value)
    return form


def _parse_visit(request: Request, form: Mapping[str, Any]) -> tuple[dict[str, Any], dict, dict]:
    """(kept form values, model input, item errors)."""
    kept = {
        key: value for key, value in form.items() if isinstance(value, str) and key != "csrf_token"
    }
    gastrostomy = kept.get("gastrostomy") in ("on", "true", "1", "yes")
    items: list[Any] = []
    errors: dict[str, str] = {}
    for key in FORM_ITEMS:
        name = ("q5b" if gastrostomy else "q5a") if key == "q5" else key
        raw = (kept.get(name) or "").strip()
        if raw in ("0", "1", "2", "3", "4"):
            items.append(int(raw))
        else:
            errors[key] = tr(request, "form.item_missing")
            items.append(None)
    data: dict[str, Any] = {
        "visit_date": blank_to_none(kept.get("visit_date")),
        "items": items,
        "gastrostomy": gastrostomy,
    }
    for name in ("fvc_percent", "weight_kg", "nfl_pg_ml", "nfl_matrix"):
        data[name] = blank_to_none(kept.get(name))
    return kept, data, errors


def _visit_page(
    request: Request,
    db: Session,
    user: User,
    patient: Patient,
    *,
    visit: Visit | None,
    form: dict[str, Any],
    errors: dict[str, str],
    status_code: int,
) -> Response:
    """The record page (new visit) or the visit edit page, with the form's errors."""
    if visit is None:
        ctx = _record_context(request, db, user, patient)
        ctx.update(
            {
                "form": form,
                "errors": errors,
                "flash": None,
                "item_keys": FORM_ITEMS,
                "domain_items": DOMAIN_ITEMS,
            }
        )
        return render(request, "record.html", ctx, status_code=status_code)
    ctx = {
        "patient": patient,
        "visit": visit,
        "form": form,
        "errors": errors,
        "item_keys": FORM_ITEMS,
        "domain_items": DOMAIN_ITEMS,
    }
    return render(request, "visit_edit.html", ctx, status_code=status_code)


@router.post("/patients/{patient_id}/visits", dependencies=[Csrf])
def visit_create(
    request: Request, patient_id: s.IdPath, db: Db, user: PageUser, form: Form
) -> Response:
    patient = get_patient(db, user, patient_id)
    kept, data, errors = _parse_visit(request, form)
    if not errors:
        try:
            body = s.VisitIn.model_validate(data)
            api.create_visit(patient_id, body, user, db)
        except ValidationError as err:
            errors = error_messages(request, err)
        except HTTPException as err:
            db.rollback()
            errors = {api_error_field(str(err.detail), VISIT_FORM_FIELDS): str(err.detail)}
            if err.status_code == 409 and "form" in errors:
                errors = {"visit_date": str(err.detail)}
            return _visit_page(
                request,
                db,
                user,
                get_patient(db, user, patient_id),
                visit=None,
                form=kept,
                errors=errors,
                status_code=err.status_code,
            )
        else:
            date = body.visit_date.isoformat()
            return redirect(f"/patients/{patient_id}?done=visit_saved&name={date}#visits")
    else:  # report the other fields' problems too
        try:
            s.VisitIn.model_validate({**data, "items": [4] * 12})
        except ValidationError as err:
            errors.update(error_messages(request, err))
    return _visit_page(
        request, db, user, patient, visit=None, form=kept, errors=errors, status_code=422
    )


@router.get("/patients/{patient_id}/visits/{visit_id}/edit")
def visit_edit(
    request: Request, patient_id: s.IdPath, visit_id: s.IdPath, db: Db, user: PageUser
) -> Response:
    visit = api.get_visit(db, user, patient_id, visit_id)
    return _visit_page(
        request,
        db,
        user,
        visit.patient,
        visit=visit,
        form=_visit_values(visit),
        errors={},
        status_code=200,
    )


@router.post("/patients/{patient_id}/visits/{visit_id}/edit", dependencies=[Csrf])
def visit_update(
    request: Request,
    patient_id: s.IdPath,
    visit_id: s.IdPath,
    db: Db,
    user: PageUser,
    form: Form,
) -> Response:
    visit = api.get_visit(db, user, patient_id, visit_id)
    kept, data, errors = _parse_visit(request, form)
    status = 422
    if not errors:
        try:
            data["version"] = _as_int(str(form.get("version", "0")))
            body = s.VisitUpdate.model_validate(data)
            api.update_visit(patient_id, visit_id, body, user, db)
        except ValidationError as err:
            errors = error_messages(request, err)
        except HTTPException as err:
            db.rollback()
            status = err.status_code
            field = api_error_field(str(err.detail), VISIT_FORM_FIELDS)
            text = str(err.detail)
            if status == 409 and "version" in text:
                field, text = "form", tr(request, "form.stale")
            elif status == 409:
                field = "visit_date"
            errors = {field: text}
            visit = api.get_visit(db, user, patient_id, visit_id)
        else:
            date = body.visit_date.isoformat()
            return redirect(f"/patients/{patient_id}?done=visit_saved&name={date}#visits")
    return _visit_page(
        request,
        db,
        user,
        visit.patient,
        visit=visit,
        form=kept,
        errors=errors,
        status_code=status,
    )


@router.post("/patients/{patient_id}/visits/{visit_id}/delete", dependencies=[Csrf])
def visit_delete(
    request: Request,
    patient_id: s.IdPath,
    visit_id: s.IdPath,
    db: Db,
    user: PageUser,
    form: Form,
) -> Response:
    visit = api.get_visit(db, user, patient_id, visit_id)
    date = visit.visit_date.isoformat()
    version = _as_int(str(form.get("version", "")))
    api.delete_visit(patient_id, visit_id, user, db, version if isinstance(version, int) else None)
    return redirect(f"/patients/{patient_id}?done=visit_deleted&name={date}#visits")


# -- import ---------------------------------------------------------------------------------------
@router.post("/import", dependencies=[Csrf])
def import_submit(request: Request, db: Db, user: PageUser, form: Form) -> Response:
    upload = form.get("file")
    fmt = str(form.get("format", "csv"))
    time_zero_text = str(form.get("time_zero", "") or "").strip()
    kept = {"format": fmt, "time_zero": time_zero_text}
    errors: dict[str, str] = {}
    if fmt not in ("csv", "proact"):
        errors["format"] = tr(request, "form.choice")
    if upload is None or isinstance(upload, str) or not getattr(upload, "filename", ""):
        errors["file"] = tr(request, "patients.import_missing_file")
    time_zero = None
    if time_zero_text:
        try:
            time_zero = dt.date.fromisoformat(time_zero_text)
        except ValueError:
            errors["time_zero"] = tr(request, "form.date")
    if not errors:
        try:
            result = api.import_patients(user, db, upload, fmt, time_zero)
        except HTTPException as err:
            db.rollback()
            detail = str(err.detail)
            field = "time_zero" if detail.startswith("time_zero") else "file"
            errors[field] = detail
            return _patients_page(
                request,
                db,
                user,
                import_errors=errors,
                import_form=kept,
                status_code=err.status_code,
            )
        flash = tr(request, "patients.imported", patients=result.patients, visits=result.visits)
        return _patients_page(request, db, user, flash=flash)
    return _patients_page(
        request, db, user, import_errors=errors, import_form=kept, status_code=422
    )


# -- eligibility ----------------------------------------------------------------------------------
@router.get("/patients/{patient_id}/eligibility")
def eligibility_page(
    request: Request, patient_id: s.IdPath, db: Db, user: PageUser, set: s.IdQuery = None
) -> Response:
    patient = get_patient(db, user, patient_id)
    if set is not None:
        api.get_criteria_set(db, user, set)  # another user's set is 404, as everywhere
    sets = api.criteria_sets_of(db, user)
    chosen = next((row for row in sets if row.id == set), sets[0] if sets else None)
    result = None
    error = None
    if chosen is not None:
        try:
            result = eligibility_view(check_patient(patient, chosen))
        except InputError as err:
            error = str(err)
    ctx = {"patient": patient, "sets": sets, "chosen": chosen, "result": result, "error": error}
    return render(request, "eligibility.html", ctx)


def _shown(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return ", ".join(_shown(v) for v in value)
    return str(value)


def eligibility_view(result: Any) -> dict[str, Any]:
    """An eligibility result (``EligibilityResult.to_dict()``) with display texts added."""
    raw = json_safe(as_dict(result))
    criteria = [
        {
            **c,
            "value_text": _shown(c.get("value")),
            "actual_text": _shown(c.get("actual")),
            "status": c.get("status") if c.get("status") in ("met", "not_met") else "unknown",
            "confirmed": c.get("confirmed", True),
            "note": c.get("note") or "",
        }
        for c in raw.get("criteria") or []
    ]
    overall = raw.get("overall")
    if overall not in ("eligible", "not_eligible", "undetermined"):
        overall = "undetermined"
    return {"overall": overall, "criteria": criteria, "counts": raw.get("counts") or {}}


# -- criteria sets --------------------------------------------------------------------------------
@router.get("/criteria")
def criteria_list(request: Request, db: Db, user: PageUser) -> Response:
    ctx = {"sets": api.criteria_sets_of(db, user), "flash": flash_text(request)}
    return render(request, "criteria.html", ctx)


def _criteria_form(
    request: Request,
    *,
    row: CriteriaSet | None,
    form: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    ctx = {"row": row, "form": form, "errors": errors}
    return render(request, "criteria_form.html", ctx, status_code=status_code)


def _spec_text(spec: Any) -> str:
    return yaml.safe_dump(spec, sort_keys=False, allow_unicode=True, width=100)


def _criteria_input(request: Request, form: Mapping[str, Any]) -> tuple[dict, dict, dict]:
    kept = {"name": str(form.get("name", "")), "spec": str(form.get("spec", ""))}
    errors: dict[str, str] = {}
    spec: Any = None
    try:
        if len(kept["spec"]) > MAX_SPEC_CHARS:
            raise yaml.YAMLError(f"longer than {MAX_SPEC_CHARS} characters")
        if any(isinstance(e, yaml.AliasEvent) for e in yaml.parse(kept["spec"], yaml.SafeLoader)):
            raise yaml.YAMLError("aliases (*name) are not allowed")
        spec = yaml.safe_load(kept["spec"]) if kept["spec"].strip() else None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = f"{getattr(err, 'problem', None) or err}{where}"
        errors["spec"] = tr(request, "criteria.yaml_error", problem=problem)
    if "spec" not in errors and not isinstance(spec, dict):
        errors["spec"] = tr(request, "criteria.not_mapping")
    return kept, (spec if isinstance(spec, dict) else {}), errors


def _save_criteria(
    request: Request, db: Session, user: User, row: CriteriaSet | None, form: Mapping[str, Any]
) -> Response:
    kept, spec, errors = _criteria_input(request, form)
    kept["version"] = str(form.get("version", ""))
    name = kept["name"].strip()
    if not name:
        errors["name"] = tr(request, "form.required")
    elif len(name) > 128:
        errors["name"] = tr(request, "form.too_long", limit=128)
    if errors:
        return _criteria_form(request, row=row, form=kept, errors=errors, status_code=422)
    try:
        if row is None:
            saved = api.create_criteria_set(s.CriteriaSetIn(name=name, spec=spec), user, db)
        else:
            version = _as_int(kept["version"] or "0")
            body = s.CriteriaSetUpdate(name=name, spec=spec, version=version)
            saved = api.update_criteria_set(row.id, body, user, db)
    except (InputError, ValidationError) as err:
        db.rollback()
        message = str(err) if isinstance(err, InputError) else str(err.errors()[0]["msg"])
        return _criteria_form(
            request, row=row, form=kept, errors={"spec": message}, status_code=422
        )
    except HTTPException as err:
        db.rollback()
        detail = tr(request, "form.stale") if err.status_code == 409 else str(err.detail)
        field = "form" if err.status_code == 409 else "spec"
        return _criteria_form(
            request, row=row, form=kept, errors={field: detail}, status_code=err.status_code
        )
    return redirect(f"/criteria?done=criteria_saved&name={_q(saved.name)}")


@router.get("/criteria/new")
def criteria_new(request: Request, db: Db, user: PageUser, copy: s.IdQuery = None) -> Response:
    form = {"name": "", "spec": ""}
    if copy is not None:
        source = api.get_criteria_set(db, user, copy)
        spec = dict(source.spec)
        form = {"name": f"{source.name} (copy)", "spec": _spec_text(spec)}
    return _criteria_form(request, row=None, form=form, errors={})


@router.post("/criteria/new", dependencies=[Csrf])
def criteria_create(request: Request, db: Db, user: PageUser, form: Form) -> Response:
    return _save_criteria(request, db, user, None, form)


@router.get("/criteria/{set_id}/edit")
def criteria_edit(request: Request, set_id: s.IdPath, db: Db, user: PageUser) -> Response:
    row = api.get_criteria_set(db, user, set_id, edit=True)
    form = {"name": row.name, "spec": _spec_text(row.spec), "version": str(row.version)}
    return _criteria_form(request, row=row, form=form, errors={})


@router.post("/criteria/{set_id}/edit", dependencies=[Csrf])
def criteria_update(
    request: Request, set_id: s.IdPath, db: Db, user: PageUser, form: Form
) -> Response:
    row = api.get_criteria_set(db, user, set_id, edit=True)
    return _save_criteria(request, db, user, row, form)


@router.post("/criteria/{set_id}/delete", dependencies=[Csrf])
def criteria_delete(
    request: Request, set_id: s.IdPath, db: Db, user: PageUser, form: Form
) -> Response:
    row = api.get_criteria_set(db, user, set_id, edit=True)
    name = row.name
    version = _as_int(str(form.get("version", "")))
    api.delete_criteria_set(set_id, user, db, version if isinstance(version, int) else None)
    return redirect(f"/criteria?done=criteria_deleted&name={_q(name)}")


# -- teams ----------------------------------------------------------------------------------------
def _teams_page(
    request: Request,
    db: Session,
    user: User,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    ctx = {
        "teams": api.list_teams(user, db),
        "errors": errors or {},
        "form": form or {},
        "flash": flash_text(request),
    }
    return render(request, "teams.html", ctx, status_code=status_code)


@router.get("/teams")
def teams_list(request: Request, db: Db, user: PageUser) -> Response:
    return _teams_page(request, db, user)


@router.post("/teams", dependencies=[Csrf])
def team_create(request: Request, db: Db, user: PageUser, form: Form) -> Response:
    name = str(form.get("name", ""))
    try:
        api.create_team(s.TeamIn(name=name), user, db)
    except ValidationError as err:
        errors = {"name": next(iter(error_messages(request, err).values()))}
        return _teams_page(request, db, user, errors=errors, form={"name": name}, status_code=422)
    except HTTPException as err:
        db.rollback()
        return _teams_page(
            request,
            db,
            user,
            errors={"name": str(err.detail)},
            form={"name": name},
            status_code=err.status_code,
        )
    return redirect(f"/teams?done=team_saved&name={_q(name.strip())}")


@router.post("/teams/{team_id}/members", dependencies=[Csrf])
def team_add_member(
    request: Request, team_id: s.IdPath, db: Db, user: PageUser, form: Form
) -> Response:
    username = str(form.get("username", ""))
    key = f"member-{team_id}"
    try:
        api.add_member(team_id, s.MemberIn(username=username), user, db)
    except ValidationError as err:
        errors = {key: next(iter(error_messages(request, err).values()))}
        return _teams_page(request, db, user, errors=errors, form={key: username}, status_code=422)
    except HTTPException as err:
        db.rollback()
        if err.status_code == 404 and "team" in str(err.detail):
            raise
        return _teams_page(
            request,
            db,
            user,
            errors={key: str(err.detail)},
            form={key: username},
            status_code=err.status_code,
        )
    return redirect(f"/teams?done=team_saved&name={_q(username.strip())}")
