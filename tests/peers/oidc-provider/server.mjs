// Test peer for dcr's generic `rfc7591` provider: the real `oidc-provider` (v9).
//
// Usage:
//   node server.mjs --port 0 --initial-access-token TOKEN [--secret-rotation on-omit|never]
//
// Listens on 127.0.0.1 (plain http). When ready it prints exactly one line on
// stdout, `LISTENING <port>`; everything else (oidc-provider notices, logs)
// goes to stderr. Exits cleanly on SIGTERM/SIGINT. All state is in memory.
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
  return opts;
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
const RESOURCE_SCOPES = 'read write';

function newSecret() {
  // Same shape as oidc-provider's default secretFactory.
  return crypto.randomBytes(64).toString('base64url');
}

function signingKey() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: crypto.randomUUID(), use: 'sig', alg: 'RS256' };
}

function configuration() {
  return {
    // In memory adapter (the default) is fine for a test peer.
    jwks: { keys: [signingKey()] },
    cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
    scopes: ['openid', 'read', 'write'],
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
      ClientCredentials: 3600,
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
            accessTokenFormat: 'jwt',
            accessTokenTTL: 3600,
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
  };
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

// Requests are only expected after `LISTENING` is printed; anything earlier
// gets a 503 instead of reaching a half-built provider.
let handler = (req, res) => {
  res.statusCode = 503;
  res.end('starting');
};
const server = http.createServer((req, res) => handler(req, res));

server.on('error', (err) => {
  console.error(`server.mjs: ${err.message}`);
  process.exit(1);
});

server.listen(opts.port, '127.0.0.1', () => {
  const { port } = server.address();
  // The issuer must carry the real (possibly ephemeral) port, so the Provider
  // is only built once the socket is bound.
  const provider = new Provider(`http://127.0.0.1:${port}`, configuration());
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
