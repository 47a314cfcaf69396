#!/usr/bin/env node
/*
 * Drives @sentry/browser in headless Chromium for capture-client-events.sh.
 *
 * What: `node browser_app.cjs SCENARIO` starts Chromium ($CHROMIUM, default
 * /usr/bin/chromium) through playwright-core with a fresh profile, opens
 * http://localhost:47810/SCENARIO and waits until browser_page.js (the page's
 * scenario code) has flushed its events to $SENTRY_DSN.
 * Why: the browser SDK only runs in a browser; its payloads (request.url,
 * User-Agent header, stack frames of a minified-free bundle, web-vitals
 * measurements, ...) differ from every server SDK.
 * How: a small HTTP server of this process on localhost:$BROWSER_PAGE_PORT
 * (default 47810; a fixed port keeps URLs in the fixtures stable) serves the
 * HTML, the IIFE bundle of @sentry/browser at $SENTRY_BUNDLE (built by the
 * capture script from the npm package), browser_page.js, and two fake API
 * endpoints for fetch/xhr breadcrumbs and spans. The DSN (the capture server
 * on 127.0.0.1:<port>) is a different origin, so the SDK's envelope requests
 * are real cross-origin requests and the capture server has to answer them
 * with CORS headers as Sentry does. (Playwright request routing would avoid
 * the fixed port, but Chromium then treats the page as public and blocks its
 * requests to the loopback capture server: Local Network Access.)
 * playwright-core is resolved through NODE_PATH (the throwaway npm dir);
 * `npx playwright install` is not needed, Debian's chromium is used.
 */
'use strict';
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const SCENARIO = process.argv[2];
const PORT = Number(process.env.BROWSER_PAGE_PORT || 47810);
const ORIGIN = `http://localhost:${PORT}`;
const BUNDLE = process.env.SENTRY_BUNDLE;
const PAGE_JS = path.join(__dirname, 'browser_page.js');

function html(dsn) {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Checkout</title>
<script>window.SENTRY_DSN = ${JSON.stringify(dsn)};</script>
<script src="/static/sentry.bundle.js"></script>
</head>
<body>
<h1>Checkout</h1>
<button id="pay" type="button">Pay</button>
<script src="/static/app.js"></script>
</body>
</html>
`;
}

function serve(req, res, dsn) {
  const url = new URL(req.url, ORIGIN);
  const send = (status, type, body) => {
    res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
    res.end(body);
  };
  req.resume(); // ignore request bodies
  if (url.pathname === '/static/sentry.bundle.js') return send(200, 'application/javascript', fs.readFileSync(BUNDLE));
  if (url.pathname === '/static/app.js') return send(200, 'application/javascript', fs.readFileSync(PAGE_JS));
  if (url.pathname === '/api/rates') return send(200, 'application/json', '{"EUR":1.0}');
  if (url.pathname.startsWith('/api/')) return send(404, 'text/plain', 'not found');
  if (url.pathname === '/favicon.ico') return send(200, 'image/x-icon', '');
  return send(200, 'text/html; charset=utf-8', html(dsn));
}

(async () => {
  if (!SCENARIO || !BUNDLE || !process.env.SENTRY_DSN) throw new Error('usage: SENTRY_DSN=... SENTRY_BUNDLE=... browser_app.cjs SCENARIO');
  const server = http.createServer((req, res) => serve(req, res, process.env.SENTRY_DSN));
  await new Promise((resolve, reject) => server.once('error', reject).listen(PORT, 'localhost', resolve));
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'relay-client-events-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 720 },
    locale: 'en-US',
    timezoneId: 'UTC',
  });
  try {
    const page = context.pages()[0] || (await context.newPage());
    page.on('console', (m) => console.log(`[page ${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => console.log(`[page error] ${e.message}`));
    page.on('requestfailed', (r) => console.log(`[request failed] ${r.url()} ${r.failure() && r.failure().errorText}`));
    await page.goto(`${ORIGIN}/${SCENARIO}`);
    await page.waitForFunction(() => window.__scenarioDone || window.__scenarioError, null, { timeout: 60000 });
    const error = await page.evaluate(() => window.__scenarioError);
    if (error) throw new Error(`scenario failed in the page: ${error}`);
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
    server.close();
  }
})().catch((e) => { console.error(e); process.exit(1); });
