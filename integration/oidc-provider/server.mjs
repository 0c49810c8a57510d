// A small OpenID Provider built on the certified `oidc-provider` library, for authbench's live
// integration: authorization-code flow with PKCE and a real sign-in form (userN / pw-N), refresh
// tokens that rotate on every use with the library's own reuse detection (a consumed refresh
// token presented again revokes the whole grant), RFC 7009 revocation, RFC 7662 introspection,
// and the userinfo endpoint as the protected resource. Everything protocol-related is the
// library's; this file only configures it, stores its models in memory without eviction, and
// serves the sign-in page.
//
// Environment: PORT (0: a free port; the chosen one is printed as "listening on http://…"),
// CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, AT_TTL (access token lifetime in s, default 6),
// RT_TTL (refresh token lifetime in s, default 3600), ROTATE ("0": no rotation, "default": the
// library's default rotation policy; run.sh leaves it unset: every refresh rotates).
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';

const env = (name, fallback) => process.env[name] ?? fallback;
const CLIENT_ID = env('CLIENT_ID', 'authbench');
const CLIENT_SECRET = env('CLIENT_SECRET', 'authbench-secret');
const REDIRECT_URI = env('REDIRECT_URI', 'http://127.0.0.1:3000/cb');
const AT_TTL = Number(env('AT_TTL', '6'));
const RT_TTL = Number(env('RT_TTL', '3600'));
const ROTATE = env('ROTATE', '1');

// The library's own memory adapter is an LRU of 1 000 entries: with a few hundred clients it
// would evict live grants and refresh tokens, and the run would measure the eviction. A server
// in production keeps them in a database; this keeps them in one Map until they expire.
const store = new Map(); // key -> { payload, expiresAt (ms) | undefined }
const byGrant = new Map(); // grantId -> Set of keys
const byUid = new Map(); // uid -> key
const byUserCode = new Map(); // userCode -> key

class MapAdapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    store.set(key, { payload, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : undefined });
    if (payload.grantId) {
      if (!byGrant.has(payload.grantId)) byGrant.set(payload.grantId, new Set());
      byGrant.get(payload.grantId).add(key);
    }
    if (payload.uid) byUid.set(payload.uid, key);
    if (payload.userCode) byUserCode.set(payload.userCode, key);
  }

  static live(key) {
    const entry = key && store.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
      store.delete(key);
      return undefined;
    }
    return entry.payload;
  }

  async find(id) {
    return MapAdapter.live(this.key(id));
  }

  async findByUid(uid) {
    return MapAdapter.live(byUid.get(uid));
  }

  async findByUserCode(userCode) {
    return MapAdapter.live(byUserCode.get(userCode));
  }

  async consume(id) {
    const payload = MapAdapter.live(this.key(id));
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    store.delete(this.key(id));
  }

  async revokeByGrantId(grantId) {
    for (const key of byGrant.get(grantId) ?? []) store.delete(key);
    byGrant.delete(grantId);
  }
}

// Expired entries go every 10 s, so a long storm does not grow the process without bound.
setInterval(() => {
  const now = Date.now();
  for (const [key, entry] of store) {
    if (entry.expiresAt !== undefined && entry.expiresAt <= now) store.delete(key);
  }
}, 10_000).unref();

const SCOPES = ['openid', 'offline_access'];

const configuration = {
  adapter: MapAdapter,
  clients: [
    {
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  cookies: { keys: [randomBytes(32).toString('hex')] },
  findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
  features: {
    devInteractions: { enabled: false },
    revocation: { enabled: true },
    introspection: { enabled: true },
  },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  // A first-party client: no consent page; the grant covers what the client asks for.
  loadExistingGrant: async (ctx) => {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope(SCOPES.join(' '));
    await grant.save();
    return grant;
  },
  // Every authorization-code exchange gets a refresh token (the library's default asks for
  // offline_access with a consent prompt), and every refresh rotates it (the default rotates a
  // confidential client's token only after 70 % of its life).
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  ...(ROTATE === 'default' ? {} : { rotateRefreshToken: ROTATE !== '0' }),
  pkce: { required: () => true },
  ttl: {
    AccessToken: AT_TTL,
    AuthorizationCode: 60,
    Grant: RT_TTL,
    IdToken: 3600,
    Interaction: 600,
    RefreshToken: RT_TTL,
    Session: RT_TTL,
  },
};

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(uid, message) {
  return `<!doctype html><html><head><title>Sign in</title></head><body>
<h1>Sign in</h1>${message ? `<p class="error">${escape(message)}</p>` : ''}
<form id="login" method="post" action="/interaction/${escape(uid)}/login">
  <input type="text" name="username" autocomplete="username">
  <input type="password" name="password" autocomplete="current-password">
  <button type="submit">Sign in</button>
</form></body></html>`;
}

function readForm(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      body += chunk;
      if (body.length > 10_000) reject(new Error('form too large'));
    });
    req.on('end', () => resolve(new URLSearchParams(body)));
    req.on('error', reject);
  });
}

// userN / pw-N, N in 0..99999: the users authbench logs in with by default.
function validCredentials(username, password) {
  const m = /^user(\d{1,5})$/.exec(username ?? '');
  return m !== null && password === `pw-${m[1]}`;
}

async function interaction(provider, req, res, url) {
  const m = /^\/interaction\/([^/]+)(\/login)?$/.exec(url.pathname);
  if (!m) return false;
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== m[1]) throw new Error('interaction mismatch');
  const send = (status, html) => {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(html);
  };
  if (!m[2] && req.method === 'GET') {
    send(200, page(details.uid));
    return true;
  }
  if (m[2] && req.method === 'POST') {
    const form = await readForm(req);
    const username = form.get('username');
    if (!validCredentials(username, form.get('password'))) {
      send(200, page(details.uid, 'Wrong user name or password.'));
      return true;
    }
    await provider.interactionFinished(req, res, { login: { accountId: username } }, {
      mergeWithLastSubmission: false,
    });
    return true;
  }
  send(405, 'method not allowed');
  return true;
}

const server = http.createServer();
server.listen(Number(env('PORT', '0')), '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, configuration);
  const callback = provider.callback();
  server.on('request', (req, res) => {
    const url = new URL(req.url, issuer);
    interaction(provider, req, res, url)
      .then((handled) => {
        if (!handled) callback(req, res);
      })
      .catch((err) => {
        if (!res.headersSent) {
          res.writeHead(400, { 'content-type': 'text/plain' });
        }
        res.end(`sign-in failed: ${err.message}`);
      });
  });
  console.log(`listening on ${issuer}`);
});
