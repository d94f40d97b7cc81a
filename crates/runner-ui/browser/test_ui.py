"""runner ui in a real browser: Debian's chromium driven over WebDriver (selenium).

The storage the UI reads is filled by real `runner run`s of the flows below; every response
body the browser received (read back over the DevTools protocol) and every page's HTML is
scanned for the secret in its plain, base64 and URL-encoded forms. Screenshots and the timing
of the 1,000-task-run page go to $RUNNER_UI_ARTIFACTS (default target/ui-browser).

Run by scripts/browser-test.sh, which installs chromium, chromium-driver and selenium.
"""

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

RUNNER = os.path.abspath(os.environ.get("RUNNER_BIN", "target/debug/runner"))
ARTIFACTS = os.path.abspath(os.environ.get("RUNNER_UI_ARTIFACTS", "target/ui-browser"))
SECRET = "s3cr3t-UI-t0ken-4242"
SECRET_FORMS = [
    SECRET,
    base64.b64encode(SECRET.encode()).decode(),
    urllib.parse.quote(SECRET, safe=""),
]

FLOWS = {
    "report.yaml": """
id: report
namespace: ui.test
inputs:
  - id: who
    type: STRING
    defaults: ada
tasks:
  - id: rows
    type: io.kestra.plugin.core.storage.Write
    content: |
      {id:1,name:"ada",token:"{{ secret('API_TOKEN') }}"}
      {id:2,name:"bob",token:"none"}
      {id:3,name:"cy",token:"none"}
  - id: csv
    type: io.kestra.plugin.serdes.csv.IonToCsv
    from: "{{ outputs.rows.uri }}"
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "token is {{ secret('API_TOKEN') }} for {{ inputs.who }}"
  - id: child
    type: io.kestra.plugin.core.flow.Subflow
    namespace: ui.test
    flowId: child
    inputs:
      n: 2
""",
    "child.yaml": """
id: child
namespace: ui.test
inputs:
  - id: n
    type: INT
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "child got {{ inputs.n }}"
""",
    "noisy.yaml": """
id: noisy
namespace: ui.test
tasks:
  - id: quiet
    type: io.kestra.plugin.core.log.Log
    level: DEBUG
    message: "a debug line"
  - id: warn
    type: io.kestra.plugin.core.log.Log
    level: WARN
    message: "a warning line"
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: "the needle fails here"
errors:
  - id: alert
    type: io.kestra.plugin.core.log.Log
    level: ERROR
    message: "noisy failed"
""",
    "slow.yaml": """
id: slow
namespace: ui.test
tasks:
  - id: first
    type: io.kestra.plugin.core.log.Log
    message: "starting"
  - id: wait
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT3S
  - id: last
    type: io.kestra.plugin.core.log.Log
    message: "slow is done"
""",
    "form.yaml": """
id: form
namespace: ui.test
inputs:
  - id: name
    type: STRING
  - id: count
    type: INT
    defaults: 3
  - id: ratio
    type: FLOAT
  - id: loud
    type: BOOLEAN
    defaults: false
  - id: day
    type: DATE
  - id: at
    type: DATETIME
  - id: color
    type: SELECT
    values: [red, green, blue]
  - id: tags
    type: MULTISELECT
    values: [alpha, beta, gamma]
  - id: payload
    type: JSON
  - id: upload
    type: FILE
  - id: pin
    type: SECRET
    required: false
tasks:
  - id: echo
    type: io.kestra.plugin.core.log.Log
    message: "name={{ inputs.name }} count={{ inputs.count }} ratio={{ inputs.ratio }} loud={{ inputs.loud }} day={{ inputs.day }} at={{ inputs.at }} color={{ inputs.color }} tags={{ inputs.tags | join(',') }} k={{ inputs.payload.k }} pin={{ inputs.pin }}"
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: "{{ inputs.tags }}"
    tasks:
      - id: tag
        type: io.kestra.plugin.core.debug.Return
        format: "tag {{ taskrun.value }}"
  - id: file
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(inputs.upload) }}"
""",
    "many.yaml": """
id: many
namespace: ui.test
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: "{{ range(1, 1000) }}"
    tasks:
      - id: item
        type: io.kestra.plugin.core.debug.Return
        format: "item {{ taskrun.value }}"
""",
    "approval.yaml": """
id: approval
namespace: ui.test
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: approved
        type: BOOLEAN
      - id: reason
        type: STRING
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: "approved={{ outputs.wait.onResume.approved }} reason={{ outputs.wait.onResume.reason }}"
""",
    "flaky.yaml": """
id: flaky
namespace: ui.test
tasks:
  - id: check
    type: io.kestra.plugin.core.execution.Fail
    runIf: "{{ kv('fixed', errorOnMissing=false) is null }}"
    errorMessage: "not fixed yet"
  - id: done
    type: io.kestra.plugin.core.log.Log
    message: "fixed at last"
""",
    "measured.yaml": """
id: measured
namespace: ui.test
tasks:
  - id: publish
    type: io.kestra.plugin.core.metric.Publish
    metrics:
      - type: counter
        name: rows
        value: 42
        tags:
          table: users
      - type: timer
        name: load
        value: PT1.5S
  - id: response
    type: io.kestra.plugin.core.output.OutputValues
    values:
      headers:
        content-type: ["text/plain; charset=utf-8"]
        vary: ["accept", "origin"]
      uri: "kestra:///ui/test/measured/executions/a-very-long-execution-id-that-goes-on/tasks/response/a-file-name-that-is-long-enough-to-overflow-any-reasonable-table-cell.ion"
  - id: put
    type: io.kestra.plugin.core.kv.Set
    key: greeting
    value: "hello from measured"
""",
    "editable.yaml": """
id: editable
namespace: ui.test
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "before edit"
""",
    "broken.yaml": """
id: broken
namespace: ui.test
tasks:
  - id: oops
    type: io.kestra.plugin.core.log.Log
    mesage: "a typo in the property name"
""",
}


def run_flow(env, *args, check=True):
    p = subprocess.run([RUNNER, "run", *args], env=env, capture_output=True, text=True, timeout=120)
    if check and p.returncode not in (0, 1):
        raise AssertionError(f"runner run {args} exited {p.returncode}: {p.stderr}")
    return p


class UiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.makedirs(os.path.join(ARTIFACTS, "screenshots"), exist_ok=True)
        cls.tmp = tempfile.mkdtemp(prefix="runner-ui-test-")
        cls.flows = os.path.join(cls.tmp, "flows")
        cls.storage = os.path.join(cls.tmp, "storage")
        os.makedirs(cls.flows)
        for name, text in FLOWS.items():
            with open(os.path.join(cls.flows, name), "w") as f:
                f.write(text.lstrip())
        cls.env_file = os.path.join(cls.tmp, ".env_encoded")
        with open(cls.env_file, "w") as f:
            f.write("SECRET_API_TOKEN=" + base64.b64encode(SECRET.encode()).decode() + "\n")
        # The process's own environment has no secret: only the env file, as users run it.
        cls.env = {k: v for k, v in os.environ.items() if not k.startswith("SECRET_")}
        common = ["--storage", cls.storage, "--flows", cls.flows, "--env-file", cls.env_file]
        run_flow(cls.env, os.path.join(cls.flows, "report.yaml"), *common)
        run_flow(cls.env, os.path.join(cls.flows, "noisy.yaml"), *common)
        run_flow(cls.env, os.path.join(cls.flows, "many.yaml"), *common)
        cls.ids = {}
        for d, _, files in os.walk(cls.storage):
            if "execution.json" in files:
                with open(os.path.join(d, "execution.json")) as f:
                    r = json.load(f)
                cls.ids.setdefault(r["flowId"], []).append(r["id"])
        # A record that is not JSON, beside the good ones.
        bad = os.path.join(cls.storage, "ui", "test", "ghost", "executions", "corruptRecord1")
        os.makedirs(bad)
        with open(os.path.join(bad, "execution.json"), "w") as f:
            f.write('{"id": "corruptRecord1", "state": ')
        # A file named .ion that is not Ion, in the report's execution folder.
        report_dir = cls.execution_dir(cls.ids["report"][0])
        with open(os.path.join(report_dir, "not-ion.ion"), "w") as f:
            f.write("{id: 1, name: \"ok\"}\n{this is not ion\n")
        cls.ui = subprocess.Popen(
            [RUNNER, "ui", "--port", "0", "--storage", cls.storage, "--flows", cls.flows, "--env-file", cls.env_file],
            env=cls.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        line = cls.ui.stdout.readline()
        assert line.startswith("runner ui: http://127.0.0.1:"), line + cls.ui.stderr.read()
        cls.base = line.split(": ", 1)[1].strip().rstrip("/")
        options = webdriver.ChromeOptions()
        for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000"]:
            options.add_argument(a)
        options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
        options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
        service = Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
        cls.d = webdriver.Chrome(service=service, options=options)
        cls.d.execute_cdp_cmd("Network.enable", {})
        cls.bodies = []

    @classmethod
    def tearDownClass(cls):
        try:
            cls.collect()
            leaks = [url for url, body in cls.bodies if any(s in body for s in SECRET_FORMS)]
            print(f"\nscanned {len(cls.bodies)} response bodies for the secret: {len(leaks)} held it")
            errors = [e for e in cls.d.get_log("browser") if e["level"] == "SEVERE"]
            print(f"browser console errors: {len(errors)}")
        finally:
            cls.d.quit()
            cls.ui.terminate()
            cls.ui.wait(10)
            shutil.rmtree(cls.tmp, ignore_errors=True)

    # --- helpers -----------------------------------------------------------------------------

    @classmethod
    def execution_dir(cls, execution_id):
        for d, dirs, _ in os.walk(cls.storage):
            if os.path.basename(d) == execution_id:
                return d
        raise AssertionError(f"no folder for {execution_id}")

    @classmethod
    def collect(cls):
        """Every response the browser received since the last call, its body read back."""
        for entry in cls.d.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            if msg.get("method") != "Network.responseReceived":
                continue
            url = msg["params"]["response"]["url"]
            if not url.startswith(cls.base):
                continue
            try:
                got = cls.d.execute_cdp_cmd("Network.getResponseBody", {"requestId": msg["params"]["requestId"]})
                body = base64.b64decode(got["body"]).decode("utf-8", "replace") if got.get("base64Encoded") else got["body"]
            except WebDriverException:
                # Gone from the browser's cache (a page left): fetched again, the same bytes.
                body = cls.fetch(url)
            cls.bodies.append((url, body))

    @classmethod
    def fetch(cls, url, data=None, method="GET", headers=None):
        req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            return e.read().decode("utf-8", "replace")

    def open(self, path):
        self.d.get(self.base + path)
        self.collect()
        self.assert_no_secret(self.d.page_source, path)

    def shot(self, name):
        self.d.save_screenshot(os.path.join(ARTIFACTS, "screenshots", name + ".png"))

    def assert_no_secret(self, text, where):
        for form in SECRET_FORMS:
            self.assertNotIn(form, text, f"the secret ({form[:4]}...) is in {where}")

    def wait(self, condition, timeout=20, what="the page"):
        # Live pages replace their parts: an element read as it is replaced is read again.
        return WebDriverWait(
            self.d, timeout, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,)
        ).until(lambda d: condition(d), message=what)

    def css(self, selector):
        return self.d.find_elements(By.CSS_SELECTOR, selector)

    def visible(self, selector):
        return [e for e in self.css(selector) if e.is_displayed()]

    # --- the pages ---------------------------------------------------------------------------

    def newest(self, flow_id):
        found = []
        for d, _, files in os.walk(os.path.join(self.storage, "ui", "test", flow_id)):
            if "execution.json" in files:
                found.append((os.path.getmtime(os.path.join(d, "execution.json")), os.path.basename(d)))
        self.assertTrue(found, f"no execution of {flow_id}")
        return max(found)[1]

    def badge(self):
        return self.d.find_element(By.CSS_SELECTOR, "#summary-wrap .badge").text

    def test_a_paused_execution_resumes_from_its_form_is_killed_or_restarts(self):
        common = ["--storage", self.storage, "--flows", self.flows, "--env-file", self.env_file,
                  "--state", os.path.join(self.tmp, "state")]
        approval = os.path.join(self.flows, "approval.yaml")
        p = run_flow(self.env, approval, *common, check=False)
        self.assertEqual(p.returncode, 3, p.stderr)
        paused = self.newest("approval")
        self.open(f"/executions/{paused}")
        self.assertEqual(self.badge(), "PAUSED")
        kinds = {e.get_attribute("name"): e.get_attribute("type") for e in self.css("#resume-form [data-kind]")}
        self.assertEqual(kinds, {"approved": "checkbox", "reason": "text"})
        self.shot("paused")
        # A required answer left out: the browser holds the form back.
        reason = self.d.find_element(By.CSS_SELECTOR, "#resume-form [name=reason]")
        self.d.find_element(By.ID, "resume-button").click()
        self.assertTrue(self.d.execute_script("return arguments[0].validity.valueMissing", reason))
        # A wrong answer posted anyway: the run's refusal comes back, the execution stays PAUSED.
        refused = json.loads(self.fetch(
            f"{self.base}/executions/{paused}/resume",
            data=json.dumps({"inputs": {"approved": "maybe", "reason": "x"}}).encode(),
            method="POST",
            headers={"content-type": "application/json", "x-runner-ui": "1"},
        ))
        self.assertIn("Invalid input for `approved`", refused.get("error", ""), refused)
        self.assertEqual(self.badge(), "PAUSED")
        self.d.find_element(By.CSS_SELECTOR, "#resume-form [name=approved]").click()
        self.d.find_element(By.CSS_SELECTOR, "#resume-form [name=reason]").send_keys("ship it")
        self.d.find_element(By.ID, "resume-button").click()
        self.wait(lambda d: self.badge() == "SUCCESS", timeout=30, what="the resumed run's end")
        self.collect()
        self.assertIn("approved=true reason=ship it", " ".join(r.text for r in self.css("#log-rows tr")))
        self.assertEqual(self.css("#resume-form"), [])
        self.shot("resumed")

        # Kill: a paused execution ends KILLED from its page.
        run_flow(self.env, approval, *common, check=False)
        waiting = self.newest("approval")
        self.assertNotEqual(waiting, paused)
        self.open(f"/executions/{waiting}")
        self.d.find_element(By.CSS_SELECTOR, "#actions button[data-action=kill]").click()
        self.wait(lambda d: self.badge() == "KILLED", timeout=30, what="KILLED")
        self.collect()

        # Restart: a failed execution runs its failed task again, once the cause is fixed.
        p = run_flow(self.env, os.path.join(self.flows, "flaky.yaml"), *common, check=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        failed = self.newest("flaky")
        self.open(f"/executions/{failed}")
        self.assertEqual(self.badge(), "FAILED")
        fix = subprocess.run([RUNNER, "kv", "--state", os.path.join(self.tmp, "state"), "set", "ui.test", "fixed", "yes"],
                             env=self.env, capture_output=True, text=True)
        self.assertEqual(fix.returncode, 0, fix.stderr)
        self.d.find_element(By.CSS_SELECTOR, "#actions button[data-action=restart]").click()
        self.wait(lambda d: self.badge() == "SUCCESS", timeout=30, what="the restarted run's end")
        self.collect()
        with open(os.path.join(self.execution_dir(failed), "execution.json")) as f:
            record = json.load(f)
        self.assertEqual([h["state"] for h in record["state"]["histories"]],
                         ["CREATED", "RUNNING", "FAILED", "RESTARTED", "RUNNING", "SUCCESS"])
        self.assertIn("fixed at last", " ".join(r.text for r in self.css("#log-rows tr")))
        self.shot("restarted")

    def test_execution_page_shows_errors_metrics_headers_and_the_kv_store(self):
        common = ["--storage", self.storage, "--flows", self.flows, "--env-file", self.env_file,
                  "--state", os.path.join(self.tmp, "state")]
        p = run_flow(self.env, os.path.join(self.flows, "measured.yaml"), *common)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.open(f"/executions/{self.newest('measured')}")
        rows = {r.get_attribute("data-name"): r.text for r in self.css("#metrics tr.metric")}
        self.assertIn("publish rows counter 42 table=users", rows["rows"])
        self.assertIn("load timer 1.50s", rows["load"])
        outputs = self.d.find_element(By.CSS_SELECTOR, "tr.taskrun[data-task=response] .task-outputs")
        lines = outputs.text.splitlines()
        self.assertIn("text/plain; charset=utf-8", lines)
        self.assertIn("accept, origin", lines)
        # The long URI wraps inside its cell: the table is no wider than the page.
        code = outputs.find_element(By.CSS_SELECTOR, "code")
        self.assertEqual(code.value_of_css_property("overflow-wrap"), "anywhere")
        width = self.d.execute_script("return document.documentElement.scrollWidth")
        self.assertLessEqual(width, self.d.execute_script("return window.innerWidth"))
        self.shot("metrics-headers")
        # A subflow's execution points to its parent for the actions.
        self.open(f"/executions/{self.ids['child'][0]}")
        note = self.d.find_element(By.ID, "subflow-of")
        self.assertIn(self.ids["report"][0], note.text)
        self.assertEqual(self.css("#actions button"), [])
        # A failed task run's error is in its row.
        self.open(f"/executions/{self.ids['noisy'][0]}")
        boom = self.d.find_element(By.CSS_SELECTOR, "tr.taskrun[data-task=boom] pre.task-error")
        self.assertIn("the needle fails here", boom.text)
        # The KV store: its namespaces, then one namespace's keys and values.
        self.open("/kv")
        namespaces = [r.get_attribute("data-namespace") for r in self.css("tr.kv-namespace")]
        self.assertIn("ui.test", namespaces)
        self.d.find_element(By.CSS_SELECTOR, "tr.kv-namespace[data-namespace='ui.test'] a").click()
        self.wait(lambda d: d.current_url.endswith("/kv/ui.test"), what="the namespace's page")
        self.collect()
        greeting = self.d.find_element(By.CSS_SELECTOR, "tr.kv-key[data-key=greeting]")
        self.assertIn("hello from measured", greeting.text)
        self.assertEqual(greeting.find_elements(By.CSS_SELECTOR, "td")[3].text, "1", "its version")
        self.shot("kv")

    def test_the_editor_checks_as_you_type_then_saves_and_runs(self):
        from selenium.webdriver.common.keys import Keys
        path = os.path.join(self.flows, "editable.yaml")
        self.open("/flows/ui.test/editable")
        self.d.find_element(By.ID, "edit-link").click()
        self.wait(lambda d: d.current_url.endswith("/edit"), what="the editor page")
        root = self.d.find_element(By.ID, "editor")
        if os.environ.get("RUNNER_UI_EDITOR_JS"):
            self.assertEqual(root.get_attribute("data-editor"), "codemirror")
        self.wait(lambda d: d.find_element(By.ID, "editor").get_attribute("data-checks") == "1", what="the first check")
        self.assertEqual(root.get_attribute("data-problems"), "0")
        # A typo typed at the end of the task: the problem is said at its line.
        if root.get_attribute("data-editor") == "codemirror":
            content = self.d.find_element(By.CSS_SELECTOR, ".cm-content")
            content.click()
            content.send_keys(Keys.CONTROL, Keys.END)
            # The file ends with a newline: the last line is empty, at line 7.
            content.send_keys("    mesage: oops")
        else:
            area = self.d.find_element(By.ID, "editor-source")
            area.send_keys(Keys.CONTROL, Keys.END)
            area.send_keys("    mesage: oops")
        self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "#editor-problems li[data-line='7']"), what="the typo's problem")
        problem = self.d.find_element(By.CSS_SELECTOR, "#editor-problems li[data-line='7']").text
        self.assertIn("mesage", problem)
        if root.get_attribute("data-editor") == "codemirror":
            self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, ".cm-lint-marker-error"), what="the gutter's marker")
        self.shot("editor-typo")
        # Nothing is saved while it has the typo... the file on disk is untouched.
        with open(path) as f:
            self.assertNotIn("mesage", f.read())
        # The typo goes, the message changes; Save & Run writes the file and opens the Run form.
        fixed = FLOWS["editable.yaml"].lstrip().replace("before edit", "after edit")
        if root.get_attribute("data-editor") == "codemirror":
            self.d.execute_script(
                "const v = window.runnerEditorView; v.dispatch({changes: {from: 0, to: v.state.doc.length, insert: arguments[0]}})",
                fixed)
        else:
            area = self.d.find_element(By.ID, "editor-source")
            area.clear()
            area.send_keys(fixed)
        self.wait(lambda d: d.find_element(By.ID, "editor").get_attribute("data-problems") == "0", what="no problem left")
        self.d.find_element(By.ID, "save-run-button").click()
        self.wait(lambda d: d.current_url.endswith("/flows/ui.test/editable#run-form"), what="the flow's page")
        with open(path) as f:
            self.assertEqual(f.read(), fixed)
        self.collect()
        self.d.find_element(By.ID, "run-button").click()
        self.wait(lambda d: "/executions/" in d.current_url, what="the run's page")
        self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "#execution[data-ended=true]"), timeout=60, what="the run's end")
        self.collect()
        self.assertIn("after edit", " ".join(r.text for r in self.css("#log-rows tr")))
        # A file changed on disk since the editor opened it is not overwritten.
        self.open("/flows/ui.test/editable/edit")
        self.wait(lambda d: d.find_element(By.ID, "editor").get_attribute("data-checks") == "1", what="the check")
        with open(path, "w") as f:
            f.write(fixed.replace("after edit", "changed elsewhere"))
        self.d.find_element(By.ID, "save-button").click()
        self.wait(lambda d: "changed on disk" in d.find_element(By.ID, "editor-status").text, what="the refusal")
        with open(path) as f:
            self.assertIn("changed elsewhere", f.read())
        with open(path, "w") as f:
            f.write(FLOWS["editable.yaml"].lstrip())

    def test_executions_list_filters_by_flow_and_state(self):
        self.open("/executions")
        rows = self.css("tr.execution")
        # Every execution folder in storage (other tests add theirs), the corrupt one included.
        total = sum(1 for d, _, _ in os.walk(self.storage) if os.path.basename(os.path.dirname(d)) == "executions")
        self.assertEqual(len(rows), total)
        self.assertIn(f"{total} of {total} executions", self.d.find_element(By.ID, "execution-count").text)
        # The corrupt record is listed with what is wrong; the rest works.
        ghost = self.d.find_element(By.CSS_SELECTOR, "tr.execution[data-id=corruptRecord1]")
        self.assertIn("not a valid execution", ghost.text)
        self.shot("executions")
        Select(self.d.find_element(By.ID, "filter-state")).select_by_value("FAILED")
        self.wait(lambda d: "state=FAILED" in d.current_url, what="the state filter")
        self.collect()
        states = [e.get_attribute("data-state") for e in self.css("tr.execution .badge")]
        self.assertEqual(states, ["FAILED"])
        self.assertEqual(self.css("tr.execution td:nth-child(3)")[0].text, "noisy")
        self.open("/executions?flow=child")
        self.assertEqual(len(self.css("tr.execution")), 1)

    def test_execution_page_shows_topology_gantt_outputs_and_subflow(self):
        rid = self.ids["report"][0]
        self.open(f"/executions/{rid}")
        self.assertEqual(self.d.find_element(By.CSS_SELECTOR, "#summary-wrap .badge").text, "SUCCESS")
        nodes = {n.get_attribute("data-task"): n.get_attribute("data-state") for n in self.css(".topology .node")}
        self.assertEqual(nodes, {"rows": "SUCCESS", "csv": "SUCCESS", "say": "SUCCESS", "child": "SUCCESS"})
        self.assertEqual(len(self.css(".gantt-row")), 4)
        self.shot("execution-report")
        # The secret in the log line is masked.
        say = [r.text for r in self.css("#log-rows tr") if "token is" in r.text]
        self.assertEqual(len(say), 1)
        self.assertIn("token is ****** for ada", say[0])
        # The subflow's execution is one click away.
        link = self.d.find_element(By.CSS_SELECTOR, ".node[data-task=child] .subflow-link")
        link.click()
        self.wait(lambda d: "child got 2" in d.page_source, what="the subflow's page")
        self.collect()
        self.assertEqual(self.d.find_element(By.CSS_SELECTOR, "#summary-wrap .badge").text, "SUCCESS")

    def test_a_topology_node_filters_the_task_runs_and_outputs_preview_in_place(self):
        rid = self.ids["report"][0]
        self.open(f"/executions/{rid}")
        self.d.find_element(By.CSS_SELECTOR, ".node[data-task=csv] .node-head").click()
        self.wait(lambda d: len([e for e in self.css("tr.taskrun") if e.is_displayed()]) == 1, what="the task filter")
        self.assertEqual(self.visible("tr.taskrun")[0].get_attribute("data-task"), "csv")
        self.assertIn("Task csv: 1 run", self.d.find_element(By.ID, "runs-shown").text)
        # The CSV IonToCsv wrote, as a table.
        self.visible("tr.taskrun .preview-link")[0].click()
        self.wait(lambda d: d.find_elements(By.ID, "preview-table"), what="the CSV preview")
        self.collect()
        self.assert_no_secret(self.d.page_source, "the CSV preview")
        head = [th.text for th in self.css("#preview-table th")]
        self.assertEqual(head, ["id", "name", "token"])
        cells = [[td.text for td in tr.find_elements(By.TAG_NAME, "td")] for tr in self.css("#preview-table tbody tr")]
        self.assertEqual(cells, [["1", "ada", "******"], ["2", "bob", "none"], ["3", "cy", "none"]])
        self.assertIn("3 rows", self.d.find_element(By.ID, "preview-rows").text)
        self.shot("preview-csv")
        # The download is masked too.
        href = self.d.find_element(By.ID, "file-download").get_attribute("href")
        body = self.fetch(href)
        self.bodies.append((href, body))
        self.assertTrue(body.startswith("id,name,token"), body)
        self.assertIn("******", body)
        self.assert_no_secret(body, "the CSV download")
        # The Ion file Write kept, as a table too.
        self.d.back()
        self.d.find_element(By.CSS_SELECTOR, ".node[data-task=rows] .node-head").click()
        self.visible("tr.taskrun .preview-link")[0].click()
        self.wait(lambda d: d.find_elements(By.ID, "preview-table"), what="the Ion preview")
        self.collect()
        self.assertEqual([th.text for th in self.css("#preview-table th")], ["id", "name", "token"])
        self.assertEqual(len(self.css("#preview-table tbody tr")), 3)

    def test_logs_filter_by_level_and_text_and_download_filtered(self):
        nid = self.ids["noisy"][0]
        self.open(f"/executions/{nid}")
        self.assertEqual(self.d.find_element(By.CSS_SELECTOR, "#summary-wrap .badge").text, "FAILED")
        all_rows = len(self.css("#log-rows tr"))
        self.assertGreaterEqual(all_rows, 3)
        Select(self.d.find_element(By.ID, "log-level")).select_by_value("ERROR")
        levels = {r.find_element(By.CLASS_NAME, "log-level").text for r in self.visible("#log-rows tr")}
        self.assertEqual(levels, {"ERROR"})
        self.assertIn("noisy failed", " ".join(r.text for r in self.visible("#log-rows tr")))
        Select(self.d.find_element(By.ID, "log-level")).select_by_value("TRACE")
        search = self.d.find_element(By.ID, "log-search")
        search.send_keys("needle")
        shown = self.visible("#log-rows tr")
        self.assertEqual(len(shown), 1)
        self.assertIn("the needle fails here", shown[0].text)
        self.assertIn(f"1 of {all_rows} lines", self.d.find_element(By.ID, "log-shown").text)
        self.shot("logs-filtered")
        href = self.d.find_element(By.ID, "log-download").get_attribute("href")
        self.assertIn("q=needle", href)
        text = self.fetch(href)
        self.bodies.append((href, text))
        self.assertEqual(len(text.strip().splitlines()), 1, text)
        self.assertIn("[boom] the needle fails here", text)

    def test_run_form_has_a_widget_per_input_type_and_starts_the_run(self):
        self.open("/flows/ui.test/form")
        kinds = {e.get_attribute("name"): (e.tag_name, e.get_attribute("type")) for e in self.css("#run-form [data-kind]")}
        self.assertEqual(kinds, {
            "name": ("input", "text"), "count": ("input", "number"), "ratio": ("input", "number"),
            "loud": ("input", "checkbox"), "day": ("input", "date"), "at": ("input", "datetime-local"),
            "color": ("select", "select-one"), "tags": ("select", "select-multiple"), "payload": ("textarea", "textarea"),
            "upload": ("input", "file"), "pin": ("input", "password"),
        })
        f = lambda n: self.d.find_element(By.CSS_SELECTOR, f"#run-form [name={n}]")
        f("name").send_keys("Grace")
        f("count").clear()
        f("count").send_keys("7")
        f("ratio").send_keys("0.5")
        f("loud").click()
        self.d.execute_script("arguments[0].value = '2026-05-01'", f("day"))
        self.d.execute_script("arguments[0].value = '2026-05-01T06:30:00'", f("at"))
        Select(f("color")).select_by_value("green")
        tags = Select(f("tags"))
        tags.select_by_value("alpha")
        tags.select_by_value("gamma")
        f("payload").send_keys('{"k": "v1"}')
        upload = os.path.join(self.tmp, "hello.txt")
        with open(upload, "w") as fh:
            fh.write("uploaded text")
        f("upload").send_keys(upload)
        f("pin").send_keys(SECRET)
        self.shot("run-form")
        self.d.find_element(By.ID, "run-button").click()
        self.wait(lambda d: "/executions/" in d.current_url, what="the new execution's page")
        self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "#execution[data-ended=true]"), timeout=60, what="the run's end")
        self.collect()
        self.assert_no_secret(self.d.page_source, "the form run's page")
        self.assertEqual(self.d.find_element(By.CSS_SELECTOR, "#summary-wrap .badge").text, "SUCCESS")
        echo = [r.text for r in self.css("#log-rows tr") if "name=" in r.text][0]
        self.assertIn("name=Grace count=7 ratio=0.5 loud=true day=2026-05-01 at=2026-05-01T06:30:00Z color=green tags=alpha,gamma k=v1 pin=******", echo)
        values = sorted(td.text for td in self.css("tr.taskrun[data-task=tag] td:nth-child(2)"))
        self.assertEqual(values, ["alpha", "gamma"])
        outputs = self.d.find_element(By.CSS_SELECTOR, "tr.taskrun[data-task=file] .task-outputs").text
        self.assertIn("uploaded text", outputs)
        self.assertIn("upload", self.d.find_element(By.ID, "inputs").text)
        self.shot("execution-form")
        # The upload went into storage with the run; its waiting copy is gone.
        uploads = os.path.join(self.tmp, "state", "ui-uploads")
        for _ in range(100):
            if not os.listdir(uploads):
                break
            time.sleep(0.05)
        self.assertEqual(os.listdir(uploads), [])

    def test_a_running_execution_updates_without_a_reload(self):
        p = subprocess.Popen(
            [RUNNER, "run", os.path.join(self.flows, "slow.yaml"), "--storage", self.storage, "--env-file", self.env_file],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            found = None
            for _ in range(200):
                for d, _, files in os.walk(os.path.join(self.storage, "ui", "test", "slow")):
                    if "execution.json" in files:
                        found = os.path.basename(d)
                if found:
                    break
                time.sleep(0.05)
            self.assertIsNotNone(found, "the slow run wrote no record")
            self.open(f"/executions/{found}")
            self.assertIn(self.d.find_element(By.CSS_SELECTOR, "#summary-wrap .badge").text, ("CREATED", "RUNNING"))
            self.assertEqual(self.d.find_element(By.ID, "execution").get_attribute("data-ended"), "false")
            self.shot("live-running")
            self.d.execute_script("window.__sameDocument = 'yes'")
            self.wait(lambda d: d.find_element(By.CSS_SELECTOR, "#summary-wrap .badge").text == "SUCCESS", timeout=30, what="SUCCESS")
            self.collect()
            self.assertEqual(self.d.execute_script("return window.__sameDocument"), "yes", "the page was reloaded")
            self.assertGreater(int(self.d.find_element(By.ID, "execution").get_attribute("data-updates")), 1)
            self.assertIn("slow is done", " ".join(r.text for r in self.css("#log-rows tr")))
            nodes = {n.get_attribute("data-task"): n.get_attribute("data-state") for n in self.css(".topology .node")}
            self.assertEqual(nodes, {"first": "SUCCESS", "wait": "SUCCESS", "last": "SUCCESS"})
            self.shot("live-ended")
        finally:
            p.wait(30)

    def test_flows_show_source_diagnostics_at_their_line_and_topology(self):
        self.open("/flows")
        names = sorted(r.get_attribute("data-flow") for r in self.css("tr.flow"))
        self.assertEqual(names, sorted(n.removesuffix(".yaml") for n in FLOWS))
        broken = self.d.find_element(By.CSS_SELECTOR, "tr.flow[data-flow=broken]")
        self.assertIn("2 errors", broken.text)
        self.open("/flows/ui.test/broken")
        self.assertTrue(self.css("#not-runnable"))
        self.assertFalse(self.css("#run-form"))
        marked = self.css("#source tr.has-error")
        # The unknown property at its line, and the missing one at the task's.
        self.assertEqual([m.get_attribute("id") for m in marked], ["L4", "L6"])
        notes = [n.text for n in self.css("#source tr.note.error")]
        self.assertIn("message: must not be null", notes[0])
        self.assertIn('Unrecognized field "mesage"', notes[1])
        self.assertIn(":6:", self.d.find_element(By.ID, "notes").text)
        self.shot("flow-broken")
        self.open("/flows/ui.test/report")
        self.assertEqual([n.get_attribute("data-task") for n in self.css(".topology .node")], ["rows", "csv", "say", "child"])
        self.assertTrue(self.css("#source .y-expr"))

    def test_bad_input_is_said_and_the_rest_keeps_working(self):
        self.open("/executions/corruptRecord1")
        self.assertIn("its record is not a valid execution", self.d.find_element(By.ID, "record-problem").text)
        rid = self.ids["report"][0]
        uri = "kestra:///" + os.path.relpath(os.path.join(self.execution_dir(rid), "not-ion.ion"), self.storage)
        self.open(f"/executions/{rid}/file?uri=" + urllib.parse.quote(uri, safe=""))
        self.assertIn("this is not valid Ion: line 2", self.d.find_element(By.ID, "preview-problem").text)
        self.assertIn("{this is not ion", self.d.find_element(By.ID, "preview-text").text)
        self.open(f"/executions/{rid}/file?uri=" + urllib.parse.quote("kestra:///../../etc/passwd", safe=""))
        self.assertIn("leaves the storage folder", self.d.page_source)
        self.open("/executions/noSuchExecution")
        self.assertIn("has no execution noSuchExecution", self.d.page_source)
        # A missing storage folder: its own UI says so.
        other = subprocess.Popen(
            [RUNNER, "ui", "--port", "0", "--storage", os.path.join(self.tmp, "nowhere"), "--flows", self.flows],
            env=self.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        try:
            base = other.stdout.readline().split(": ", 1)[1].strip().rstrip("/")
            self.d.get(base + "/executions")
            self.assertIn("does not exist yet", self.d.find_element(By.ID, "no-storage").text)
        finally:
            other.terminate()
            other.wait(10)
        # Requests another site could make are refused.
        self.assertIn("answers only at", self.fetch(self.base + "/executions", headers={"Host": "evil.example:80"}))
        answer = self.fetch(self.base + "/flows/ui.test/slow/run", data=b"{}", method="POST")
        self.assertIn("only from runner ui's own pages", answer)
        # A FILE input is an upload of the UI, never a path on the server.
        form = json.dumps({"inputs": {"upload": "/etc/passwd"}}).encode()
        answer = self.fetch(self.base + "/flows/ui.test/form/run", data=form, method="POST",
                            headers={"x-runner-ui": "1", "Content-Type": "application/json"})
        self.assertIn("input `upload` is a FILE: upload the file", answer)
        self.assertNotIn("root:", answer)

    def test_a_ui_reachable_from_other_machines_requires_its_token(self):
        other = subprocess.Popen(
            [RUNNER, "ui", "--host", "0.0.0.0", "--port", "0", "--storage", self.storage, "--flows", self.flows,
             "--env-file", self.env_file],
            env=self.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        try:
            address = other.stdout.readline().split(": ", 1)[1].strip()
            self.assertIn("/?token=", address)
            base = address.split("/?token=")[0]
            self.assertIn("with its ?token=", self.fetch(base + "/executions"))
            self.assertIn("with its ?token=", self.fetch(base + "/executions?token=wrong"))
            # With the token, the browser gets a cookie and the pages.
            self.d.get(address)
            self.wait(lambda d: d.find_elements(By.ID, "executions"), what="the executions page")
            self.collect()
            self.assertNotIn("token=", self.d.current_url)
            self.d.get(base + "/flows")
            self.assertTrue(self.css("tr.flow"))
        finally:
            other.terminate()
            other.wait(10)

    def test_an_execution_of_a_thousand_task_runs_opens_fast(self):
        mid = self.ids["many"][0]
        self.open(f"/executions/{mid}")
        rows = len(self.css("tr.taskrun"))
        self.assertEqual(rows, 1001)
        self.assertEqual(len(self.css(".gantt-row")), 1001)
        self.assertIn("1000 runs", self.d.find_element(By.CSS_SELECTOR, ".node[data-task=item]").text)
        timing = self.d.execute_script(
            "const n = performance.getEntriesByType('navigation')[0];"
            "return {response: n.responseEnd, domContentLoaded: n.domContentLoadedEventEnd, load: n.loadEventEnd, bytes: n.transferSize};"
        )
        # Measured, not asserted: bench/RESULTS.md records it.
        timing["taskRuns"] = rows
        with open(os.path.join(ARTIFACTS, "timing-1000-task-runs.json"), "w") as f:
            json.dump(timing, f)
        print(f"\n1,000 task runs: response {timing['response']:.0f} ms, DOM ready {timing['domContentLoaded']:.0f} ms, loaded {timing['load']:.0f} ms, {timing['bytes']} bytes")
        self.shot("execution-1000")

    def test_zz_no_response_held_the_secret(self):
        # Last (unittest runs tests by name): every body the other tests received.
        self.collect()
        self.assertGreater(len(self.bodies), 20)
        for url, body in self.bodies:
            self.assert_no_secret(body, url)


if __name__ == "__main__":
    unittest.main(verbosity=2)
