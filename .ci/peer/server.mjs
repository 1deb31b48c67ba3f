// A baseline for .ci/bench, not part of the app: what people would otherwise pick, Descope's Node
// sample done the Express way. The session lives in two cookies that hold Descope's JWTs (DS, the
// session token, and DSR, the refresh token), `validateAndRefreshSession` gates every private page,
// and pages are plain template strings. It renders the same content as the app's `/` and
// `/profile`, so the benchmark compares like with like:
//
//   GET  /                 the public page; with cookies, its header says who is signed in, which
//                          runs the same gate (as the app's header does)
//   GET  /profile          gated: an invalid session gets a 303 to /sign-in; the person's details
//                          (the JWT carries no name, email or phone) come from Descope's `me`, kept
//                          in memory per person for an hour, as the app keeps them in its session
//                          for USER_DETAILS_MAX_AGE_MINUTES: neither asks Descope on every view
//   GET  /sign-in, POST /sign-in, GET /verify, POST /verify   an email one-time code; verify sets
//                          the two cookies
//   POST /sign-out, POST /sign-out-everywhere
//   GET  /healthz
//
// Settings (environment): DESCOPE_PROJECT_ID and DESCOPE_BASE_URL (a loopback Descope emulator, as
// the SDK's `baseUrl`), PEER_ADDR (default 127.0.0.1:3600). It serves plain http on loopback only,
// so its cookies are not `Secure`.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import DescopeClient from '@descope/node-sdk';
import cookieParser from 'cookie-parser';
import express from 'express';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

function setting(name, fallback) {
  const value = (process.env[name] ?? '').trim() || fallback;
  if (!value) throw new Error(`${name} is not set (the bench sets it from the emulator's ready line)`);
  return value;
}

const projectId = setting('DESCOPE_PROJECT_ID');
const baseUrl = setting('DESCOPE_BASE_URL');
if (!LOOPBACK_HOSTS.has(new URL(baseUrl).hostname)) {
  throw new Error(`DESCOPE_BASE_URL must be a loopback address, not ${baseUrl}: this is a benchmark peer`);
}
const address = new URL(`http://${setting('PEER_ADDR', '127.0.0.1:3600')}`);
if (!LOOPBACK_HOSTS.has(address.hostname)) {
  throw new Error(`PEER_ADDR must be a loopback address, not ${address.host}`);
}

const descope = DescopeClient({ projectId, baseUrl });
const { SessionTokenCookieName: SESSION, RefreshTokenCookieName: REFRESH } = DescopeClient;
// The app's own stylesheet, so the peer looks like the app when opened in a browser.
const stylesheet = readFileSync(new URL('../../style/main.css', import.meta.url));

// Claims Descope sets itself; whatever else a session token carries is a custom claim.
const STANDARD_CLAIMS = new Set([
  'sub', 'dsub', 'iss', 'iat', 'exp', 'nbf', 'aud', 'amr', 'su', 'drn', 'roles', 'permissions',
  'tenants', 'dct', 'jti',
]);

const escapeHtml = (value) =>
  String(value).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

const utc = (unixSeconds) => `${new Date(unixSeconds * 1000).toISOString().slice(0, 19).replace('T', ' ')} UTC`;

/** A login id with its local part hidden, as the app's header shows it. */
const masked = (loginId) => {
  const at = loginId.indexOf('@');
  return at > 0 ? `${loginId[0]}***${loginId.slice(at)}` : `***${loginId.slice(-2)}`;
};

/** The start of a user id: what the public page's header can name without asking `me`. */
const shortId = (userId) => `${userId.slice(0, 8)}…`;

// The page's script: a submit button says it is working and takes no second click, the small
// progressive enhancement the app's sign-out island gives its buttons.
const ENHANCE = `
document.addEventListener('submit', (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement)) return;
  const button = form.querySelector('button[type="submit"]');
  if (!button) return;
  if (button.getAttribute('aria-busy') === 'true') {
    event.preventDefault();
    return;
  }
  button.setAttribute('aria-busy', 'true');
  button.dataset.label = button.textContent;
  button.textContent = button.dataset.pending || 'Working…';
});
window.addEventListener('pageshow', (event) => {
  if (!event.persisted) return;
  for (const button of document.querySelectorAll('button[aria-busy="true"]')) {
    button.setAttribute('aria-busy', 'false');
    if (button.dataset.label) button.textContent = button.dataset.label;
  }
});
document.addEventListener('keydown', (event) => {
  if (event.key !== 'Escape') return;
  const alert = document.querySelector('[role="alert"]:not(:empty)');
  if (alert) alert.textContent = '';
});
for (const link of document.querySelectorAll('nav a')) {
  if (link.getAttribute('href') === location.pathname) link.setAttribute('aria-current', 'page');
}
for (const time of document.querySelectorAll('time[datetime]')) {
  const when = new Date(time.getAttribute('datetime'));
  if (!Number.isNaN(when.getTime())) time.title = when.toLocaleString();
}
`;

// The app's pages carry in their head the loader of their browser half, about 1.2 KB more than the
// script above. This comment makes up the difference, so that the two public pages put the same
// bytes on the wire (3 757 each, the app's release build); .ci/bench prints both sizes.
const BALLAST = `<!--${' '.repeat(1044)}-->`;

function page(res, { title, signedInAs, body }) {
  const nonce = res.locals.nonce;
  const nav = signedInAs
    ? `<nav aria-label="Main"><span class="signed-in-as">Signed in as ${escapeHtml(signedInAs)}</span>` +
      '<a href="/profile">Profile</a><form action="/sign-out" method="post" class="inline">' +
      '<button type="submit" class="link-button">Sign out</button></form></nav>'
    : '<nav aria-label="Main"><a href="/sign-in">Sign up or sign in</a></nav>';
  return (
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    '<meta name="referrer" content="same-origin">' +
    `<link rel="stylesheet" href="/style.css"><title>${escapeHtml(title)} · Descope OTP (Node peer)</title>` +
    `<script type="module" nonce="${nonce}">${ENHANCE}</script>${BALLAST}</head><body>` +
    '<a href="#main" class="skip-link">Skip to content</a>' +
    `<header class="site-header"><a href="/" class="brand">Descope OTP</a>${nav}` +
    `<a href="${escapeHtml(baseUrl)}/outbox" target="_blank" rel="noopener" class="badge">Local emulator · outbox</a></header>` +
    `<main id="main">${body}</main></body></html>`
  );
}

/** How long a person's details are kept before `me` is asked again (the app's default). */
const DETAILS_MAX_AGE_MS = 60 * 60 * 1000;
const details = new Map();

/** The person's details from Descope's `me`, kept per user for `DETAILS_MAX_AGE_MS`. */
async function userDetails(userId, refreshJwt) {
  const kept = details.get(userId);
  if (kept && Date.now() - kept.at < DETAILS_MAX_AGE_MS) return { ok: true, data: kept.user };
  const me = await descope.me(refreshJwt);
  if (me.ok) details.set(userId, { at: Date.now(), user: me.data });
  return me;
}

/** Validates the cookies' session, refreshing it when the session token has expired. */
async function gate(req, res) {
  const sessionJwt = req.cookies[SESSION];
  const refreshJwt = req.cookies[REFRESH];
  if (!sessionJwt && !refreshJwt) return null;
  try {
    const info = await descope.validateAndRefreshSession(sessionJwt, refreshJwt);
    if (info.jwt !== sessionJwt) setSessionCookies(res, info.jwt, info.refreshJwt);
    return { ...info, refreshJwt: info.refreshJwt || refreshJwt };
  } catch {
    return null;
  }
}

function setSessionCookies(res, sessionJwt, refreshJwt) {
  const options = { httpOnly: true, sameSite: 'strict', path: '/' };
  res.cookie(SESSION, sessionJwt, options);
  if (refreshJwt) res.cookie(REFRESH, refreshJwt, options);
}

function clearSessionCookies(res) {
  res.clearCookie(SESSION, { path: '/' });
  res.clearCookie(REFRESH, { path: '/' });
}

const app = express();
// Neither header is in the app's answers; left on, Express would also hash every page for its ETag.
app.disable('x-powered-by');
app.disable('etag');
// Before every middleware, as the app's probe sits outside its layers: the bench's floor.
app.get('/healthz', (req, res) => res.type('text').send('ok'));
app.use(cookieParser());
app.use(express.urlencoded({ extended: false, limit: '4kb' }));
// The app's response headers, with a fresh nonce per page for the inline script.
app.use((req, res, next) => {
  const nonce = randomBytes(16).toString('base64url');
  res.locals.nonce = nonce;
  res.set({
    'content-security-policy':
      `default-src 'none'; script-src 'self' 'nonce-${nonce}'; style-src 'self'; img-src 'self' data:; ` +
      "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'same-origin',
    'cross-origin-opener-policy': 'same-origin',
    'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=()',
  });
  next();
});

app.get('/style.css', (req, res) => res.type('css').send(stylesheet));

app.get('/', async (req, res) => {
  const session = await gate(req, res);
  const body =
    '<section class="card"><h1>Passwordless sign-in with one-time codes</h1>' +
    '<p>This app shows how a server signs people in with Descope one-time codes: it asks Descope to send a code by ' +
    'email, text message, voice call or WhatsApp, verifies the code, and keeps the session in two cookies that ' +
    'hold Descope&#39;s tokens, checked on every request with the Node SDK.</p>' +
    '<p class="actions"><a href="/sign-in" class="button">Sign up or sign in</a></p><ul class="links">' +
    '<li><a href="/sign-in">Create an account</a> with a name and a second contact</li>' +
    '<li><a href="/sign-in">Sign in</a> to an existing account</li>' +
    '<li><a href="/profile">Your profile</a> (signed-in only)</li></ul></section>';
  res.send(page(res, { title: 'Passwordless sign-in with one-time codes', signedInAs: session && shortId(session.token.sub), body }));
});

app.get('/profile', async (req, res) => {
  const session = await gate(req, res);
  if (!session) return res.redirect(303, '/sign-in?next=/profile');
  const me = await userDetails(session.token.sub, session.refreshJwt);
  if (!me.ok) {
    if (me.code === 401) {
      clearSessionCookies(res);
      return res.redirect(303, '/sign-in?next=/profile');
    }
    return res.status(502).send(page(res, {
      title: 'Your profile',
      body: `<section class="card"><h1>Your profile</h1><p class="error" role="alert">Descope did not answer (${escapeHtml(me.code)}); try again.</p></section>`,
    }));
  }
  const user = me.data;
  const { token } = session;
  const verified = (flag) => (flag ? 'verified' : 'not verified');
  const claims = Object.entries(token).filter(([name]) => !STANDARD_CLAIMS.has(name)).sort();
  const claimsHtml = claims.length
    ? '<h2>Custom claims</h2><dl class="claims">' +
      claims.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd><code>${escapeHtml(JSON.stringify(v))}</code></dd>`).join('') +
      '</dl>'
    : '';
  const body =
    `<section class="card"><h1>${user.name ? `Hello, ${escapeHtml(user.name)}` : 'Your profile'}</h1><dl class="details">` +
    `<dt>Name</dt><dd>${escapeHtml(user.name || '—')}</dd>` +
    `<dt>User id</dt><dd><code>${escapeHtml(user.userId)}</code></dd>` +
    `<dt>Login ids</dt><dd><ul class="plain">${(user.loginIds || []).map((l) => `<li>${escapeHtml(l)}</li>`).join('')}</ul></dd>` +
    `<dt>Email</dt><dd>${user.email ? `${escapeHtml(user.email)} (${verified(user.verifiedEmail)})` : '—'}</dd>` +
    `<dt>Phone</dt><dd>${user.phone ? `${escapeHtml(user.phone)} (${verified(user.verifiedPhone)})` : '—'}</dd>` +
    `<dt>Signed in with</dt><dd>${escapeHtml((token.amr || []).join(', '))}${token.su ? ' · stepped up' : ''}</dd>` +
    `<dt>Session token expires</dt><dd><time datetime="${new Date(token.exp * 1000).toISOString()}">${utc(token.exp)}</time> (renewed automatically)</dd>` +
    `</dl>${claimsHtml}<div role="alert" aria-live="assertive" class="error-slot"></div><div class="actions">` +
    '<form action="/sign-out" method="post"><button type="submit" class="button" data-pending="Signing out…">Sign out</button></form>' +
    '<form action="/sign-out-everywhere" method="post"><button type="submit" class="button secondary" data-pending="Signing out…">Sign out everywhere</button></form>' +
    '</div></section>';
  res.send(page(res, { title: 'Your profile', signedInAs: user.loginIds?.[0] && masked(user.loginIds[0]), body }));
});

const form = (action, fields, label, error) =>
  `<section class="card"><form action="${action}" method="post">${fields}` +
  `<div role="alert" class="error-slot">${error ? `<p class="error">${escapeHtml(error)}</p>` : ''}</div>` +
  `<button type="submit" class="button">${label}</button></form></section>`;

const signInPage = (res, error, status = 200) =>
  res.status(status).send(page(res, {
    title: 'Sign in',
    body: form('/sign-in', '<label>Email <input name="login_id" type="email" required autocomplete="email"></label>', 'Send me a code', error),
  }));

const verifyPage = (res, loginId, error, status = 200) =>
  res.status(status).send(page(res, {
    title: 'Enter your code',
    body: form(
      '/verify',
      `<input type="hidden" name="login_id" value="${escapeHtml(loginId)}">` +
        '<label>Code <input name="code" inputmode="numeric" autocomplete="one-time-code" required></label>',
      'Verify',
      error,
    ),
  }));

app.get('/sign-in', (req, res) => signInPage(res));

app.post('/sign-in', async (req, res) => {
  const loginId = String(req.body?.login_id ?? '').trim();
  if (!loginId) return signInPage(res, 'Enter your email address.', 400);
  const sent = await descope.otp.signUpOrIn.email(loginId);
  if (!sent.ok) return signInPage(res, sent.error?.errorMessage || 'Descope refused to send a code.', 400);
  res.redirect(303, `/verify?login_id=${encodeURIComponent(loginId)}`);
});

app.get('/verify', (req, res) => verifyPage(res, String(req.query.login_id ?? '')));

app.post('/verify', async (req, res) => {
  const loginId = String(req.body?.login_id ?? '').trim();
  const code = String(req.body?.code ?? '').trim();
  if (!loginId || !code) return verifyPage(res, loginId, 'Enter the code we sent you.', 400);
  const verified = await descope.otp.verify.email(loginId, code);
  if (!verified.ok) return verifyPage(res, loginId, verified.error?.errorMessage || 'That code did not work.', 400);
  setSessionCookies(res, verified.data.sessionJwt, verified.data.refreshJwt);
  res.redirect(303, '/profile');
});

for (const [path, signOut] of [
  ['/sign-out', (jwt) => descope.logout(jwt)],
  ['/sign-out-everywhere', (jwt) => descope.logoutAll(jwt)],
]) {
  app.post(path, async (req, res) => {
    const refreshJwt = req.cookies[REFRESH];
    if (refreshJwt) await signOut(refreshJwt);
    clearSessionCookies(res);
    res.redirect(303, '/');
  });
}

// Descope out of reach is the one outage here; everything else above answers 4xx or a page.
app.use((err, req, res, next) => {
  if (res.headersSent) return next(err);
  console.error(err);
  res.status(502).type('text').send('Descope is out of reach; try again.');
});

const server = app.listen(Number(address.port), address.hostname, () => {
  console.log(`peer ready: http://${address.host}`);
});
server.keepAliveTimeout = 65_000;
