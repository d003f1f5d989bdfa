// A real OpenID provider (the certified `oidc-provider` package) for Tipsa's single sign-on
// tests. It issues real authorization codes and signed ID tokens; the test controls who signs
// in, their claims, the signing keys and (for the refusal tests) a tampering mode.
//
//   node provider.mjs genkey <kid>            prints a new private RSA JWK
//   node provider.mjs serve <config.json>     runs the provider; prints "ready <issuer>"
//
// config.json: { port, client_id, client_secret, redirect_uris, post_logout_redirect_uris,
//                users_file, jwks_file }
// users_file (re-read on every request, so the test can change it between sign-ins):
//   { "current": "<sub>", "tamper": null | "foreign_key" | "unknown_kid" | "wrong_audience"
//                                          | "expired" | "wrong_nonce" | "replay_previous",
//     "users": [{ "sub", "name", "email", "groups": [...], "amr": [...], "acr" }] }
// jwks_file: { "keys": [private JWKs] }; the first key signs.
//
// There is no password page: the interaction signs in `login_hint` if the request names a
// known user, otherwise the file's `current` user (a stand-in for the person at the keyboard).

import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';

import * as jose from 'jose';
import Provider from 'oidc-provider';

function newKey(kid) {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
}

if (process.argv[2] === 'genkey') {
  process.stdout.write(`${JSON.stringify(newKey(process.argv[3] || randomUUID()))}\n`);
  process.exit(0);
}
if (process.argv[2] !== 'serve') {
  process.stderr.write('usage: provider.mjs genkey <kid> | serve <config.json>\n');
  process.exit(2);
}

const config = JSON.parse(readFileSync(process.argv[3], 'utf8'));
const issuer = `http://127.0.0.1:${config.port}`;
const jwks = JSON.parse(readFileSync(config.jwks_file, 'utf8'));
const readUsers = () => JSON.parse(readFileSync(config.users_file, 'utf8'));
const findUser = (sub) => readUsers().users.find((user) => user.sub === sub);

const provider = new Provider(issuer, {
  clients: [{
    client_id: config.client_id,
    client_secret: config.client_secret,
    redirect_uris: config.redirect_uris,
    post_logout_redirect_uris: config.post_logout_redirect_uris,
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks,
  cookies: { keys: ['tipsa test provider cookie key'] },
  claims: {
    acr: null,
    auth_time: null,
    sid: null,
    // In the openid scope, so that the ID token carries how the person signed in.
    openid: ['sub', 'amr'],
    profile: ['name'],
    email: ['email'],
    groups: ['groups'],
  },
  // The ID token carries the profile claims (as Entra ID and Keycloak can be set up to do).
  conformIdTokenClaims: false,
  acrValues: ['urn:tipsa:test:loa2', 'urn:tipsa:test:loa3'],
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: { enabled: true },
  },
  async findAccount(ctx, sub) {
    const user = findUser(sub);
    if (!user) return undefined;
    return {
      accountId: sub,
      async claims() {
        const now = findUser(sub) || user;
        return { sub, name: now.name, email: now.email, groups: now.groups };
      },
    };
  },
  // A first-party client: consent is implied.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid profile email groups');
    await grant.save();
    return grant;
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
});

// Test-only tampering of the ID token in the token response (the code exchange itself is real).
const foreignKey = newKey(jwks.keys[0].kid);
const strangerKey = newKey('not-published');
let previousIdToken = null;
provider.use(async (ctx, next) => {
  await next();
  if (ctx.path !== '/token' || !ctx.body || !ctx.body.id_token) return;
  const tamper = readUsers().tamper;
  const real = ctx.body.id_token;
  // An earlier, genuine ID token (validly signed, for this client) instead of this sign-in's:
  // only its nonce gives it away.
  if (tamper === 'replay_previous' && previousIdToken) {
    ctx.body.id_token = previousIdToken;
    return;
  }
  previousIdToken = real;
  if (!tamper) return;
  const [header, payload] = ctx.body.id_token.split('.').slice(0, 2)
    .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')));
  let signer = jwks.keys[0];
  const now = Math.floor(Date.now() / 1000);
  if (tamper === 'foreign_key') signer = foreignKey;
  if (tamper === 'unknown_kid') signer = strangerKey;
  if (tamper === 'wrong_audience') payload.aud = 'another-client';
  if (tamper === 'expired') { payload.iat = now - 7200; payload.exp = now - 3600; }
  if (tamper === 'wrong_nonce') payload.nonce = 'a nonce Tipsa never sent';
  const key = await jose.importJWK(signer, 'RS256');
  ctx.body.id_token = await new jose.SignJWT(payload)
    .setProtectedHeader({ ...header, alg: 'RS256', kid: signer.kid })
    .sign(key);
});

async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const hinted = details.params.login_hint && findUser(details.params.login_hint);
  const user = hinted || findUser(readUsers().current);
  if (!user) {
    res.writeHead(403, { 'content-type': 'text/plain' });
    res.end('no such test user');
    return;
  }
  await provider.interactionFinished(req, res, {
    login: { accountId: user.sub, amr: user.amr || ['pwd'], acr: user.acr },
  }, { mergeWithLastSubmission: false });
}

const callback = provider.callback();
const server = http.createServer((req, res) => {
  if (req.url.startsWith('/interaction/')) {
    interaction(req, res).catch((error) => {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end(`interaction failed: ${error.message}`);
    });
    return;
  }
  callback(req, res);
});
server.listen(config.port, '127.0.0.1', () => {
  process.stdout.write(`ready ${issuer}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
