/*
 * Tiny "web app" that uses @sentry/browser the way real pages do.
 *
 * What: runs in headless Chromium on the page that browser_app.cjs serves
 * (http://localhost:47810/<scenario>). It initialises the SDK (global
 * `Sentry` of the IIFE bundle built from the npm package) with the DSN that
 * the driver put into `window.SENTRY_DSN`, runs the scenario named by the
 * page path, flushes and sets `window.__scenarioDone` (or
 * `window.__scenarioError`) for the driver to wait on.
 * Why: capture-client-events.sh points the DSN at a local capture server to
 * record real client payloads as fixtures for the normalization diff test.
 * How: one page load (and one fresh browser profile) per scenario, so each DSN
 * path prefix (= output file name) receives only that scenario's envelopes.
 * Fixed release/environment; the browser SDK has no server_name.
 */
'use strict';
(function () {
  const SCENARIO = window.location.pathname.replace(/^\//, '');
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  // Classic transaction events for the two tracing scenarios; v11's default
  // would stream span items instead (like @sentry/node's "spanstream").
  const tracing = SCENARIO === 'pageload' || SCENARIO === 'transaction';

  Sentry.init({
    dsn: window.SENTRY_DSN,
    release: 'client-events@1.0.0',
    environment: 'fixtures',
    tracesSampleRate: 1.0,
    sendClientReports: false,
    traceLifecycle: tracing ? 'static' : 'stream',
    // Only the pageload scenario measures the page itself; the manual
    // "transaction" scenario must not run inside a pageload span.
    integrations: SCENARIO === 'pageload' ? [Sentry.browserTracingIntegration({ idleTimeout: 500 })] : [],
  });

  // --- exception: nested calls, error with a cause ---------------------------
  function parseAmount(raw) {
    const multiplier = 100;
    const n = Number.parseInt(raw, 10);
    if (Number.isNaN(n)) throw new TypeError(`not a number: ${raw}`);
    return n * multiplier;
  }
  function loadOrder(orderId, payload) {
    const items = payload.items;
    try {
      return items.reduce((sum, i) => sum + parseAmount(i.amount), 0);
    } catch (e) {
      throw new Error(`order ${orderId} has a bad amount`, { cause: e });
    }
  }
  function handleRequest(path) {
    const payload = { items: [{ amount: '12' }, { amount: 'twelve' }] };
    const orderId = 4711;
    return loadOrder(orderId, payload);
  }

  async function scenarioException() {
    try {
      handleRequest('/orders/4711');
    } catch (e) {
      Sentry.captureException(e);
    }
  }

  // --- message with extra/tags/user/contexts ---------------------------------
  async function scenarioMessage() {
    Sentry.setTag('feature', 'checkout');
    Sentry.setTag('customer.tier', 'gold');
    Sentry.setExtra('cart', { items: 3, currency: 'EUR', coupons: ['WINTER'] });
    Sentry.setExtra('retry_count', 2);
    Sentry.setUser({ id: 'user-42', email: 'jane@example.com', username: 'jane', ip_address: '{{auto}}' });
    Sentry.setContext('payment', { provider: 'acme-pay', attempt: 2, amount: 19.99 });
    Sentry.captureMessage('Payment provider slow to respond', 'warning');
  }

  // --- breadcrumbs: manual crumbs + the automatic ones (console, fetch, xhr,
  // ui clicks, history navigation) -------------------------------------------
  async function scenarioBreadcrumbs() {
    Sentry.addBreadcrumb({ category: 'auth', message: 'user logged in', level: 'info' });
    Sentry.addBreadcrumb({ type: 'query', category: 'db.query', message: 'SELECT * FROM orders WHERE id = $1' });
    history.pushState({}, '', '/checkout'); // navigation crumb
    console.log('cart has %d items', 3); // console crumbs
    console.warn('stock low for sku', 'SKU-1');
    await fetch('/api/rates?currency=EUR', { method: 'POST', body: '{}' }); // fetch crumb (200)
    await fetch('/api/missing'); // fetch crumb (404)
    await new Promise((resolve) => { // xhr crumb
      const xhr = new XMLHttpRequest();
      xhr.open('GET', '/api/rates');
      xhr.onloadend = resolve;
      xhr.send();
    });
    document.getElementById('pay').click(); // ui.click crumb
    await sleep(50);
    history.pushState({}, '', '/breadcrumbs');
    Sentry.captureException(new Error('checkout failed for order 4711'));
  }

  // --- pageload: browserTracingIntegration's automatic transaction -----------
  async function scenarioPageload() {
    await fetch('/api/rates'); // http.client span + resource spans of the page
    // The idle pageload span ends idleTimeout ms after the last child span.
    await sleep(2000);
  }

  // --- transaction: manual spans with measurements ---------------------------
  async function scenarioTransaction() {
    await Sentry.startSpan({ name: 'POST /checkout', op: 'http.server', attributes: { 'http.request.method': 'POST' } },
      async (root) => {
        Sentry.setTag('feature', 'checkout');
        await Sentry.startSpan({ name: 'load cart', op: 'db' }, async () => {
          await Sentry.startSpan({ name: 'SELECT * FROM cart WHERE user_id = $1', op: 'db.query',
            attributes: { 'db.system': 'postgresql' } }, () => sleep(2));
        });
        await Sentry.startSpan({ name: 'POST https://pay.example.com/charge', op: 'http.client' }, () => sleep(3));
        await Sentry.startSpan({ name: 'checkout.html', op: 'template.render' }, () => sleep(1));
        Sentry.setMeasurement('ttfb', 12.5, 'millisecond');
        Sentry.setMeasurement('cart.items', 3);
        Sentry.setMeasurement('payload.size', 2048, 'byte');
        root.setStatus({ code: 1 });
      });
  }

  // --- invalid values a page might send by mistake ---------------------------
  async function scenarioInvalid() {
    Sentry.setTag('count', 42); // non-string tag values
    Sentry.setTag('enabled', true);
    Sentry.setTag('nothing', null);
    Sentry.setTag('long', 'v'.repeat(300));
    Sentry.setTag('k'.repeat(250), 'long key');
    Sentry.setExtra('huge', 'x'.repeat(20 * 1024)); // 20 KB string
    Sentry.setExtra('nested', { a: { b: { c: { d: { e: { f: 'deep' } } } } } });
    Sentry.setUser({ id: 123, email: 'not-an-email', ip_address: 'not-an-ip', username: '' });
    Sentry.setContext('os', 'linux'); // context that is not an object
    Sentry.captureMessage('x'.repeat(9000), 'critical'); // unknown level, overlong message
  }

  // --- user feedback -----------------------------------------------------------
  async function scenarioFeedback() {
    const eventId = Sentry.captureMessage('Checkout button does nothing', 'error');
    Sentry.captureFeedback({
      message: 'I clicked "Pay" and nothing happened.',
      name: 'Jane Doe',
      email: 'jane@example.com',
      associatedEventId: eventId,
    });
  }

  // --- unhandled: uncaught error and unhandled rejection (globalHandlers) ------
  async function scenarioUnhandled() {
    setTimeout(() => handleRequest('/orders/4711'), 0); // window.onerror
    await sleep(200);
    Promise.reject(new RangeError('quantity must be positive')); // onunhandledrejection
    await sleep(200);
  }

  const SCENARIOS = {
    exception: scenarioException,
    message: scenarioMessage,
    breadcrumbs: scenarioBreadcrumbs,
    pageload: scenarioPageload,
    transaction: scenarioTransaction,
    invalid: scenarioInvalid,
    feedback: scenarioFeedback,
    unhandled: scenarioUnhandled,
  };

  (async () => {
    const run = SCENARIOS[SCENARIO];
    if (!run) throw new Error(`unknown scenario ${SCENARIO}`);
    await run();
    if (!(await Sentry.flush(10000))) throw new Error('Sentry.flush timed out');
    window.__scenarioDone = true;
  })().catch((e) => { window.__scenarioError = String(e && e.stack || e); });
})();
