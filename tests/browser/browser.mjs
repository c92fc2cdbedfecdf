// Opens the GraphiQL page in Debian's Chromium (headless, fresh profile, every host but
// 127.0.0.1 blocked), runs the first example tab through the UI, takes a screenshot of its
// answer, opens the Docs pane, and prints ONE line of JSON to stdout:
//
//   {"ok": bool, "error": string|null, "blocked": [url], "failed": [string],
//    "consoleErrors": [string], "tabs": [title], "result": string, "shownResult": string,
//    "docs": string, "pageText": string, "millis": {"launch", "editor", "result", "docs", "total"}}
//
// `result` is the whole answer in the result editor, `shownResult` the part on screen
// (the editor renders only the lines in view), `docs` the text of the Docs pane, and
// `pageText` the page's text when a step failed.
//
// Usage: node browser.mjs http://127.0.0.1:PORT/ SCREENSHOT.png
// Environment: CHROMIUM, the browser to drive (default /usr/bin/chromium).
//
// "ok" is true when every step finished; the caller (tests/it/browser.rs) checks the rest
// (nothing blocked, the seed data shown). The exit code is 0 whenever the report is
// printed, and non-zero only when the script cannot run at all. On a failed step the
// screenshot shows the page as it was.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { chromium } from 'playwright-core';

/** How long one step (page load, editor, query result, docs) may take. */
const STEP_TIMEOUT_MS = 30_000;
/** Text of the seed that the first example's answer must show. */
const SEED_TEXT = 'Kant Air Base';

const [url, screenshot] = process.argv.slice(2);
if (!url || !screenshot || process.argv.length > 4) {
  process.stderr.write('usage: node browser.mjs http://127.0.0.1:PORT/ SCREENSHOT.png\n');
  process.exit(2);
}
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';

const started = Date.now();
const millis = {};
const report = {
  ok: false,
  error: null,
  blocked: [],
  failed: [],
  consoleErrors: [],
  tabs: [],
  result: '',
  shownResult: '',
  docs: '',
  pageText: '',
  millis,
};

function describe(error) {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

// A fresh profile per run: GraphiQL keeps its tabs in localStorage, and a used profile
// would show those instead of the examples.
const profile = await mkdtemp(join(tmpdir(), 'kyrgyz-relations-browser-'));
let context;
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    viewport: { width: 1600, height: 900 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  millis.launch = Date.now() - started;

  // Only the server under test may be reached; anything else is recorded and refused.
  await context.route('**/*', (route) => {
    const requested = route.request().url();
    let host = null;
    try {
      host = new URL(requested).hostname;
    } catch {
      // Not a URL with a host: refused below like any outside URL.
    }
    if (host === '127.0.0.1') {
      return route.continue();
    }
    report.blocked.push(requested);
    return route.abort('blockedbyclient');
  });

  const page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (message) => {
    if (message.type() === 'error') report.consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => report.consoleErrors.push(describe(error)));
  page.on('requestfailed', (request) => {
    report.failed.push(`${request.url()}: ${request.failure()?.errorText ?? 'failed'}`);
  });
  page.on('response', (response) => {
    if (response.status() >= 400) report.failed.push(`${response.url()}: ${response.status()}`);
  });

  try {
    await page.goto(url, { waitUntil: 'load', timeout: STEP_TIMEOUT_MS });
    // Every script has run by the load event: without GraphiQL there is no editor to wait for.
    if (!(await page.evaluate(() => Boolean(window.GraphiQL)))) {
      throw new Error('GraphiQL did not load');
    }
    await page
      .locator('.graphiql-query-editor .CodeMirror')
      .first()
      .waitFor({ state: 'visible', timeout: STEP_TIMEOUT_MS });
    millis.editor = Date.now() - started;
    report.tabs = (await page.locator('.graphiql-tab').allInnerTexts()).map((title) =>
      title.trim(),
    );

    await page.locator('.graphiql-execute-button').click({ timeout: STEP_TIMEOUT_MS });
    // The result editor renders only the lines in view; its CodeMirror instance has all.
    const answer = await page.waitForFunction(
      (text) => {
        const editor = document.querySelector('.result-window .CodeMirror');
        const value = editor?.CodeMirror?.getValue() ?? '';
        return value.includes(text) && value;
      },
      SEED_TEXT,
      { timeout: STEP_TIMEOUT_MS },
    );
    report.result = await answer.jsonValue();
    report.shownResult = await page.locator('.result-window').innerText();
    millis.result = Date.now() - started;
    await page.screenshot({ path: screenshot });

    // The Docs pane reads the schema by introspection.
    await page
      .getByRole('button', { name: 'Show Documentation Explorer' })
      .click({ timeout: STEP_TIMEOUT_MS });
    const docs = page.locator('.graphiql-doc-explorer');
    await docs.getByText('Query', { exact: true }).first().waitFor({ timeout: STEP_TIMEOUT_MS });
    report.docs = (await docs.innerText()).trim();
    millis.docs = Date.now() - started;
    report.ok = true;
  } catch (error) {
    report.error = describe(error);
    report.pageText = await page
      .locator('body')
      .innerText()
      .catch(() => '');
    // The page as it was when the step failed.
    await page.screenshot({ path: screenshot }).catch(() => {});
  }
} catch (error) {
  report.error = `cannot drive ${executablePath}: ${describe(error)}`;
} finally {
  await context?.close().catch(() => {});
  await rm(profile, { recursive: true, force: true }).catch(() => {});
}
millis.total = Date.now() - started;

process.stdout.write(`${JSON.stringify(report)}\n`, () => process.exit(0));
