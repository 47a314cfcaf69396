#!/usr/bin/env node
/*
 * Tiny "app" that uses @sentry/node the way real code does.
 *
 * What: `node node_app.cjs SCENARIO` runs one scenario (see SCENARIOS) with
 * the SDK initialised from $SENTRY_DSN, flushes and exits.
 * Why: capture-client-events.sh points the DSN at a local capture server to
 * record real client payloads as fixtures for the normalization diff test.
 * How: one process per scenario so each DSN path prefix (= output file name)
 * receives only that scenario's envelopes. @sentry/node is resolved through
 * NODE_PATH (the throwaway npm dir). Fixed release/environment/serverName.
 */
'use strict';
const Sentry = require('@sentry/node');
const SCENARIO = process.argv[2];

Sentry.init({
  dsn: process.env.SENTRY_DSN,
  release: 'client-events@1.0.0',
  environment: 'fixtures',
  serverName: 'fixture-host',
  tracesSampleRate: 1.0,
  includeLocalVariables: true,
  // Without captureAllExceptions, local variables are only collected for
  // uncaught exceptions; apps that report caught errors turn this on.
  integrations: [Sentry.localVariablesIntegration({ captureAllExceptions: true })],
  sendClientReports: false,
  // v11 streams spans by default (span items, no transaction event). The
  // "transaction" scenario asks for the classic transaction event instead;
  // "spanstream" runs the same code with the default streaming lifecycle.
  traceLifecycle: SCENARIO === 'transaction' ? 'static' : 'stream',
});

// --- exception: nested calls with locals, error with a cause ---------------
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

// --- breadcrumb trail: manual crumbs + console integration -----------------
async function scenarioBreadcrumbs() {
  Sentry.addBreadcrumb({ category: 'navigation', data: { from: '/cart', to: '/checkout' } });
  Sentry.addBreadcrumb({ type: 'http', category: 'http',
    data: { url: 'https://api.example.com/rates', method: 'GET', status_code: 200 } });
  Sentry.addBreadcrumb({ type: 'query', category: 'db.query', message: 'SELECT * FROM orders WHERE id = $1' });
  Sentry.addBreadcrumb({ category: 'auth', message: 'user logged in', level: 'info' });
  console.log('cart has %d items', 3); // console integration -> breadcrumb
  console.warn('stock low for sku', 'SKU-1');
  Sentry.captureException(new Error('checkout failed for order 4711'));
}

// --- transaction with nested child spans and measurements ------------------
async function scenarioTransaction() {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
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

// --- invalid values an app might send by mistake ---------------------------
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

// --- user feedback ----------------------------------------------------------
async function scenarioFeedback() {
  const eventId = Sentry.captureMessage('Checkout button does nothing', 'error');
  Sentry.captureFeedback({
    message: 'I clicked "Pay" and nothing happened.',
    name: 'Jane Doe',
    email: 'jane@example.com',
    url: 'https://shop.example.com/checkout',
    associatedEventId: eventId,
  });
}

// --- unhandled: uncaught exception, reported by onUncaughtException --------
async function scenarioUnhandled() {
  setTimeout(() => handleRequest('/orders/4711'), 0); // SDK flushes and exits(1)
  await new Promise((r) => setTimeout(r, 10000));
}

const SCENARIOS = {
  exception: scenarioException,
  message: scenarioMessage,
  breadcrumbs: scenarioBreadcrumbs,
  transaction: scenarioTransaction,
  spanstream: scenarioTransaction,
  invalid: scenarioInvalid,
  feedback: scenarioFeedback,
  unhandled: scenarioUnhandled,
};

(async () => {
  const run = SCENARIOS[SCENARIO];
  if (!run) throw new Error(`unknown scenario ${SCENARIO}`);
  // The local-variables integration attaches its debugger asynchronously;
  // errors thrown before it is ready carry no `vars`.
  await new Promise((r) => setTimeout(r, 500));
  await run();
  if (!(await Sentry.close(10000))) throw new Error('Sentry.close timed out');
})().catch((e) => { console.error(e); process.exit(1); });
