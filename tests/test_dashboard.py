"""The web dashboard (`credsim serve`): its JSON API, its safety rules, and the page end to end in
headless Chromium (Debian's /usr/bin/chromium driven by Playwright, as in test_report.py).

Screenshots go to artifacts/ for a person to look at.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from browser_checks import check_charts, text_problems
from credsim.dashboard import make_server
from credsim.dashboard.server import MAX_POPULATION, form_spec
from credsim.errors import ScenarioError
from credsim.scenario import Scenario, canonical_toml, from_dict, from_toml, load

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"
N, DAYS = "2e4", "30"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = make_server("127.0.0.1", 0, catalog=tmp_path_factory.mktemp("dash") / "runs.duckdb")
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def call(srv, method: str, path: str, body=None, *, raw: bool = False, headers: dict | None = None):
    """(status, parsed JSON or bytes, headers) of one request to the test server."""
    data = None if body is None else (body if raw else json.dumps(body).encode())
    req = urllib.request.Request(srv.url.rstrip("/") + path, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as res:
            status, payload, hdrs = res.status, res.read(), res.headers
    except urllib.error.HTTPError as err:
        status, payload, hdrs = err.code, err.read(), err.headers
    if hdrs.get("Content-Type", "").startswith("application/json"):
        payload = json.loads(payload)
    return status, payload, hdrs


def essay() -> dict:
    return load("essay")[1].model_dump(mode="json")


def body(scenario=None, **run) -> dict:
    return {
        "scenario": scenario or essay(),
        "name": "essay",
        "baseline": "baseline",
        "population": N,
        "days": DAYS,
        "seed": "1",
        **run,
    }


def wait_job(srv, job_id: int, timeout: float = 600.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, job, _ = call(srv, "GET", f"/api/jobs/{job_id}")
        if job["state"] in ("done", "error"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


# -- API, no browser ------------------------------------------------------------------------------------


def test_form_is_built_from_the_model():
    spec = form_spec()
    sections = {s["key"]: s for s in spec["sections"]}
    assert list(sections) == list(Scenario.model_fields)
    for key, section in sections.items():
        model = Scenario.model_fields[key].annotation
        model = model.__args__[0] if section["list"] or section["optional"] else model  # list[X], X | None
        assert {f["key"] for f in section["fields"]} == set(model.model_fields), key
        for f in section["fields"]:
            assert f["description"] == model.model_fields[f["key"]].description, f["path"]
    fields = {f["path"]: f for s in spec["sections"] for f in s["fields"]}
    assert fields["score.spouse_weight"]["min"] == 0 and fields["score.spouse_weight"]["max"] == 10
    assert fields["blacklist.mode"]["options"] == ["absolute", "below_mean"]
    assert fields["blacklist.value"]["nullable"]
    for path in (
        "score.spouse_weight",
        "blacklist.mode",
        "blacklist.offset",
        "blacklist.value",
        "score.association_penalty",
        "score.association_rate",
        "channel.detect",
        "channel.false_rate",
        "channel.points",
        "activity.deny_blacklisted",
        "activity.min_score",
    ):
        assert fields[path]["key_field"] and not fields[path]["read_only"], path
    assert spec["limits"]["population"] == MAX_POPULATION == 10**7
    # the CSM-2 tables are switched on and off (absent when off), the initial list is a group, the
    # schedule is read-only; the first values of a switched-on table come from a preset and are valid
    assert [k for k, sec in sections.items() if sec["optional"]] == ["exit", "appeals", "adaptive"]
    assert sections["schedule"]["read_only"] and all(f["read_only"] for f in sections["schedule"]["fields"])
    assert not any(sec["read_only"] for k, sec in sections.items() if k != "schedule")
    group = sections["blacklist"]["groups"][0]
    assert group["fields"] == ["initial_share", "initial_score"]
    assert {f["key"] for f in sections["blacklist"]["fields"] if f.get("group") == "initial"} == set(group["fields"])
    data = essay()
    for key in ("exit", "appeals", "adaptive"):
        assert set(sections[key]["defaults"]) == set(Scenario.model_fields[key].annotation.__args__[0].model_fields)
        data[key] = sections[key]["defaults"]
    data["blacklist"].update(group["defaults"])
    assert from_dict(data, "switched on") == load("essay-plus")[1].model_copy(
        update={"blacklist": Scenario.model_validate(data).blacklist})
    assert 0 < data["blacklist"]["initial_share"] < 1


@pytest.mark.parametrize(
    "path, value",
    [
        ("score.spouse_weight", 11),
        ("channel[1].detect", "x"),
        ("stress.burden", 256),
        ("population.contacts", 3),
        ("activity[0].min_score", 1.5),
        ("channel[0].name", "Bad Name"),
    ],
)
def test_validation_is_the_clis(server, path, value):
    """Each bad value is reported on its field, with the loader's own message, and nothing runs."""
    data = essay()
    section, rest = path.split(".", 1) if "[" not in path.split(".")[0] else (path, "")
    m = re.match(r"(\w+)\[(\d+)\]\.(\w+)", path)
    if m:
        data[m[1]][int(m[2])][m[3]] = value
    else:
        data[section][rest] = value
    with pytest.raises(ScenarioError) as cli_err:
        from_dict(data, "x")
    expected = str(cli_err.value).removeprefix("x: ")
    status, answer, _ = call(server, "POST", "/api/validate", body(data))
    assert status == 200 and not answer["ok"]
    first = answer["errors"][0]
    assert expected.startswith(f"{first['field']}: {first['message']}"), (expected, first)
    before = call(server, "GET", "/api/status")[1]["started_runs"]
    status, answer, _ = call(server, "POST", "/api/run", body(data))
    assert status == 200 and not answer["ok"] and answer["errors"][0]["field"] == path and "job" not in answer
    assert call(server, "GET", "/api/status")[1] == {"busy": False, "job": None, "started_runs": before}


def test_plan_checks_too(server):
    """Rules the model alone cannot see (wrongful-attribution rates, each at most 1, summing past 1)
    are refused by /api/validate and /api/run with the CLI's message, and nothing runs."""
    data = essay()
    data["channel"][0]["false_rate"] = data["channel"][1]["false_rate"] = 0.6
    Scenario.model_validate(data)  # the model's own rules pass
    with pytest.raises(ScenarioError) as cli_err:
        from_dict(data, "x")
    status, answer, _ = call(server, "POST", "/api/validate", body(data))
    assert status == 200 and not answer["ok"]
    first = answer["errors"][0]
    assert str(cli_err.value) == f"x: {first['field']}: {first['message']}" and "sum past 1" in first["message"]
    before = call(server, "GET", "/api/status")[1]["started_runs"]
    status, answer, _ = call(server, "POST", "/api/run", body(data))
    assert status == 200 and not answer["ok"] and "job" not in answer
    assert call(server, "GET", "/api/status")[1]["started_runs"] == before


def test_run_settings_are_checked(server):
    status, answer, _ = call(
        server, "POST", "/api/validate", body(population="2e7", days="0", seed="-1", name="Bad name", baseline="nope")
    )
    fields = {e["field"]: e["message"] for e in answer["errors"]}
    assert set(fields) == {"run.population", "run.days", "run.seed", "run.name", "run.baseline"}
    assert "10,000,000" in fields["run.population"]
    # a cross-field rule is put on the field it names
    data = essay()
    data["blacklist"]["mode"] = "absolute"
    answer = call(server, "POST", "/api/validate", body(data))[1]
    assert answer["errors"] == [{"field": "blacklist.value", "message": "mode 'absolute' needs blacklist.value"}]
    # the baseline must share the scenario's channels; an edited scenario cannot take the baseline's name
    answer = call(server, "POST", "/api/validate", body(baseline="court-defaulters-baseline"))[1]
    assert answer["errors"][0]["field"] == "run.baseline" and "channels" in answer["errors"][0]["message"]
    edited = load("baseline")[1].model_dump(mode="json")
    edited["score"]["spouse_weight"] = 5
    answer = call(server, "POST", "/api/validate", body(edited, name="baseline"))[1]
    assert answer["errors"][0]["field"] == "run.name"


def test_run_progress_result_and_downloads(server, monkeypatch):
    status, answer, _ = call(server, "POST", "/api/run", body())
    assert status == 202
    busy = call(server, "POST", "/api/run", body())
    assert busy[0] == 409 and "already in progress" in busy[1]["error"]
    job = wait_job(server, answer["job"]["id"])
    assert job["state"] == "done", job["message"]
    result = job["result"]
    assert [r["label"] for r in result["runs"]] == ["baseline", "essay"]
    assert result["scorecard"]["columns"] == ["baseline", "essay"]
    assert [c["key"] for c in result["charts"]][:2] == ["listed", "distribution"]
    assert "essay" in result["verdicts"]
    # the catalog now lists both runs; their tables download as CSV and Parquet
    runs = call(server, "GET", "/api/runs")[1]["runs"]
    essay_id = next(r["run_id"] for r in runs if r["name"] == "essay")
    status, csv, headers = call(server, "GET", f"/api/download?run={essay_id}&table=daily&format=csv")
    stored = server.app.catalog.load(essay_id)
    from credsim.results.run import csv_text

    assert status == 200 and csv == csv_text(stored.tables.columns, stored.tables.daily).encode()
    assert f'filename="{essay_id}-daily.csv"' in headers["Content-Disposition"]
    import io

    import pyarrow.parquet as pq

    status, parquet, _ = call(server, "GET", f"/api/download?run={essay_id}&table=regions&format=parquet")
    assert status == 200 and pq.read_table(io.BytesIO(parquet)).num_rows == 30 * 31
    assert call(server, "GET", f"/api/download?run={essay_id}&table=scenario&format=toml")[1].decode() == canonical_toml(stored.scenario)
    assert call(server, "GET", "/api/download?run=..%2F..%2Fetc%2Fpasswd&table=daily&format=csv")[0] == 404
    assert call(server, "GET", f"/api/download?run={essay_id}&table=secrets&format=csv")[0] == 400
    # comparing stored runs gives the same scorecard
    compared = call(server, "POST", "/api/compare", {"run_ids": [r["run_id"] for r in runs]})[1]
    assert compared["scorecard"]["rows"] == result["scorecard"]["rows"]
    # a run that fails shows its error and leaves the server usable
    import credsim.results.compare as compare_mod

    def boom(*args, **kwargs):
        raise RuntimeError("engine exploded")

    monkeypatch.setattr(compare_mod, "compare", boom)
    job = wait_job(server, call(server, "POST", "/api/run", body(seed="2"))[1]["job"]["id"])
    assert job["state"] == "error" and "engine exploded" in job["message"]
    monkeypatch.undo()
    job = wait_job(server, call(server, "POST", "/api/run", body(seed="2"))[1]["job"]["id"])
    assert job["state"] == "done"


def test_a_scenario_with_a_schedule_runs_unchanged(server):
    """An uploaded scenario with a schedule and every CSM-2 table: its schedule comes back in words,
    it runs as loaded (the stored run's scenario is the uploaded one), and the result carries the
    mechanisms' daily columns."""
    text = (ROOT / "tests" / "scenarios" / "essay2.toml").read_bytes()
    status, answer, _ = call(server, "POST", "/api/upload?filename=essay2.toml", text, raw=True)
    assert status == 200 and answer["name"] == "essay2"
    assert answer["schedule"][1].startswith("from day 61 (schedule[1]): score.spouse_weight 3 → 0;")
    uploaded = from_dict(answer["scenario"], "uploaded")
    assert len(uploaded.schedule) == 2
    answer_v = call(server, "POST", "/api/validate", body(answer["scenario"], name="essay2"))[1]
    assert answer_v["ok"] and answer_v["schedule"] == answer["schedule"]
    status, started, _ = call(server, "POST", "/api/run", body(answer["scenario"], name="essay2"))
    assert status == 202, started
    job = wait_job(server, started["job"]["id"], timeout=300)
    assert job["state"] == "done", job["message"]
    stored = server.app.catalog.load(job["result"]["runs"][1]["run_id"])
    assert stored.scenario == uploaded and canonical_toml(stored.scenario) == canonical_toml(uploaded)
    rows = {r["column"]: r["values"] for r in job["result"]["mechanisms"]["rows"]}
    assert job["result"]["mechanisms"]["columns"] == ["baseline", "essay2"]
    assert set(rows) == {
        "settlements",
        "term_exits",
        "owing",
        "appeals_filed",
        "appeals_upheld",
        "appeals_rejected",
        "appeals_pending",
        "near",
    }
    assert all(v[0] is None and v[1] is not None for v in rows.values())  # the baseline has none of them
    daily = stored.daily
    assert rows["settlements"][1] == int(daily["settlements"].sum()) and rows["owing"][1] == int(daily["owing"].iloc[-1])
    _, run_sc, _ = call(server, "GET", f"/api/run-scenario?run={stored.run_id}")
    assert run_sc["schedule"] == answer["schedule"]


def test_only_its_own_files_and_only_from_localhost(server):
    assert call(server, "GET", "/")[0] == 200
    for path in (
        "/../../etc/passwd",
        "/static/../server.py",
        "/static/%2e%2e/server.py",
        "/credsim.duckdb",
        "/api/jobs/../../x",
        "/static/",
    ):
        assert call(server, "GET", path)[0] == 404, path
    status, _, headers = call(server, "GET", "/static/app.js")
    assert status == 200 and headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert call(server, "GET", "/api/presets", headers={"Host": "attacker.example:80"})[0] == 403
    assert call(server, "POST", "/api/validate", body(), headers={"Origin": "http://attacker.example"})[0] == 403
    assert call(server, "POST", "/api/validate", body(), headers={"Sec-Fetch-Site": "cross-site"})[0] == 403


def test_upload_is_data_only_and_size_limited(server):
    text = (ROOT / "credsim" / "scenario" / "presets" / "essay.toml").read_bytes()
    status, answer, _ = call(server, "POST", "/api/upload?filename=../../My%20Essay.toml", text, raw=True)
    assert status == 200 and answer["name"] == "my-essay" and answer["scenario"] == essay()
    status, answer, _ = call(server, "POST", "/api/upload?filename=x.toml", b"__import__('os').system('id')", raw=True)
    assert status == 400 and answer["error"].startswith("x.toml: not valid TOML")
    status, answer, _ = call(server, "POST", "/api/upload?filename=x.toml", text.replace(b"spouse_weight = 3", b"spouse_weight = 30"), raw=True)
    assert status == 400 and answer["error"] == "x.toml: score.spouse_weight: Input should be less than or equal to 10"
    status, answer, _ = call(server, "POST", "/api/upload?filename=x.toml", b"#" * (1 << 20 | 1), raw=True)
    assert status == 413
    status, answer, _ = call(server, "POST", "/api/upload?filename=x.toml", b"\xff\xfe", raw=True)
    assert status == 400 and "UTF-8" in answer["error"]


def test_cli_serve_warns_off_localhost(tmp_path):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from credsim.cli import main; main()",
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            "0",
            "--catalog",
            str(tmp_path / "c.duckdb"),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        while not any("credsim dashboard:" in line for line in lines) and len(lines) < 20:
            lines.append(proc.stderr.readline())
        text = " ".join(lines)
        assert "warning:" in text and "0.0.0.0" in text and "no login" in text, text
        url = re.search(r"http://[^ ]+/", text)[0].replace("0.0.0.0", "127.0.0.1")
        with urllib.request.urlopen(url + "api/presets", timeout=10) as res:
            assert "essay" in json.loads(res.read())["presets"]
    finally:
        proc.terminate()
        proc.wait(10)


# -- the page in a browser ------------------------------------------------------------------------------


def test_dashboard_in_a_browser(server, browser, monkeypatch):
    page = browser.new_page(viewport={"width": 1440, "height": 1000}, accept_downloads=True)
    errors, outside = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    def route(r):
        if r.request.url.startswith(server.url):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        page.goto(server.url)
        page.wait_for_selector("body[data-ready='1']", timeout=30_000)
        spouse = page.locator('[data-path="score.spouse_weight"]')
        assert spouse.input_value() == "3" and page.locator("#run-name").input_value() == "essay"
        assert "spouse" in page.locator('[data-field="score.spouse_weight"] .help').inner_text()
        page.fill("#run-population", N)
        page.fill("#run-days", DAYS)

        def run_and_wait(seq: int) -> None:
            page.click("#run-button")
            page.wait_for_selector(f"body[data-result-seq='{seq}'][data-charts-done='1']", timeout=60_000)

        def scenario_column() -> list[str]:
            return page.locator("#scorecard-table tbody tr td:last-child").all_inner_texts()

        run_and_wait(1)
        first_card, first_chart = scenario_column(), page.locator("#chart-listed svg.marks").inner_html()
        assert len(first_card) >= 10 and page.locator("#charts [data-rendered='1']").count() == 6
        # what a person sees: no null/undefined/raw Markdown; every legend and label inside its chart
        check_charts(page, "#charts .chart")
        assert page.locator("#section-blacklist .help code").count() > 0, "help texts render `code` as <code>"
        page.locator("#results").screenshot(path=str(ARTIFACTS / "dashboard-results.png"))
        # Enter in a scenario field submits no form (no reload: the results stay) and breaks no CSP rule
        url = page.url
        page.locator('[data-path="score.association_rate"]').press("Enter")
        page.wait_for_timeout(500)
        assert page.url == url and page.locator("#results-body").is_visible()
        # a stronger spouse pull: a new run, and the scorecard and the charts change
        spouse.fill("9")
        spouse.dispatch_event("change")
        assert page.locator("#run-name").input_value() == "essay-custom"
        run_and_wait(2)
        assert scenario_column() != first_card
        assert page.locator("#chart-listed svg.marks").inner_html() != first_chart
        assert page.locator("#scorecard-table .was").count() > 0, "the scorecard shows the previous values"
        assert "essay-custom" in page.locator("#scorecard-table thead").inner_text()
        page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

        # an invalid value: a message next to the field, and Run starts nothing
        started = server.app.started_runs
        jobs = server.app.next_id
        spouse.fill("11")
        spouse.dispatch_event("change")
        msg = page.locator('[data-msg-for="score.spouse_weight"]')
        msg.wait_for(state="visible", timeout=10_000)
        assert "less than or equal to 10" in msg.inner_text()
        page.click("#run-button")
        page.wait_for_function("document.querySelector('#run-msg').textContent.includes('Nothing was run')")
        assert server.app.started_runs == started and server.app.next_id == jobs
        page.locator("#section-score").screenshot(path=str(ARTIFACTS / "dashboard-invalid.png"))
        page.fill("#run-population", "1e9")
        page.dispatch_event("#run-population", "change")
        page.wait_for_function("document.querySelector('[data-msg-for=\"run.population\"]').textContent.includes('10,000,000')")
        page.fill("#run-population", N)
        spouse.fill("9")
        spouse.dispatch_event("change")
        page.wait_for_function("document.querySelector('[data-msg-for=\"score.spouse_weight\"]').textContent === ''")

        # a failing run shows its error, and the next run works
        import credsim.results.compare as compare_mod

        monkeypatch.setattr(compare_mod, "compare", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("engine exploded")))
        page.fill("#run-seed", "5")
        page.click("#run-button")
        page.wait_for_function("document.querySelector('#run-msg').textContent.includes('engine exploded')")
        assert page.locator("#run-button").is_enabled()
        monkeypatch.undo()
        run_and_wait(3)

        # the catalog: download a run's daily table as CSV, and show stored runs side by side
        page.click("#catalog-refresh")
        row = page.locator("#catalog-table tbody tr", has_text="essay-custom").first
        with page.expect_download() as info:
            row.locator("a[data-table='daily'][data-format='csv']").click()
        path = info.value.path()
        lines = Path(path).read_text().splitlines()
        assert info.value.suggested_filename.endswith("-daily.csv")
        assert lines[0].startswith("day,threshold,") and len(lines) == 1 + int(DAYS)
        page.locator("#catalog-table tbody tr", has_text="baseline").first.locator("input[type=checkbox]").check()
        row.locator("input[type=checkbox]").check()
        page.click("#catalog-show")
        page.wait_for_selector("body[data-result-seq='4'][data-charts-done='1']", timeout=60_000)
        assert page.locator("#scorecard-table thead th").count() == 4
        page.screenshot(path=str(ARTIFACTS / "dashboard-catalog.png"), full_page=True)

        assert text_problems(page) == [], text_problems(page)
        assert errors == [], f"console errors: {errors}"
        assert outside == [], f"the page tried to reach the network: {outside}"
    finally:
        page.close()


def test_csm2_groups_in_a_browser(server, browser):
    """Switch CSM-2 groups on in the page, run, and see their daily columns; switch one off again;
    load a scenario with a schedule, see it summarised read-only, and run it as loaded."""
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(server.url)
        page.wait_for_selector("body[data-ready='1']", timeout=30_000)
        page.fill("#run-population", N)
        page.fill("#run-days", DAYS)
        # essay is CSM-1: every CSM-2 switch is off and its fields are not on the form
        for key in ("exit", "appeals", "adaptive", "blacklist.initial"):
            assert not page.locator(f'[data-group-toggle="{key}"]').is_checked(), key
        assert page.locator('[data-path="exit.settle_rate"]').count() == 0
        assert "None: one policy" in page.locator("#section-schedule").text_content()
        # switch settlement on: its fields appear with a preset's values
        page.locator('[data-group-toggle="exit"]').check()
        page.wait_for_selector('[data-path="exit.settle_rate"]')
        assert page.locator('[data-path="exit.max_stay"]').input_value() == "730"
        assert page.locator("#run-name").input_value() == "essay-custom"
        page.locator('[data-group-toggle="appeals"]').check()
        page.wait_for_selector('[data-path="appeals.uphold"]')
        page.locator('[data-path="appeals.uphold"]').fill("0.9")
        page.locator('[data-path="appeals.uphold"]').dispatch_event("change")
        # a bad value is refused on its field, by the model's own rule
        page.locator('[data-path="exit.settle_rate"]').fill("1.5")
        page.locator('[data-path="exit.settle_rate"]').dispatch_event("change")
        msg = page.locator('[data-msg-for="exit.settle_rate"]')
        msg.wait_for(state="visible", timeout=10_000)
        assert "less than or equal to 1" in msg.inner_text()
        page.locator('[data-path="exit.settle_rate"]').fill("0.01")
        page.locator('[data-path="exit.settle_rate"]').dispatch_event("change")
        page.wait_for_function("document.querySelector('[data-msg-for=\"exit.settle_rate\"]').textContent === ''")
        page.click("#run-button")
        page.wait_for_selector("body[data-result-seq='1'][data-charts-done='1']", timeout=120_000)
        row = page.locator('#mechanisms-table tr[data-column="settlements"]')
        assert row.count() == 1
        cells = row.locator("td").all_inner_texts()  # measure, baseline, essay-custom
        assert cells[1] == "—" and cells[2] != "—"
        assert page.locator('#mechanisms-table tr[data-column="appeals_filed"]').count() == 1
        assert page.locator('#mechanisms-table tr[data-column="near"]').count() == 0  # [adaptive] stayed off
        stored = server.app.catalog.load(page.evaluate("document.querySelector('#results-meta').textContent").split("essay-custom: ")[1].split(" ")[0])
        assert stored.scenario.exit.settle_rate == 0.01 and stored.scenario.appeals.uphold == 0.9
        assert stored.scenario.adaptive is None and stored.scenario.blacklist.initial_share == 0
        # switched off again: the table is absent from the scenario (and its values come back when on)
        with page.expect_request(lambda r: r.url.endswith("/api/validate")) as sent:
            page.locator('[data-group-toggle="exit"]').uncheck()
        assert "exit" not in sent.value.post_data_json["scenario"] and "appeals" in sent.value.post_data_json["scenario"]
        page.wait_for_function("!document.querySelector('[data-path=\"exit.settle_rate\"]')")
        page.locator('[data-group-toggle="exit"]').check()
        assert page.locator('[data-path="exit.settle_rate"]').input_value() == "0.01"
        page.locator('[data-group-toggle="blacklist.initial"]').check()
        page.wait_for_selector('[data-path="blacklist.initial_share"]')
        assert float(page.locator('[data-path="blacklist.initial_share"]').input_value()) > 0
        # a scenario with a schedule: summarised read-only, run as loaded
        page.set_input_files("#upload", str(ROOT / "tests" / "scenarios" / "essay2.toml"))
        page.wait_for_selector("#schedule-summary li")
        items = page.locator("#schedule-summary li").all_inner_texts()
        assert len(items) == 2 and items[0].startswith("from day 31 (schedule[0]): channel.public_misconduct.detect 0.5 → 0.8")
        assert page.locator("#section-schedule input, #section-schedule select").count() == 0
        assert page.locator('[data-group-toggle="adaptive"]').is_checked()
        page.click("#run-button")
        page.wait_for_selector("body[data-result-seq='2'][data-charts-done='1']", timeout=120_000)
        assert page.locator('#mechanisms-table tr[data-column="near"]').count() == 1
        run_id = page.evaluate("document.querySelector('#results-meta').textContent").split("essay2: ")[1].split(" ")[0]
        uploaded = from_toml((ROOT / "tests" / "scenarios" / "essay2.toml").read_text("utf-8"), "essay2")
        assert server.app.catalog.load(run_id).scenario == uploaded
        page.locator("#controls").screenshot(path=str(ARTIFACTS / "dashboard-csm2.png"))
        assert errors == [], f"console errors: {errors}"
    finally:
        page.close()


def test_page_has_no_inline_script():
    """The dashboard's Content-Security-Policy allows scripts from its own files only, so an inline
    handler (onsubmit=...) or an inline <script> is blocked, and the blocked call is a console error."""
    from credsim.dashboard.server import CSP, STATIC, _static

    assert "'unsafe-inline'" not in CSP.split("script-src", 1)[1].split(";", 1)[0]
    for name, ctype in set(STATIC.values()):
        text = _static(name).decode()
        if name.endswith(".html"):
            assert not re.search(r"<[^>]*\son[a-z]+\s*=", text, re.I), f"{name}: inline event handler"
            assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text, re.I), f"{name}: inline script"
        assert "javascript:" not in text, name
        if name.endswith(".js"):
            assert not re.search(r"setAttribute\(\s*[\"']on", text), f"{name}: handler set as an attribute"


def test_serve_on_a_taken_port_is_one_line(cli):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = cli("serve", "--port", str(port))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert len([ln for ln in proc.stderr.splitlines() if ln.strip()]) == 1
