"""The admin UI in a real browser (headless Chromium) on a stack of its own: sign in, reconnect
Salesforce through its OAuth page, create a sync with the wizard (a type error shown beside its
row, then fixed), dry run and first sync, the sync active with its counts and its jobs, a dead
letter replayed, the sync paused (an edit made meanwhile kept) and resumed (the edit then applied),
a person's decisions, signing out. A read-only token sees no button that changes anything; a form
posted without its CSRF token is refused; the pages work with JavaScript turned off, the live
progress falling back to a refresh. Each page's screenshot is taken (into docs/screenshots/ with
SFGR_UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, expect, sync_playwright

from devstack.stack import down, up
from tests.e2e.browser import SCREENSHOTS, chromium_executable
from tests.e2e.harness import Harness, issue_token, unique_email
from tests.e2e.test_operator_api import SYNCS_VIEW_S

pytestmark = pytest.mark.e2e
SECOND_LIST = "Gr7Sc"
WAIT_MS = 30_000
T = TypeVar("T")
expect.set_options(timeout=WAIT_MS)  # a machine under load answers slowly, never wrongly
VIOLATIONS: list[str] = []  # what the browser refused under the pages' Content-Security-Policy


@pytest.fixture(scope="module")
def stack_of_its_own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    """Its own stack: the journey disconnects Salesforce, which would cancel the shared demo sync."""
    state_dir = Path(tempfile.mkdtemp(prefix="sfgr-ui-"))
    stack = up(state_dir, env={"SFGR_LOG_LEVEL": "INFO"})
    harness = Harness(stack)
    try:
        yield harness
    finally:
        harness.close()
        shutil.copytree(stack.logs, tmp_path_factory.mktemp("ui-logs"), dirs_exist_ok=True)
        down(state_dir)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = chromium_executable()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


def new_page(browser: Browser, *, javascript: bool = True) -> tuple[BrowserContext, Page]:
    context = browser.new_context(java_script_enabled=javascript, viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)

    def policy_violation(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            VIOLATIONS.append(message.text)

    page.on("console", policy_violation)
    return context, page


def sign_in(page: Page, api: str, token: str) -> None:
    page.goto(f"{api}/ui/syncs")
    expect(page).to_have_url(f"{api}/ui/sign-in?reason=required")
    expect(page.get_by_role("status")).to_have_text("Sign in with an API token to continue.")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Integrations")).to_be_visible()


def shot(page: Page, name: str) -> None:
    assert VIOLATIONS == []  # the Content-Security-Policy allows only the api's own script and stylesheet
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def off_loop(function: Callable[..., T], *args: Any) -> T:
    """`function` on a thread of its own: Playwright's sync API keeps an event loop running on this
    one, and the harness's database helpers start their own."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args).result()


def query(e2e: Harness, sql: str, *args: Any) -> list[Any]:
    return off_loop(e2e.query, sql, *args)


def choose(page: Page, field: str, target: str) -> None:
    page.locator(f'select[name="map.{field}"]').select_option(target)


def test_an_admin_connects_creates_a_sync_runs_it_replays_a_dead_letter_and_reads_decisions(
    stack_of_its_own: Harness, browser: Browser
) -> None:
    e2e = stack_of_its_own
    api = e2e.stack.info["api"]
    context, page = new_page(browser)
    sign_in(page, api, e2e.stack.info["api_token"])
    expect(page.locator("#getresponse-health")).to_have_text("answering (2 lists visible)")
    expect(page.locator("#salesforce-health")).to_have_text("answering")
    shot(page, "integrations")

    # Disconnect Salesforce: the confirmation says what stops and what is kept.
    page.get_by_role("link", name="Disconnect Salesforce").click()
    expect(page.get_by_text("every sync that uses the org is cancelled")).to_be_visible()
    expect(page.get_by_text("Kept: the links between people")).to_be_visible()
    page.get_by_role("button", name="Disconnect").click()
    expect(page.get_by_role("status")).to_contain_text("Salesforce is disconnected")
    expect(page.get_by_text("No Salesforce org is connected")).to_be_visible()

    # Connect again through the OAuth redirect (the simulator's authorize page sends the browser back).
    page.get_by_label("Production (login.salesforce.com)").check()
    page.get_by_role("button", name="Connect Salesforce").click()
    expect(page.get_by_role("heading", name="Salesforce is connected")).to_be_visible()
    expect(page.locator("#inbound-1")).to_contain_text("/v1/salesforce/outbound-messages?key=")
    shot(page, "salesforce-connected")
    page.get_by_role("link", name="Continue to the integrations").click()
    expect(page.get_by_text("oauth web server")).to_be_visible()
    # The callback came back with the state alone; the connect is the signed-in token's.
    expect(page.locator("#salesforce-connected-by")).to_have_text("dev stack (authorized in Salesforce)")

    # People on both sides before the first sync: one in both, one on each side only.
    e2e.list_id = SECOND_LIST
    both, salesforce_only, getresponse_only = unique_email("both"), unique_email("sfonly"), unique_email("gronly")
    both_lead = e2e.sf_create("Lead", FirstName="Bo", LastName="Th", Email=both, Company="Both Inc", Phone="+48600100200")
    e2e.sf_create("Lead", FirstName="Sal", LastName="Force", Email=salesforce_only, Company="Only Inc")
    e2e.gr_subscribe(both, "Bo Th", cfPhn="+48600100300")  # a conflict for the dry run to report
    e2e.gr_subscribe(getresponse_only, "Get Response")

    # The wizard, step 1, with JavaScript off: every step but the live progress works without it.
    nojs_context, nojs = new_page(browser, javascript=False)
    sign_in(nojs, api, e2e.stack.info["api_token"])
    nojs.get_by_role("link", name="New sync").click()
    nojs.get_by_label("Name of the sync").fill("Second list <-> Leads and Contacts")
    nojs.get_by_label("GetResponse list").select_option(SECOND_LIST)
    nojs.get_by_label("with the lead source").select_option("GetResponse")
    nojs.get_by_label("Tick this checkbox field in Salesforce").select_option("GRdeleted__c")
    nojs.get_by_label("SOQL condition").fill("LeadSorce = 'Web'")  # a typo that only Salesforce finds
    shot(nojs, "new-sync-1")
    nojs.get_by_role("button", name="Next: match the fields").click()

    # Step 2: the grid, with one deliberate type error.
    expect(nojs.locator('select[name="map.Lead.Email"]')).to_have_value("email")
    for object_type in ("Lead", "Contact"):
        choose(nojs, f"{object_type}.FirstName", "name")
        choose(nojs, f"{object_type}.LastName", "name")
        choose(nojs, f"{object_type}.Phone", "cfPhn")
    choose(nojs, "Lead.Company", "cfCmp")
    choose(nojs, "Lead.Phone", "cfEmp")  # a number field: cannot hold phones
    nojs.get_by_role("button", name="Next: dry run").click()
    problem = nojs.locator("#row-Lead-Phone .problem")
    expect(problem).to_have_text(
        "Lead.Phone holds phone values, which GetResponse field 'employees' of type number cannot store: "
        "map it to a phone field or to a text field."
    )
    expect(nojs.locator("#row-Contact-Phone .problem")).to_have_count(0)
    shot(nojs, "new-sync-2-type-problem")
    assert query(e2e, "SELECT count(*) FROM syncs WHERE campaign_id = $1", SECOND_LIST)[0][0] == 0  # nothing saved
    choose(nojs, "Lead.Phone", "cfPhn")
    nojs.get_by_role("button", name="Next: dry run").click()

    # Salesforce refuses the filter: back at step 1, the problem beside the field, the grid kept.
    expect(nojs.locator("#problem-soql_filter").first).to_contain_text("LeadSorce")
    assert query(e2e, "SELECT count(*) FROM syncs WHERE campaign_id = $1", SECOND_LIST)[0][0] == 0
    nojs.get_by_label("SOQL condition").fill("")
    nojs.get_by_role("button", name="Next: match the fields").click()
    expect(nojs.locator('select[name="map.Lead.Phone"]')).to_have_value("cfPhn")
    nojs.get_by_role("button", name="Next: dry run").click()

    # Step 3: the dry run, followed by refreshing the page (no JavaScript here).
    expect(nojs.get_by_role("heading", name="step 3 of 3")).to_be_visible()
    nojs.get_by_role("button", name="Run a dry run").click()
    expect(nojs.get_by_role("button", name="Synchronize")).to_be_visible()
    counts = nojs.locator("#report-counts")
    expect(counts).to_contain_text("Matches")
    shot(nojs, "new-sync-3-dry-run")
    sync_url = nojs.get_by_role("link", name="The sync's page").get_attribute("href")
    assert sync_url is not None
    nojs_context.close()

    # Synchronize, with live progress (JavaScript on) until the sync is active.
    page.goto(api + sync_url)
    page.get_by_role("link", name="Dry run and first sync").click()
    page.get_by_role("button", name="Run a dry run").click()
    page.get_by_role("button", name="Synchronize").click()
    expect(page.locator("#job-state")).to_have_text("done")
    page.get_by_role("link", name="The sync's page").click()
    expect(page.locator("#sync-state")).to_have_text("active")
    # The Salesforce-only person waits, pending, until GetResponse's asynchronous create shows up.
    assert e2e.until(lambda: e2e.gr_active(salesforce_only, SECOND_LIST), within=15, what="created in GetResponse")
    e2e.until(lambda: page.reload() and page.locator("#linked").inner_text() == "3", within=15, what="3 linked")
    # The first sync's decisions, newest first, each person's linking to their whole log.
    expect(page.locator("#recent-decisions")).to_contain_text(both)
    shot(page, "sync-detail")
    page.get_by_role("link", name="Syncs").click()
    expect(page.get_by_role("cell", name="Second list <-> Leads and Contacts")).to_be_visible()
    shot(page, "syncs")

    # An action from the table's menu, confirmed by a page that says what happens.
    ours = page.get_by_role("row").filter(has_text="Second list <-> Leads and Contacts")
    ours.get_by_text("Actions").click()
    ours.get_by_role("link", name="Resync every person").click()
    expect(page.get_by_text("only values that differ are written")).to_be_visible()
    page.get_by_role("button", name="Resync every person").click()
    expect(page.get_by_role("status")).to_have_text("A resync of every person started.")

    # A dead letter (GetResponse refuses the address), replayed from the page once the cause is fixed.
    refused = unique_email("refused")
    assert e2e.gr.post("/_sim/config", json={"blacklisted_emails": [refused]}).status_code == 200
    try:
        lead_id = e2e.sf_create("Lead", FirstName="Black", LastName="Listed", Email=refused, Company="Nope Inc")
        letters, _ = e2e.until(
            lambda: query(e2e, "SELECT id FROM dead_letters WHERE key = $1 ORDER BY id", lead_id), within=30,
            what="a dead letter",
        )
    finally:
        e2e.gr.post("/_sim/config", json={"blacklisted_emails": []})
    page.goto(api + sync_url)
    expect(page.get_by_role("cell", name="getresponse 400 1002: Contact is blacklisted").first).to_be_visible()
    shot(page, "sync-detail-dead-letter")
    letter_id = letters[0][0]
    page.get_by_role("button", name=f"Replay dead letter {letter_id}").click()
    expect(page.get_by_role("status")).to_have_text(f"Dead letter {letter_id} replayed: its change is processed again.")
    e2e.until(lambda: e2e.gr_active(refused, SECOND_LIST), within=15, what="applied after the replay")
    expect(page.locator("#jobs")).to_contain_text("resync, reconcile")
    expect(page.locator("#jobs")).to_contain_text("first sync (dry run)")

    # Paused from the sync's page: a Salesforce edit made meanwhile is kept, then applied on resume.
    page.get_by_role("link", name="Pause the sync").click()
    expect(page.get_by_text("on resume they are applied in the order they came")).to_be_visible()
    page.get_by_role("button", name="Pause the sync").click()
    expect(page.locator("#sync-state")).to_have_text("paused")
    expect(page.get_by_role("link", name="Pause the sync")).to_have_count(0)
    time.sleep(SYNCS_VIEW_S + 0.2)  # every consumer sees the pause
    sync_id = sync_url.rstrip("/").rsplit("/", 1)[1]
    e2e.sf_update(both_lead, Company="Edited while paused")
    kept = "SELECT count(*) FROM paused_changes WHERE sync_id = $1::uuid"
    e2e.until(lambda: query(e2e, kept, sync_id)[0][0] >= 1, within=15, what="the edit kept")
    assert e2e.custom(e2e.gr_active(both, SECOND_LIST) or {}, "cfCmp") != "Edited while paused"
    page.get_by_role("link", name="Resume the sync").click()
    expect(page.get_by_text("applied, oldest first")).to_be_visible()
    page.get_by_role("button", name="Resume the sync").click()
    expect(page.get_by_role("status")).to_contain_text("The sync is resumed;")
    expect(page.locator("#sync-state")).to_have_text("active")
    e2e.until(
        lambda: e2e.custom(e2e.gr_active(both, SECOND_LIST) or {}, "cfCmp") == "Edited while paused",
        within=15, what="the edit applied after the resume",
    )

    # Why is this value what it is.
    page.get_by_role("link", name="Why is this value what it is").click()
    page.get_by_label("Email").fill(both)
    page.get_by_role("button", name="Look up").click()
    expect(page.locator("table.decisions tbody tr").first).to_be_visible()
    shot(page, "decisions")

    # Signing out: every page then asks to sign in again.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    page.goto(f"{api}/ui/syncs")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert page.request.get(f"{api}/ui/integrations", max_redirects=0).status == 303
    context.close()


def buttons(page: Page) -> list[str]:
    """The names of everything on the page that looks like an action."""
    found: list[Any] = page.locator("button, a.button, details.menu summary").all_inner_texts()
    return sorted(str(text).strip() for text in found)


def test_a_read_only_token_sees_no_button_that_changes_anything(stack_of_its_own: Harness, browser: Browser) -> None:
    e2e = stack_of_its_own
    api = e2e.stack.info["api"]
    context, page = new_page(browser)
    sign_in(page, api, off_loop(issue_token, e2e.stack.info["database_url"], "read"))
    assert buttons(page) == ["Sign out"]
    expect(page.get_by_role("link", name="New sync")).to_have_count(0)
    page.get_by_role("link", name="Syncs", exact=True).click()
    assert buttons(page) == ["Sign out"]
    page.get_by_role("link", name=query(e2e, "SELECT name FROM syncs ORDER BY created_at LIMIT 1")[0][0]).click()
    assert buttons(page) == ["Sign out"]
    # The forms refuse it too, whatever a page shows.
    csrf = page.locator('input[name="csrf"]').first.get_attribute("value")
    refused = page.request.post(f"{api}/ui/syncs/{e2e.sync_id}/cancel", form={"csrf": str(csrf)})
    assert refused.status == 403
    assert "needs the scope syncs:admin" in refused.text()
    context.close()


def test_a_forged_form_post_without_the_csrf_token_is_refused(stack_of_its_own: Harness, browser: Browser) -> None:
    e2e = stack_of_its_own
    api = e2e.stack.info["api"]
    context, page = new_page(browser)
    sign_in(page, api, e2e.stack.info["api_token"])
    for form in ({}, {"csrf": "forged"}):
        # The session cookie goes along, as it would from a page that tricks a signed-in browser.
        refused = page.request.post(f"{api}/ui/integrations/getresponse/disconnect", form=form)
        assert refused.status == 403
        assert "security token is missing or out of date" in refused.text()
    assert query(e2e, "SELECT state FROM connections WHERE kind = 'getresponse'")[0][0] == "connected"
    cookie = next(c for c in context.cookies() if c["name"] == "sfgr_ui")
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (True, "Strict", "/ui")
    context.close()


def test_every_input_has_a_label_and_the_keyboard_reaches_the_content_first(
    stack_of_its_own: Harness, browser: Browser
) -> None:
    e2e = stack_of_its_own
    api = e2e.stack.info["api"]
    context, page = new_page(browser)
    page.goto(f"{api}/ui/sign-in")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    sign_in(page, api, e2e.stack.info["api_token"])
    for path in ("/ui/integrations", "/ui/syncs", "/ui/syncs/new", f"/ui/syncs/{e2e.sync_id}", "/ui/lookup"):
        page.goto(api + path)
        unlabelled = page.evaluate(
            """[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
                 .filter(e => !e.closest('[aria-hidden=true]') && e.labels.length === 0 && !e.getAttribute('aria-label'))
                 .map(e => e.name)"""
        )
        assert unlabelled == [], f"{path}: inputs without a label: {unlabelled}"
    page.goto(f"{api}/ui/syncs/new")
    page.get_by_label("Name of the sync").focus()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"  # the focus ring is visible
    context.close()


def test_getresponse_is_disconnected_then_connected_with_an_api_key_its_errors_in_words(
    stack_of_its_own: Harness, browser: Browser
) -> None:
    e2e = stack_of_its_own
    api = e2e.stack.info["api"]
    context, page = new_page(browser, javascript=False)
    sign_in(page, api, e2e.stack.info["api_token"])
    page.get_by_role("link", name="Disconnect GetResponse").click()
    expect(page.get_by_text("every sync that uses the account is cancelled")).to_be_visible()
    page.get_by_role("button", name="Disconnect").click()
    expect(page.get_by_role("status")).to_contain_text("GetResponse is disconnected")

    page.get_by_label("API key").fill("not-the-key")
    page.get_by_label("API address").fill(e2e.stack.info["getresponse"])
    page.get_by_role("button", name="Connect GetResponse").click()
    expect(page.get_by_role("alert")).to_contain_text("GetResponse")
    assert query(e2e, "SELECT count(*) FROM connections WHERE kind = 'getresponse' AND state = 'connected'")[0][0] == 0

    page.get_by_label("API key").fill(e2e.stack.info["getresponse_api_key"])
    page.get_by_label("API address").fill(e2e.stack.info["getresponse"])
    page.get_by_role("button", name="Connect GetResponse").click()
    expect(page.get_by_role("heading", name="GetResponse is connected")).to_be_visible()
    expect(page.locator("#inbound-1")).to_contain_text("/v1/getresponse/webhooks?secret=")
    page.get_by_role("link", name="Continue to the integrations").click()
    expect(page.get_by_role("link", name="Disconnect GetResponse")).to_be_visible()
    context.close()
