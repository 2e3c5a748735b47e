// A real, OpenID Certified authorization server (panva/oidc-provider) for connwatch's interop
// tests, on 127.0.0.1 only. Test-only: it signs one fixed user in and grants everything without
// a form. Prints "ready <issuer>" on stdout once listening; every other log goes to stderr.
//
// Enabled: device flow (with an `interval`, which oidc-provider leaves out), refresh-token
// rotation on every use (a rotated-out refresh token is invalid_grant and kills the grant),
// revocation (RFC 7009), JWT access tokens for a default resource, PKCE S256 for the native
// client with a loopback redirect at /callback on any port (RFC 8252 §7.3), and a public client
// whose only redirect is https://localhost/callback (paste-back).
// Test-only routes under /test/: POST /test/revoke-grants revokes every grant (the user
// changed their password); GET /test/introspect is the resource endpoint Dovecot's oauth2
// passdb asks about each token (introspection_mode = auth): it verifies the JWT access token
// (signature by the IdP's JWKS, audience, expiry, the `mail` scope, issued after the last
// revocation) and answers 200 {"active": …} — a 401 there would read as a temporary failure.
import http from 'node:http';
import Provider from 'oidc-provider';
// jose comes with oidc-provider (same lock file); it verifies the IdP's own JWTs here.
import { createRemoteJWKSet, jwtVerify } from 'jose';

const log = (...a) => process.stderr.write(a.join(' ') + '\n');
console.log = log;
console.info = log;
console.warn = log;

const USER = 'alice';
const RESOURCE = 'https://api.example/';
const grants = new Set();
// Tokens issued before this instant (ms) belong to revoked grants.
let revokedAt = 0;

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'connwatch',
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
    response_types: ['code'],
    redirect_uris: ['http://127.0.0.1/callback'],
  }, {
    // A registration whose only redirect is https://localhost/… (as the well-known public
    // clients terminal mail users borrow): nothing on this machine serves it, so the address
    // is pasted back. `web`: oidc-provider refuses https://localhost for a `native` client.
    client_id: 'connwatch-paste',
    application_type: 'web',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: ['https://localhost/callback'],
  }],
  scopes: ['openid', 'offline_access', 'api:read', 'mail'],
  claims: { openid: ['sub'], email: ['email'] },
  pkce: { required: () => true },
  rotateRefreshToken: () => true,
  features: {
    devInteractions: { enabled: false },
    deviceFlow: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'api:read mail',
        audience: RESOURCE,
        // ACCESS_TOKEN_TTL: short-lived tokens, for the unattended-refresh test of `watch`.
        accessTokenTTL: Number(process.env.ACCESS_TOKEN_TTL || 3600),
        accessTokenFormat: 'jwt',
      }),
    },
  },
  findAccount: (ctx, id) => ({
    accountId: id,
    claims: () => ({ sub: id, email: `${id}@example.test` }),
  }),
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  ttl: { DeviceCode: 600, Interaction: 600, Session: 3600, Grant: 86400, RefreshToken: 86400 },
});

// RFC 8628 says clients poll every 5 s without an interval; say 1 s so tests stay quick.
provider.use(async (ctx, next) => {
  await next();
  if (ctx.path === '/device/auth' && ctx.status === 200 && ctx.body && typeof ctx.body === 'object') {
    ctx.body.interval = 1;
  }
});

for (const ev of ['grant.saved', 'refresh_token.saved', 'access_token.saved']) {
  provider.on(ev, (t) => { if (t && (t.grantId || t.jti)) grants.add(t.grantId || t.jti); });
}
provider.on('server_error', (ctx, err) => log('server_error', err && err.stack));

// The headless user: signs in as USER and grants whatever is asked, offline_access included.
async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, session } = details;
  if (prompt.name === 'login') {
    await provider.interactionFinished(req, res, { login: { accountId: USER } }, { mergeWithLastSubmission: false });
    return;
  }
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  const d = prompt.details || {};
  if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
  if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
  if (d.missingResourceScopes) {
    for (const [indicator, scopes] of Object.entries(d.missingResourceScopes)) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
  }
  const grantId = await grant.save();
  grants.add(grantId);
  await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

async function revokeAll(res) {
  for (const id of grants) {
    await provider.RefreshToken.adapter.revokeByGrantId(id);
    await provider.AccessToken.adapter.revokeByGrantId(id);
    await provider.Grant.adapter.destroy(id);
  }
  const n = grants.size;
  grants.clear();
  revokedAt = Date.now();
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ revoked: n }));
}

const jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`));

async function introspect(req, res) {
  const auth = req.headers.authorization || '';
  const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
  let answer = { active: false };
  try {
    const { payload } = await jwtVerify(token, jwks, { issuer, audience: RESOURCE });
    const scopes = String(payload.scope || '').split(' ');
    if (scopes.includes('mail') && payload.iat * 1000 >= revokedAt) {
      answer = { active: true, sub: payload.sub, scope: payload.scope };
    }
  } catch (err) {
    log('introspect: refused', err && err.code);
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(answer));
}

const callback = provider.callback();
server.on('request', (req, res) => {
  const path = req.url.split('?')[0];
  if (path.startsWith('/interaction/')) {
    interaction(req, res).catch((err) => {
      log('interaction failed', err && err.stack);
      res.writeHead(500);
      res.end(String(err));
    });
  } else if (path === '/test/introspect') {
    introspect(req, res).catch((err) => { res.writeHead(500); res.end(String(err)); });
  } else if (path === '/test/revoke-grants' && req.method === 'POST') {
    revokeAll(res).catch((err) => { res.writeHead(500); res.end(String(err)); });
  } else {
    callback(req, res);
  }
});

process.stdout.write(`ready ${issuer}\n`);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
