// Test peer for dcr's generic `rfc7591` provider: the real `oidc-provider` (v9).
//
// Usage:
//   node server.mjs --port 0 --initial-access-token TOKEN [--secret-rotation on-omit|never]
//                   [--extra-scopes "dcr other"] [--token-ttl SECONDS]
//                   [--people JSON] [--login-client CLIENT_ID] [--web-client JSON]
//
// Listens on 127.0.0.1 (plain http). When ready it prints exactly one line on
// stdout, `LISTENING <port>`; everything else (oidc-provider notices, logs)
// goes to stderr. Exits cleanly on SIGTERM/SIGINT. All state is in memory.
//
// Test-control endpoints under /__test/ (request counters, fault injection)
// are answered by this wrapper before oidc-provider sees the request.
//
// With --people / --login-client / --web-client it also signs people in
// (authorization code flow + PKCE): a minimal login form under
// /interaction/<uid>, JWT access tokens carrying the person's `groups`, refresh
// tokens for the login client (public, native) and the web client (confidential,
// client_secret_basic).
//
// See README.md in this folder for the request/response contract.

import crypto from 'node:crypto';
import http from 'node:http';

import Provider, { errors } from 'oidc-provider';

// oidc-provider prints its NOTICEs with console.info (stdout). Keep stdout for
// the single `LISTENING <port>` line the tests read.
console.info = (...args) => console.error(...args);
console.log = (...args) => console.error(...args);

function parseArgs(argv) {
  const opts = {
    port: 0,
    initialAccessToken: undefined,
    secretRotation: 'on-omit',
    extraScopes: [],
    tokenTtl: 3600,
    people: undefined,
    loginClient: undefined,
    webClient: undefined,
  };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    const value = () => {
      const v = argv[i + 1];
      if (v === undefined) {
        throw new Error(`missing value for ${arg}`);
      }
      i += 1;
      return v;
    };
    switch (arg) {
      case '--port': opts.port = Number.parseInt(value(), 10); break;
      case '--initial-access-token': opts.initialAccessToken = value(); break;
      case '--secret-rotation': opts.secretRotation = value(); break;
      // Space separated; may be given more than once (values accumulate).
      case '--extra-scopes': opts.extraScopes.push(...value().split(/\s+/).filter(Boolean)); break;
      case '--token-ttl': {
        const v = value();
        opts.tokenTtl = /^[0-9]+$/.test(v) ? Number.parseInt(v, 10) : Number.NaN;
        break;
      }
      case '--people': {
        if (opts.people !== undefined) throw new Error('--people may be given only once');
        opts.people = parsePeople(value());
        break;
      }
      case '--login-client': {
        if (opts.loginClient !== undefined) throw new Error('--login-client may be given only once');
        opts.loginClient = value();
        break;
      }
      case '--web-client': {
        if (opts.webClient !== undefined) throw new Error('--web-client may be given only once');
        opts.webClient = parseWebClient(value());
        break;
      }
      default: throw new Error(`unknown argument ${arg}`);
    }
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
    throw new Error('--port must be an integer in 0..65535');
  }
  if (!opts.initialAccessToken) {
    throw new Error('--initial-access-token TOKEN is required');
  }
  if (!['on-omit', 'never'].includes(opts.secretRotation)) {
    throw new Error('--secret-rotation must be on-omit or never');
  }
  for (const scope of opts.extraScopes) {
    // RFC 6749 section 3.3 scope-token: 1*( %x21 / %x23-5B / %x5D-7E )
    if (!/^[\x21\x23-\x5B\x5D-\x7E]+$/.test(scope)) {
      throw new Error(`--extra-scopes: invalid scope token ${JSON.stringify(scope)}`);
    }
  }
  if (!Number.isSafeInteger(opts.tokenTtl) || opts.tokenTtl < 1) {
    throw new Error('--token-ttl must be a positive integer (seconds)');
  }
  if (opts.loginClient !== undefined && !/^[\x21-\x7E]+$/.test(opts.loginClient)) {
    throw new Error('--login-client must be a non-empty printable ASCII client_id without spaces');
  }
  if (opts.webClient !== undefined && opts.webClient.client_id === opts.loginClient) {
    throw new Error('--web-client: client_id must differ from --login-client');
  }
  return opts;
}

// --web-client '{"client_id":"dcr-portal","client_secret":"…","redirect_uris":["http://127.0.0.1:8090/auth/callback"]}'
function parseWebClient(text) {
  let client;
  try {
    client = JSON.parse(text);
  } catch {
    throw new Error('--web-client must be a JSON object');
  }
  if (!client || typeof client !== 'object' || Array.isArray(client)) {
    throw new Error('--web-client must be a JSON object');
  }
  const known = new Set(['client_id', 'client_secret', 'redirect_uris']);
  for (const key of Object.keys(client)) {
    if (!known.has(key)) throw new Error(`--web-client: unknown member ${key}`);
  }
  const { client_id: clientId, client_secret: secret, redirect_uris: redirectUris } = client;
  const printable = (v) => typeof v === 'string' && /^[\x21-\x7E]+$/.test(v);
  if (!printable(clientId)) {
    throw new Error('--web-client: client_id must be a non-empty printable ASCII string without spaces');
  }
  if (!printable(secret)) {
    throw new Error('--web-client: client_secret must be a non-empty printable ASCII string without spaces');
  }
  if (!isStringArray(redirectUris) || redirectUris.length === 0) {
    throw new Error('--web-client: redirect_uris must be a non-empty array of strings');
  }
  for (const uri of redirectUris) {
    let url;
    try {
      url = new URL(uri);
    } catch {
      throw new Error(`--web-client: redirect_uris: ${JSON.stringify(uri)} is not an absolute URL`);
    }
    if (!['http:', 'https:'].includes(url.protocol) || url.hash) {
      throw new Error(`--web-client: redirect_uris: ${JSON.stringify(uri)} must be http(s) without a fragment`);
    }
  }
  return { client_id: clientId, client_secret: secret, redirect_uris: [...redirectUris] };
}

// --people '[{"sub":"alice","password":"pw","groups":["admins"],"name":"Alice","email":"a@x"}]'
function parsePeople(text) {
  let list;
  try {
    list = JSON.parse(text);
  } catch {
    throw new Error('--people must be a JSON array');
  }
  if (!Array.isArray(list)) throw new Error('--people must be a JSON array');
  const known = new Set(['sub', 'password', 'groups', 'name', 'email']);
  const result = new Map();
  for (const person of list) {
    if (!person || typeof person !== 'object' || Array.isArray(person)) {
      throw new Error('--people: every person must be a JSON object');
    }
    for (const key of Object.keys(person)) {
      if (!known.has(key)) throw new Error(`--people: unknown member ${key}`);
    }
    const {
      sub, password, groups = [], name, email,
    } = person;
    if (typeof sub !== 'string' || !sub) throw new Error('--people: sub must be a non-empty string');
    if (result.has(sub)) throw new Error(`--people: duplicate sub ${JSON.stringify(sub)}`);
    if (typeof password !== 'string') throw new Error(`--people: ${sub}: password must be a string`);
    if (!isStringArray(groups)) throw new Error(`--people: ${sub}: groups must be an array of strings`);
    for (const [key, v] of [['name', name], ['email', email]]) {
      if (v !== undefined && v !== null && typeof v !== 'string') {
        throw new Error(`--people: ${sub}: ${key} must be a string`);
      }
    }
    result.set(sub, {
      sub, password, groups: [...groups], name: name ?? undefined, email: email ?? undefined,
    });
  }
  return result;
}

function isStringArray(value) {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

let opts;
try {
  opts = parseArgs(process.argv.slice(2));
} catch (err) {
  console.error(`server.mjs: ${err.message}`);
  process.exit(2);
}

// The fixed test resource; any other https:// resource is accepted as well.
const TEST_RESOURCE = 'https://api.example.com';
// A resource whose access tokens are opaque (RFC 7662 introspection, not JWT).
const OPAQUE_RESOURCE = 'https://opaque.example.com';
const BASE_SCOPES = ['openid', 'read', 'write'];
// People sign-in (--people / --login-client / --web-client) is off unless one of
// them is given; without them the configuration is exactly what it was before.
const PEOPLE_MODE = opts.people !== undefined || opts.loginClient !== undefined
  || opts.webClient !== undefined;
// People: sub -> { sub, password, groups, name?, email? }; groups change via /__test/people/<sub>.
const people = opts.people ?? new Map();
// OIDC scopes for people's claims (see `claims` in configuration()).
const PEOPLE_SCOPES = PEOPLE_MODE ? ['groups', 'profile', 'email'] : [];
const SCOPES = [...new Set([...BASE_SCOPES, ...PEOPLE_SCOPES, ...opts.extraScopes])];
// Scopes a JWT (resource) access token may carry: read, write and the extras.
const RESOURCE_SCOPES = [...new Set(['read', 'write', ...opts.extraScopes])].join(' ');

function newSecret() {
  // Same shape as oidc-provider's default secretFactory.
  return crypto.randomBytes(64).toString('base64url');
}

function signingKey() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: crypto.randomUUID(), use: 'sig', alg: 'RS256' };
}

// In memory, like oidc-provider's default adapter, but listable: GET /__test/clients
// answers with the registered clients, so a test can compare them with dcr's database.
const stores = new Map();

class ListableMemoryAdapter {
  constructor(model) {
    if (!stores.has(model)) stores.set(model, new Map());
    this.store = stores.get(model);
  }

  async upsert(id, payload, expiresIn) {
    const expiresAt = expiresIn ? Date.now() + expiresIn * 1000 : undefined;
    this.store.set(id, { payload: { ...payload }, expiresAt });
  }

  async find(id) {
    const entry = this.store.get(id);
    if (!entry) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt < Date.now()) {
      this.store.delete(id);
      return undefined;
    }
    return entry.payload;
  }

  async findBy(field, value) {
    for (const [id, entry] of this.store) {
      if (entry.payload[field] === value) return this.find(id);
    }
    return undefined;
  }

  async findByUserCode(userCode) { return this.findBy('userCode', userCode); }

  async findByUid(uid) { return this.findBy('uid', uid); }

  async consume(id) {
    const entry = this.store.get(id);
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) { this.store.delete(id); }

  async revokeByGrantId(grantId) {
    for (const [id, entry] of this.store) {
      if (entry.payload.grantId === grantId) this.store.delete(id);
    }
  }
}

function registeredClients() {
  const clients = stores.get('Client') ?? new Map();
  return [...clients.values()].map(({ payload }) => ({
    client_id: payload.client_id,
    dcr_application_id: payload.dcr_application_id ?? null,
  }));
}

function configuration() {
  return {
    adapter: ListableMemoryAdapter,
    jwks: { keys: [signingKey()] },
    cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
    scopes: SCOPES,
    // dcr stores its idempotency marker here. Any OTHER unrecognised client
    // metadata is silently dropped by oidc-provider (not rejected).
    extraClientMetadata: {
      properties: ['dcr_application_id'],
      validator(ctx, key, value) {
        if (key === 'dcr_application_id' && value !== undefined && typeof value !== 'string') {
          throw new errors.InvalidClientMetadata('dcr_application_id must be a string');
        }
      },
    },
    ttl: {
      AccessToken: 3600,
      // client_credentials access tokens (opaque and JWT): --token-ttl.
      ClientCredentials: opts.tokenTtl,
      Grant: 3600,
      IdToken: 3600,
      Interaction: 600,
      RefreshToken: 86400,
      Session: 3600,
    },
    features: {
      devInteractions: { enabled: false },
      registration: {
        enabled: true,
        // A fixed string: `Authorization: Bearer <value>` is required on POST /reg.
        initialAccessToken: opts.initialAccessToken,
        issueRegistrationAccessToken: true,
      },
      registrationManagement: {
        enabled: true,
        // A successful PUT returns a NEW registration_access_token and the old
        // one stops working.
        rotateRegistrationAccessToken: true,
      },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        // Any confidential, authenticated client may introspect any token
        // (test peer); public clients only their own.
        allowedPolicy(ctx, client, token) {
          return client.clientAuthMethod !== 'none' || token.clientId === client.clientId;
        },
      },
      revocation: {
        enabled: true,
        allowedPolicy(ctx, client, token) {
          return token.clientId === client.clientId;
        },
      },
      resourceIndicators: {
        enabled: true,
        // No resource parameter -> no resource server -> opaque access token.
        defaultResource(ctx, client, oneOf) {
          return oneOf;
        },
        useGrantedResource() {
          return false;
        },
        getResourceServerInfo(ctx, resourceIndicator) {
          return resourceServerInfo(resourceIndicator);
        },
      },
    },
    ...(PEOPLE_MODE ? peopleConfiguration() : {}),
  };
}

// The resource servers: TEST_RESOURCE and any https:// URL (JWT access tokens),
// OPAQUE_RESOURCE (opaque ones). Anything else -> invalid_target.
function resourceServerInfo(resourceIndicator) {
  let url;
  try {
    url = new URL(resourceIndicator);
  } catch {
    throw new errors.InvalidTarget();
  }
  if (resourceIndicator !== TEST_RESOURCE && url.protocol !== 'https:') {
    throw new errors.InvalidTarget();
  }
  return {
    audience: resourceIndicator,
    scope: RESOURCE_SCOPES,
    accessTokenFormat: resourceIndicator === OPAQUE_RESOURCE ? 'opaque' : 'jwt',
    accessTokenTTL: opts.tokenTtl,
    jwt: { sign: { alg: 'RS256' } },
  };
}

// ---------------------------------------------------------------------------
// People (--people, --login-client): accounts, claims, the login client.
// ---------------------------------------------------------------------------

// The person's claims as they are NOW (groups may have changed since sign-in).
function personClaims(person) {
  const claims = { sub: person.sub, groups: [...person.groups] };
  if (person.name !== undefined) claims.name = person.name;
  if (person.email !== undefined) claims.email = person.email;
  return claims;
}

function peopleConfiguration() {
  const config = {
    // `groups` scope -> `groups` claim; profile -> name; email -> email. These
    // keys also become supported scopes (discovery `scopes_supported`).
    claims: {
      acr: null,
      sid: null,
      auth_time: null,
      iss: null,
      openid: ['sub'],
      groups: ['groups'],
      profile: ['name'],
      email: ['email'],
    },
    // The ID token from the token endpoint carries the claims of the granted
    // scopes (stock v9 would only put them in userinfo, which a resource-bound
    // JWT access token cannot call).
    conformIdTokenClaims: false,
    async findAccount(ctx, sub) {
      const person = people.get(sub);
      if (!person) return undefined;
      return {
        accountId: sub,
        // Re-read on every call: /__test/people/<sub> may have changed the groups.
        async claims() {
          return personClaims(people.get(sub) ?? person);
        },
      };
    },
    // A person's access tokens (JWT for a resource) carry groups, name, email,
    // read at every issue (authorization_code and refresh_token grants).
    async extraTokenClaims(ctx, token) {
      if (token.kind !== 'AccessToken' || !token.accountId) return undefined;
      const person = people.get(token.accountId);
      if (!person) return undefined;
      const { sub, ...claims } = personClaims(person);
      return claims;
    },
    // The login and web clients get a refresh token without `offline_access`
    // (and so without prompt=consent); any other client keeps the stock rule.
    async issueRefreshToken(ctx, client, code) {
      return client.grantTypeAllowed('refresh_token')
        && (code.scopes.has('offline_access') || client.clientId === opts.loginClient
          || client.clientId === opts.webClient?.client_id);
    },
  };
  config.clients = [];
  if (opts.loginClient !== undefined) {
    config.clients.push({
      client_id: opts.loginClient,
      token_endpoint_auth_method: 'none',
      application_type: 'native',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      // RFC 8252 section 7.3: for a native client oidc-provider accepts this
      // loopback redirect URI with ANY port (http://127.0.0.1:<port>/callback).
      redirect_uris: ['http://127.0.0.1/callback'],
    });
  }
  if (opts.webClient !== undefined) {
    // A confidential web client (the Dev Portal's kind): HTTP Basic only, and
    // its redirect URIs match exactly (oidc-provider's loopback port rule is
    // for native clients). Its access tokens for a `resource` are JWTs through
    // the same resourceIndicators configuration as every other client's.
    config.clients.push({
      client_id: opts.webClient.client_id,
      client_secret: opts.webClient.client_secret,
      token_endpoint_auth_method: 'client_secret_basic',
      application_type: 'web',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: opts.webClient.redirect_uris,
    });
  }
  return config;
}

// RFC 7592 client secret regeneration.
//
// oidc-provider v9 never changes an existing client_secret through RFC 7592:
// on PUT it keeps the stored secret, and a PUT carrying a client_secret that
// differs from the current one is rejected (400 invalid_request). RFC 7592
// section 2.2 says omitted fields are to be treated as a request to delete
// them and that the server MAY issue a new client_secret. This peer implements
// that reading (default `--secret-rotation on-omit`):
//
//   PUT /reg/<client_id> whose JSON body has NO `client_secret` member
//     -> a fresh client_secret is issued and returned in the 200 response;
//        the previous secret stops working immediately.
//   PUT /reg/<client_id> whose body echoes the CURRENT `client_secret`
//     -> the secret is kept (a plain metadata update).
//
// `--secret-rotation never` keeps oidc-provider's stock behaviour (the secret
// is never rotated), so a test can also exercise a server that does not rotate.
function secretRotation(provider) {
  return async function rotateClientSecretOnOmit(ctx, next) {
    await next();

    if (
      opts.secretRotation !== 'on-omit'
      || ctx.oidc?.route !== 'client_update'
      || ctx.status !== 200
      || !ctx.body
      || typeof ctx.body !== 'object'
      || !ctx.body.client_secret
    ) {
      return;
    }
    const requestBody = ctx.oidc.body;
    if (requestBody && Object.hasOwn(requestBody, 'client_secret')) {
      return;
    }

    const clientId = ctx.body.client_id;
    const stored = await provider.Client.adapter.find(clientId);
    if (!stored) {
      return;
    }
    const secret = newSecret();
    // The Client cache is keyed by a hash of the stored properties, so the
    // upsert is enough for the old secret to be rejected from now on.
    await provider.Client.adapter.upsert(clientId, {
      ...stored,
      client_secret: secret,
      client_secret_expires_at: 0,
    });
    ctx.body.client_secret = secret;
    ctx.body.client_secret_expires_at = 0;
  };
}

// ---------------------------------------------------------------------------
// Test control: request counters and fault injection (/__test/...).
//
// Handled here, before oidc-provider's callback, without any authentication.
// See README.md ("Test control") for the contract.
// ---------------------------------------------------------------------------

const stats = {
  token_requests: 0,
  jwks_requests: 0,
  discovery_requests: 0,
  registration_requests: 0,
  introspection_requests: 0,
};

function countRequest(method, pathname) {
  if (method === 'POST' && pathname === '/token') stats.token_requests += 1;
  else if (method === 'GET' && pathname === '/jwks') stats.jwks_requests += 1;
  else if (method === 'GET' && pathname === '/.well-known/openid-configuration') stats.discovery_requests += 1;
  else if (pathname === '/reg' || pathname.startsWith('/reg/')) stats.registration_requests += 1;
  else if (method === 'POST' && pathname === '/token/introspection') stats.introspection_requests += 1;
}

const DEFAULT_FAULT_BODY = { error: 'temporarily_unavailable', error_description: 'injected failure' };

// Active fault rules, oldest first; the first matching rule wins.
let faults = [];
let nextFaultId = 1;

function parseFault(input) {
  if (!input || typeof input !== 'object' || Array.isArray(input)) {
    throw new Error('body must be a JSON object');
  }
  const known = new Set(['path_prefix', 'method', 'status', 'count', 'body', 'delay_ms', 'reset']);
  for (const key of Object.keys(input)) {
    if (!known.has(key)) throw new Error(`unknown member ${key}`);
  }
  const {
    path_prefix: pathPrefix, method, status, count = 1, body, delay_ms: delayMs = 0, reset = false,
  } = input;
  if (typeof pathPrefix !== 'string' || !pathPrefix.startsWith('/')) {
    throw new Error('path_prefix must be a string starting with /');
  }
  if (method !== undefined && method !== null && (typeof method !== 'string' || !method)) {
    throw new Error('method must be a non-empty string');
  }
  if (status !== undefined && status !== null
      && (!Number.isInteger(status) || status < 200 || status > 599)) {
    throw new Error('status must be an integer in 200..599');
  }
  if (!Number.isInteger(count) || (count < 1 && count !== -1)) {
    throw new Error('count must be a positive integer or -1 (until cleared)');
  }
  if (!Number.isInteger(delayMs) || delayMs < 0) {
    throw new Error('delay_ms must be a non-negative integer');
  }
  if (typeof reset !== 'boolean') {
    throw new Error('reset must be a boolean');
  }
  const hasStatus = status !== undefined && status !== null;
  if (!hasStatus && !reset && delayMs === 0) {
    throw new Error('nothing to inject: give status, delay_ms > 0 or reset: true');
  }
  return {
    id: nextFaultId++,
    path_prefix: pathPrefix,
    method: method ? method.toUpperCase() : null,
    status: hasStatus ? status : null,
    count,
    body: body === undefined ? (hasStatus ? DEFAULT_FAULT_BODY : null) : body,
    delay_ms: delayMs,
    reset,
  };
}

// Returns the fault to apply to this request (consuming one use), or null.
function takeFault(method, pathname) {
  const index = faults.findIndex((f) => pathname.startsWith(f.path_prefix)
    && (f.method === null || f.method === method));
  if (index === -1) return null;
  const fault = faults[index];
  if (fault.count > 0) {
    fault.count -= 1;
    if (fault.count === 0) faults.splice(index, 1);
  }
  return fault;
}

function sendJson(res, status, value) {
  const body = value === undefined ? '' : JSON.stringify(value);
  res.statusCode = status;
  res.setHeader('Cache-Control', 'no-store');
  if (body) {
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Content-Length', Buffer.byteLength(body));
  }
  res.end(body);
}

function readJson(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('error', reject);
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (!text.trim()) {
        resolve({});
        return;
      }
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(new Error('body is not valid JSON'));
      }
    });
  });
}

// POST /__test/people/<sub> {"groups": [...]} -> 200 {"sub", "groups"}.
async function setPersonGroups(req, res, encodedSub) {
  let sub;
  try {
    sub = decodeURIComponent(encodedSub);
  } catch {
    sendJson(res, 400, { error: 'invalid_request', error_description: 'bad percent-encoding in sub' });
    return;
  }
  const person = people.get(sub);
  if (!person) {
    sendJson(res, 404, { error: 'not_found', error_description: `no person ${JSON.stringify(sub)}` });
    return;
  }
  let body;
  try {
    body = await readJson(req);
  } catch (err) {
    sendJson(res, 400, { error: 'invalid_request', error_description: err.message });
    return;
  }
  if (!body || typeof body !== 'object' || Array.isArray(body) || !isStringArray(body.groups)
      || Object.keys(body).some((key) => key !== 'groups')) {
    sendJson(res, 400, { error: 'invalid_request', error_description: 'body must be {"groups": [strings]}' });
    return;
  }
  person.groups = [...body.groups];
  sendJson(res, 200, { sub, groups: person.groups });
}

async function testControl(req, res, method, pathname) {
  const route = `${method} ${pathname}`;
  const personPath = /^\/__test\/people\/([^/]+)$/.exec(pathname);
  if (personPath && method === 'POST') {
    await setPersonGroups(req, res, personPath[1]);
    return;
  }
  switch (route) {
    case 'GET /__test/stats':
      sendJson(res, 200, stats);
      return;
    case 'GET /__test/clients':
      sendJson(res, 200, registeredClients());
      return;
    case 'GET /__test/faults':
      sendJson(res, 200, faults);
      return;
    case 'POST /__test/fail': {
      let fault;
      try {
        fault = parseFault(await readJson(req));
      } catch (err) {
        sendJson(res, 400, { error: 'invalid_request', error_description: err.message });
        return;
      }
      faults.push(fault);
      sendJson(res, 201, fault);
      return;
    }
    case 'POST /__test/clear':
      faults = [];
      sendJson(res, 204);
      return;
    case 'POST /__test/reset-stats':
      for (const key of Object.keys(stats)) stats[key] = 0;
      sendJson(res, 204);
      return;
    default:
      sendJson(res, 404, { error: 'not_found', error_description: `no test-control route ${route}` });
  }
}

// ---------------------------------------------------------------------------
// Login interaction (people mode): GET /interaction/<uid> answers a login form,
// POST /interaction/<uid>/login checks the password and finishes the
// interaction with the login AND the consent (a Grant), so oidc-provider goes
// straight on to the redirect_uri with the code. devInteractions stay off.
// ---------------------------------------------------------------------------

let provider;

function escapeHtml(value) {
  return String(value).replace(/[&<>"']/g, (c) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
  })[c]);
}

// `formOrigin`: the client's redirect URI origin, allowed as a form target next
// to 'self'. Browsers apply form-action to every redirect after the post too
// (Chromium does), and the login post ends in a redirect to the client.
function sendHtml(res, status, html, formOrigin) {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  const formAction = formOrigin ? `'self' ${formOrigin}` : "'self'";
  res.setHeader('Content-Security-Policy', `default-src 'none'; form-action ${formAction}`);
  res.setHeader('Content-Length', Buffer.byteLength(html));
  res.end(html);
}

function loginPage(uid, clientId, { login = '', message } = {}) {
  const alert = message ? `\n<p role="alert">${escapeHtml(message)}</p>` : '';
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Sign in</title></head>
<body>
<h1>Sign in</h1>
<p>to <code>${escapeHtml(clientId)}</code></p>${alert}
<form method="post" action="/interaction/${encodeURIComponent(uid)}/login" autocomplete="off">
<label for="login">Login</label>
<input id="login" name="login" type="text" value="${escapeHtml(login)}" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" required>
<button type="submit">Sign in</button>
</form>
</body>
</html>
`;
}

function errorPage(status, message) {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Error</title></head>
<body><h1>Error</h1><p role="alert">${escapeHtml(message)}</p></body>
</html>
`;
}

function readForm(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > 64 * 1024) {
        reject(new Error('form too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('error', reject);
    req.on('end', () => resolve(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))));
  });
}

function passwordMatches(given, expected) {
  const a = crypto.createHash('sha256').update(given).digest();
  const b = crypto.createHash('sha256').update(expected).digest();
  return crypto.timingSafeEqual(a, b);
}

// A Grant for everything the authorization request asked for: its OIDC scopes
// and claims, and for each requested resource the scopes that resource offers.
async function grantAll(details, accountId) {
  const { params } = details;
  const grant = new provider.Grant({ accountId, clientId: params.client_id });
  const requested = (params.scope ?? '').split(' ').filter(Boolean);
  const statics = new Set(SCOPES);
  const oidcScopes = requested.filter((scope) => statics.has(scope));
  if (oidcScopes.length) grant.addOIDCScope(oidcScopes.join(' '));
  if (params.claims) {
    const { userinfo = {}, id_token: idToken = {} } = JSON.parse(params.claims);
    const claims = [...new Set([...Object.keys(userinfo ?? {}), ...Object.keys(idToken ?? {})])];
    if (claims.length) grant.addOIDCClaims(claims);
  }
  const resources = params.resource === undefined ? [] : [].concat(params.resource);
  for (const indicator of resources) {
    const offered = new Set(resourceServerInfo(indicator).scope.split(' '));
    const scopes = requested.filter((scope) => offered.has(scope));
    if (scopes.length) grant.addResourceScope(indicator, scopes.join(' '));
  }
  return grant.save();
}

async function interaction(req, res, method, pathname) {
  const match = /^\/interaction\/([^/]+)(\/login)?$/.exec(pathname);
  const isForm = match && !match[2] && method === 'GET';
  const isLogin = match && match[2] && method === 'POST';
  if (!isForm && !isLogin) {
    sendHtml(res, match ? 405 : 404, errorPage(404, `no route ${method} ${pathname}`));
    return;
  }
  const uid = match[1];

  let details;
  try {
    details = await provider.interactionDetails(req, res);
  } catch (err) {
    if (err instanceof errors.SessionNotFound) {
      sendHtml(res, 400, errorPage(400, `interaction not found or expired: ${err.error_description ?? err.message}`));
      return;
    }
    throw err;
  }
  if (details.uid !== uid) {
    sendHtml(res, 400, errorPage(400, 'interaction cookie does not match this URL'));
    return;
  }
  const clientId = details.params.client_id;
  // oidc-provider checked redirect_uri against the client before this interaction
  // began, so its origin is a plain scheme://host:port.
  const redirectOrigin = new URL(details.params.redirect_uri).origin;

  if (isForm) {
    sendHtml(res, 200, loginPage(uid, clientId), redirectOrigin);
    return;
  }

  let form;
  try {
    form = await readForm(req);
  } catch (err) {
    sendHtml(res, 400, errorPage(400, err.message));
    return;
  }
  const login = form.get('login') ?? '';
  const password = form.get('password') ?? '';
  const person = people.get(login);
  // Compare even for an unknown login (no user enumeration through timing).
  const ok = passwordMatches(password, person ? person.password : '\u0000no such person');
  if (!person || !ok) {
    sendHtml(res, 401, loginPage(uid, clientId, { login, message: 'Invalid login or password.' }), redirectOrigin);
    return;
  }

  const grantId = await grantAll(details, person.sub);
  // 303 to the authorization endpoint's resume URL; from there oidc-provider
  // redirects to redirect_uri?code=...&state=...&iss=...
  await provider.interactionFinished(req, res, {
    login: { accountId: person.sub },
    consent: { grantId },
  }, { mergeWithLastSubmission: false });
}

// Requests are only expected after `LISTENING` is printed; anything earlier
// gets a 503 instead of reaching a half-built provider.
let handler = (req, res) => {
  res.statusCode = 503;
  res.end('starting');
};

async function dispatch(req, res) {
  const method = (req.method || 'GET').toUpperCase();
  let pathname;
  try {
    pathname = new URL(req.url, 'http://127.0.0.1').pathname;
  } catch {
    pathname = req.url || '/';
  }

  if (pathname.startsWith('/__test/')) {
    await testControl(req, res, method, pathname);
    return;
  }

  countRequest(method, pathname);

  const fault = takeFault(method, pathname);
  if (fault) {
    if (fault.delay_ms > 0) {
      await new Promise((resolve) => { setTimeout(resolve, fault.delay_ms); });
    }
    if (fault.reset) {
      req.socket.destroy();
      return;
    }
    if (fault.status !== null) {
      sendJson(res, fault.status, fault.body === null ? undefined : fault.body);
      return;
    }
  }

  if (PEOPLE_MODE && provider && pathname.startsWith('/interaction/')) {
    await interaction(req, res, method, pathname);
    return;
  }

  handler(req, res);
}

const server = http.createServer((req, res) => {
  dispatch(req, res).catch((err) => {
    console.error('server.mjs: test control error', err);
    if (!res.headersSent) sendJson(res, 500, { error: 'server_error' });
    else res.destroy();
  });
});

server.on('error', (err) => {
  console.error(`server.mjs: ${err.message}`);
  process.exit(1);
});

server.listen(opts.port, '127.0.0.1', () => {
  const { port } = server.address();
  // The issuer must carry the real (possibly ephemeral) port, so the Provider
  // is only built once the socket is bound.
  provider = new Provider(`http://127.0.0.1:${port}`, configuration());
  provider.use(secretRotation(provider));
  provider.on('server_error', (ctx, err) => console.error('server_error', err));
  handler = provider.callback();
  process.stdout.write(`LISTENING ${port}\n`);
});

let stopping = false;
function shutdown() {
  if (stopping) return;
  stopping = true;
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
