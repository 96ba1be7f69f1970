// Test peer: a fake Kong Konnect "HTTP DCR bridge" for dcr's http_bridge provider tests.
//
// Contract (Kong/konnect-portal-dcr-handler openapi/openapi.yaml):
//   POST   /                       ApplicationPayload -> 201 {client_id, client_secret, client_id_issued_at?, client_secret_expires_at?}
//   DELETE /{client_id}                               -> 204
//   POST   /{client_id}/new-secret                    -> 200 {client_id, client_secret}
//   POST   /{client_id}/event-hook EventHook          -> 200 (empty body)
//   all need header x-api-key; errors are {error, error_description}.
// Test-control endpoints live under /__test/ (no api key). See README.md.
//
// Node >= 20, no dependencies. Usage:
//   node server.mjs --port 0 --api-key KEY [--base-path /dcr] [--timestamps iso|epoch|omit]
//                   [--unknown-client-status 404] [--error-style spec|reference] [--verbose]

import http from 'node:http'
import { randomUUID, randomBytes } from 'node:crypto'

// ---------------------------------------------------------------- options

function parseArgs (argv) {
  const out = {}
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (!a.startsWith('--')) throw new Error(`unexpected argument: ${a}`)
    const eq = a.indexOf('=')
    if (eq !== -1) { out[a.slice(2, eq)] = a.slice(eq + 1); continue }
    const name = a.slice(2)
    const next = argv[i + 1]
    if (next === undefined || next.startsWith('--')) out[name] = 'true'
    else { out[name] = next; i++ }
  }
  return out
}

let args
try {
  args = parseArgs(process.argv.slice(2))
} catch (e) {
  process.stderr.write(`http-bridge: ${e.message}\n`)
  process.exit(2)
}

const port = Number(args.port ?? 0)
const apiKeyArg = args['api-key'] ?? process.env.BRIDGE_API_KEY
if (!apiKeyArg) {
  process.stderr.write('http-bridge: --api-key KEY (or env BRIDGE_API_KEY) is required\n')
  process.exit(2)
}
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`http-bridge: bad --port ${args.port}\n`)
  process.exit(2)
}
const verbose = args.verbose === 'true'
let basePath = (args['base-path'] ?? '').replace(/\/+$/, '')
if (basePath && !basePath.startsWith('/')) basePath = '/' + basePath

const initialConfig = Object.freeze({
  // Comma-separated list accepted (like the reference's KONG_API_TOKENS) so key rotation can be tested.
  api_keys: apiKeyArg.split(',').map(s => s.trim()).filter(Boolean),
  // iso: RFC 3339 strings (what the spec says); epoch: numbers like the reference/Okta (issued_at secs, expires 0); omit.
  timestamps: args.timestamps ?? 'iso',
  // Status for DELETE / new-secret on an unknown client_id. The spec lists no 404; the reference yields 400.
  unknown_client_status: Number(args['unknown-client-status'] ?? 404),
  // spec: error_description is a string. reference: validation errors give an array of ajv-like objects.
  error_style: args['error-style'] ?? 'spec'
})
validateConfig(initialConfig)

function validateConfig (c) {
  if (!Array.isArray(c.api_keys) || c.api_keys.length === 0 || !c.api_keys.every(k => typeof k === 'string' && k)) {
    throw new Error('api_keys must be a non-empty array of strings')
  }
  if (!['iso', 'epoch', 'omit'].includes(c.timestamps)) throw new Error('timestamps must be iso|epoch|omit')
  if (!Number.isInteger(c.unknown_client_status) || c.unknown_client_status < 100 || c.unknown_client_status > 599) {
    throw new Error('unknown_client_status must be an HTTP status')
  }
  if (!['spec', 'reference'].includes(c.error_style)) throw new Error('error_style must be spec|reference')
}

// ---------------------------------------------------------------- state

let config = { ...initialConfig, api_keys: [...initialConfig.api_keys] }
let clients = new Map() // client_id -> record
let requests = [] // every request on the contract surface
let events = [] // every accepted event hook
let failRules = [] // fault injection
let seq = 0

function resetState () {
  config = { ...initialConfig, api_keys: [...initialConfig.api_keys] }
  clients = new Map()
  requests = []
  events = []
  failRules = []
  seq = 0
}

const newClientId = () => randomUUID()
const newSecret = () => randomBytes(32).toString('base64url')

// ---------------------------------------------------------------- validation (spec schemas)

const UUID_RE = /^(?:urn:uuid:)?[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}$/i

// field kinds: 'string' | 'uuid' | 'string[]'
const APPLICATION_PAYLOAD = {
  required: {
    redirect_uris: 'string[]',
    client_name: 'string',
    grant_types: 'string[]',
    scopes: 'string[]',
    token_endpoint_auth_method: 'string',
    application_description: 'string',
    portal_id: 'uuid',
    organization_id: 'uuid',
    developer_id: 'uuid',
    auth_strategy_id: 'uuid',
    dcr_provider_id: 'uuid'
  },
  optional: {}
}

const EVENT_BASE = {
  event_type: 'string',
  client_id: 'string',
  application_id: 'uuid',
  application_name: 'string',
  application_description: 'string',
  portal_id: 'uuid',
  organization_id: 'uuid',
  developer_id: 'uuid',
  auth_strategy_id: 'uuid',
  dcr_provider_id: 'uuid'
}

const EVENT_SCHEMAS = {
  update_application: { required: { ...EVENT_BASE, redirect_uris: 'string[]' }, optional: {} },
  add_registration: { required: { ...EVENT_BASE, api_product_version_id: 'uuid' }, optional: { audience: 'string' } },
  remove_registration: { required: { ...EVENT_BASE, api_product_version_id: 'uuid' }, optional: { audience: 'string' } }
}

function isPlainObject (v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

// Returns a list of ajv-like error objects (empty = valid). Strict: unknown properties are rejected.
function validateObject (body, schema) {
  if (!isPlainObject(body)) {
    return [{ instancePath: '', keyword: 'type', params: { type: 'object' }, message: 'must be object' }]
  }
  const errors = []
  for (const name of Object.keys(schema.required)) {
    if (!(name in body)) {
      errors.push({ instancePath: '', keyword: 'required', params: { missingProperty: name }, message: `must have required property '${name}'` })
    }
  }
  const kinds = { ...schema.required, ...schema.optional }
  for (const [name, value] of Object.entries(body)) {
    const kind = kinds[name]
    const path = '/' + name
    if (kind === undefined) {
      errors.push({ instancePath: '', keyword: 'additionalProperties', params: { additionalProperty: name }, message: 'must NOT have additional properties' })
    } else if (kind === 'string' || kind === 'uuid') {
      if (typeof value !== 'string') {
        errors.push({ instancePath: path, keyword: 'type', params: { type: 'string' }, message: 'must be string' })
      } else if (kind === 'uuid' && !UUID_RE.test(value)) {
        errors.push({ instancePath: path, keyword: 'format', params: { format: 'uuid' }, message: 'must match format "uuid"' })
      }
    } else if (kind === 'string[]') {
      if (!Array.isArray(value)) {
        errors.push({ instancePath: path, keyword: 'type', params: { type: 'array' }, message: 'must be array' })
      } else {
        value.forEach((item, i) => {
          if (typeof item !== 'string') {
            errors.push({ instancePath: `${path}/${i}`, keyword: 'type', params: { type: 'string' }, message: 'must be string' })
          }
        })
      }
    }
  }
  return errors
}

function validationErrorBody (errors) {
  if (config.error_style === 'reference') return { error: 'Bad Request', error_description: errors }
  const text = errors.map(e => {
    const where = e.instancePath ? `body${e.instancePath.replaceAll('/', '.')}` : 'body'
    const extra = e.keyword === 'additionalProperties' ? ` ('${e.params.additionalProperty}')` : ''
    return `${where} ${e.message}${extra}`
  }).join('; ')
  return { error: 'Bad Request', error_description: text }
}

// ---------------------------------------------------------------- http helpers

function sendJson (res, status, obj) {
  const data = Buffer.from(JSON.stringify(obj))
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': data.length })
  res.end(data)
}

function sendEmpty (res, status) {
  res.writeHead(status, { 'content-length': 0 })
  res.end()
}

// A "response" is {status, body} where body undefined = empty. Rendered by finish().
function finish (res, r) {
  if (r.body === undefined) sendEmpty(res, r.status)
  else sendJson(res, r.status, r.body)
}

const MAX_BODY = 1024 * 1024

function readBody (req) {
  return new Promise((resolve, reject) => {
    const chunks = []
    let size = 0
    req.on('data', c => {
      size += c.length
      if (size > MAX_BODY) { reject(Object.assign(new Error('body too large'), { tooLarge: true })); req.destroy(); return }
      chunks.push(c)
    })
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

function parseMaybeJson (raw) {
  if (raw === '') return null
  try { return JSON.parse(raw) } catch { return raw }
}

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

function isJsonContentType (ct) {
  if (!ct) return false
  const base = ct.split(';')[0].trim().toLowerCase()
  return base === 'application/json' || /^application\/[a-z0-9.+-]*\+json$/.test(base)
}

// ---------------------------------------------------------------- contract handlers

function timestampsFor (record) {
  switch (config.timestamps) {
    // Secrets never expire here, so the optional client_secret_expires_at is left out in iso mode.
    case 'iso': return { client_id_issued_at: new Date(record.created_at_ms).toISOString() }
    case 'epoch': return { client_id_issued_at: Math.floor(record.created_at_ms / 1000), client_secret_expires_at: 0 }
    default: return {}
  }
}

function unknownClient (clientId) {
  return {
    status: config.unknown_client_status,
    body: { error: 'Not Found', error_description: `client ${clientId} does not exist` }
  }
}

// Fastify (the reference bridge's framework) rejects a JSON content-type with an empty body
// on routes that do not define a body; emulate it so dcr does not ship requests that real
// bridges would refuse.
function emptyJsonBodyError (req, raw) {
  if (isJsonContentType(req.headers['content-type']) && raw === '' &&
      (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined)) {
    return { status: 400, body: { error: 'FastifyError', error_description: "Body cannot be empty when content-type is set to 'application/json'" } }
  }
  return null
}

// Parse a JSON body on a route that requires one. Returns {value} or {response}.
function requireJsonBody (req, raw) {
  const ct = req.headers['content-type']
  if (raw !== '' && !isJsonContentType(ct)) {
    return { response: { status: 415, body: { error: 'FastifyError', error_description: `Unsupported Media Type: ${ct ?? ''}` } } }
  }
  if (raw === '') {
    const err = emptyJsonBodyError(req, raw)
    return err ? { response: err } : { value: undefined }
  }
  try {
    return { value: JSON.parse(raw) }
  } catch (e) {
    return { response: { status: 400, body: { error: 'SyntaxError', error_description: e.message } } }
  }
}

function handleCreate (req, raw) {
  const parsed = requireJsonBody(req, raw)
  if (parsed.response) return parsed.response
  const errors = validateObject(parsed.value, APPLICATION_PAYLOAD)
  if (errors.length) return { status: 400, body: validationErrorBody(errors) }
  const payload = parsed.value
  const record = {
    client_id: newClientId(),
    client_secret: newSecret(),
    previous_secrets: [],
    payload,
    created_at_ms: Date.now(),
    secret_rotations: 0,
    registrations: {}, // api_product_version_id -> {audience}
    events: []
  }
  clients.set(record.client_id, record)
  return {
    status: 201,
    body: { client_id: record.client_id, client_secret: record.client_secret, ...timestampsFor(record) }
  }
}

function handleDelete (req, raw, clientId) {
  const err = emptyJsonBodyError(req, raw)
  if (err) return err
  if (!clients.has(clientId)) return unknownClient(clientId)
  clients.delete(clientId)
  return { status: 204 }
}

function handleNewSecret (req, raw, clientId) {
  const err = emptyJsonBodyError(req, raw)
  if (err) return err
  const record = clients.get(clientId)
  if (!record) return unknownClient(clientId)
  record.previous_secrets.push(record.client_secret)
  record.client_secret = newSecret()
  record.secret_rotations++
  return { status: 200, body: { client_id: clientId, client_secret: record.client_secret } }
}

function handleEventHook (req, raw, clientId) {
  const parsed = requireJsonBody(req, raw)
  if (parsed.response) return parsed.response
  const body = parsed.value
  const schema = isPlainObject(body) ? EVENT_SCHEMAS[body.event_type] : undefined
  let errors
  if (isPlainObject(body) && !schema) {
    errors = 'event_type' in body
      ? [{ instancePath: '/event_type', keyword: 'enum', params: { allowedValues: Object.keys(EVENT_SCHEMAS) }, message: 'must be equal to one of the allowed values' }]
      : [{ instancePath: '', keyword: 'required', params: { missingProperty: 'event_type' }, message: "must have required property 'event_type'" }]
  } else {
    errors = validateObject(body, schema ?? EVENT_SCHEMAS.update_application)
  }
  if (!errors.length && body.client_id !== clientId) {
    errors = [{ instancePath: '/client_id', keyword: 'const', params: { allowedValue: clientId }, message: 'must equal the client_id in the path' }]
  }
  if (errors.length) return { status: 400, body: validationErrorBody(errors) }

  const record = clients.get(clientId)
  const entry = { seq: events.length + 1, at: new Date().toISOString(), client_id: clientId, known_client: !!record, event: body }
  events.push(entry)
  // The reference bridge does not check that the client exists; neither do we (200 either way).
  if (record) {
    record.events.push(body)
    if (body.event_type === 'update_application') {
      record.payload = {
        ...record.payload,
        redirect_uris: body.redirect_uris,
        client_name: body.application_name,
        application_description: body.application_description
      }
    } else if (body.event_type === 'add_registration') {
      record.registrations[body.api_product_version_id] = { audience: body.audience ?? null }
    } else {
      delete record.registrations[body.api_product_version_id]
    }
  }
  return { status: 200 }
}

// Route a contract request. Returns {response} or {notFound: true}.
function route (method, path) {
  let p = path
  if (basePath) {
    if (p !== basePath && !p.startsWith(basePath + '/')) return null
    p = p.slice(basePath.length)
  }
  if (p === '' || p === '/') return method === 'POST' ? { op: 'create' } : null
  const segs = p.split('/').slice(1)
  let id
  try { id = decodeURIComponent(segs[0]) } catch { return null }
  if (!id) return null
  if (segs.length === 1 && method === 'DELETE') return { op: 'delete', id }
  if (segs.length === 2 && method === 'POST' && segs[1] === 'new-secret') return { op: 'new-secret', id }
  if (segs.length === 2 && method === 'POST' && segs[1] === 'event-hook') return { op: 'event-hook', id }
  return null
}

function dispatch (r, req, raw) {
  switch (r.op) {
    case 'create': return handleCreate(req, raw)
    case 'delete': return handleDelete(req, raw, r.id)
    case 'new-secret': return handleNewSecret(req, raw, r.id)
    case 'event-hook': return handleEventHook(req, raw, r.id)
  }
}

function takeFailRule (method, path) {
  for (const rule of failRules) {
    if (rule.remaining <= 0) continue
    if (rule.method && rule.method !== method) continue
    if (!path.startsWith(rule.path_prefix)) continue
    rule.remaining--
    rule.triggered++
    return rule
  }
  return null
}

async function handleContract (req, res, url, raw) {
  const method = req.method
  const path = url.pathname
  const entry = {
    seq: ++seq,
    at: new Date().toISOString(),
    method,
    path,
    query: url.search ? url.search.slice(1) : '',
    headers: req.headers,
    body: parseMaybeJson(raw),
    status: null
  }
  requests.push(entry)

  const reply = r => { entry.status = r.status; finish(res, r) }

  const rule = takeFailRule(method, path)
  if (rule) {
    entry.injected = true
    if (rule.delay_ms) await sleep(rule.delay_ms)
    if (rule.reset) { entry.status = 'reset'; req.socket.destroy(); return }
    if (rule.status === undefined && !rule.after) {
      // delay-only rule: fall through to normal processing
    } else if (!rule.after) {
      return reply(injectedResponse(rule))
    }
  }

  const r = route(method, path)
  if (!r) {
    return reply({ status: 404, body: { message: `Route ${method}:${req.url} not found`, error: 'Not Found', statusCode: 404 } })
  }
  const key = req.headers['x-api-key']
  if (typeof key !== 'string' || !config.api_keys.includes(key)) {
    return reply({ status: 401, body: { error: 'Wrong API-Key', error_description: 'wrong x-api-key header' } })
  }
  const result = dispatch(r, req, raw)
  if (rule && rule.after) {
    // The operation really happened; the caller just never sees the success.
    entry.real_status = result.status
    if (rule.reset) { entry.status = 'reset'; req.socket.destroy(); return }
    return reply(injectedResponse(rule))
  }
  return reply(result)
}

function injectedResponse (rule) {
  const status = rule.status ?? 500
  if (rule.body !== undefined) return { status, body: rule.body }
  return { status, body: { error: 'Injected failure', error_description: `fault injected by /__test/fail (status ${status})` } }
}

// ---------------------------------------------------------------- test-control endpoints

function clientView (rec) {
  return {
    client_id: rec.client_id,
    client_secret: rec.client_secret,
    previous_secrets: rec.previous_secrets,
    secret_rotations: rec.secret_rotations,
    created_at: new Date(rec.created_at_ms).toISOString(),
    payload: rec.payload,
    registrations: rec.registrations,
    events: rec.events
  }
}

async function handleTest (req, res, url, raw) {
  const m = req.method
  const p = url.pathname.slice('/__test'.length) || '/'
  let body
  if (raw !== '') {
    try { body = JSON.parse(raw) } catch (e) { return sendJson(res, 400, { error: 'Bad Request', error_description: e.message }) }
  }
  const bad = msg => sendJson(res, 400, { error: 'Bad Request', error_description: msg })

  if (m === 'GET' && p === '/requests') return sendJson(res, 200, requests)
  if (m === 'GET' && p === '/clients') return sendJson(res, 200, [...clients.values()].map(clientView))
  if (m === 'GET' && p.startsWith('/clients/')) {
    const rec = clients.get(decodeURIComponent(p.slice('/clients/'.length)))
    return rec ? sendJson(res, 200, clientView(rec)) : sendJson(res, 404, { error: 'Not Found', error_description: 'no such client' })
  }
  if (m === 'GET' && p === '/events') return sendJson(res, 200, events)
  if (m === 'GET' && p === '/fail') return sendJson(res, 200, failRules)
  if (m === 'GET' && p === '/config') return sendJson(res, 200, config)
  if (m === 'POST' && p === '/reset') { resetState(); return sendEmpty(res, 204) }
  if (m === 'POST' && p === '/verify') {
    if (!isPlainObject(body) || typeof body.client_id !== 'string' || typeof body.client_secret !== 'string') {
      return bad('expected {client_id: string, client_secret: string}')
    }
    const rec = clients.get(body.client_id)
    return sendJson(res, 200, { valid: !!rec && rec.client_secret === body.client_secret })
  }
  if (m === 'POST' && p === '/fail') {
    if (!isPlainObject(body)) return bad('expected a JSON object')
    const rule = {
      path_prefix: body.path_prefix ?? '/',
      method: body.method ? String(body.method).toUpperCase() : null,
      status: body.status,
      count: body.count ?? 1,
      body: body.body,
      delay_ms: body.delay_ms ?? 0,
      reset: body.reset === true,
      after: body.after === true
    }
    if (typeof rule.path_prefix !== 'string') return bad('path_prefix must be a string')
    if (rule.status !== undefined && (!Number.isInteger(rule.status) || rule.status < 100 || rule.status > 599)) return bad('status must be an HTTP status code')
    if (!Number.isInteger(rule.count) || rule.count < 1) return bad('count must be a positive integer')
    if (!Number.isInteger(rule.delay_ms) || rule.delay_ms < 0) return bad('delay_ms must be a non-negative integer')
    if (rule.status === undefined && !rule.reset && !rule.delay_ms) rule.status = 500
    rule.remaining = rule.count
    rule.triggered = 0
    failRules.push(rule)
    return sendJson(res, 201, rule)
  }
  if (m === 'POST' && p === '/config') {
    if (!isPlainObject(body)) return bad('expected a JSON object')
    const next = { ...config }
    for (const k of ['api_keys', 'timestamps', 'unknown_client_status', 'error_style']) {
      if (k in body) next[k] = body[k]
    }
    try { validateConfig(next) } catch (e) { return bad(e.message) }
    config = next
    return sendJson(res, 200, config)
  }
  return sendJson(res, 404, { error: 'Not Found', error_description: `no test endpoint ${m} ${url.pathname}` })
}

// ---------------------------------------------------------------- server

const server = http.createServer(async (req, res) => {
  let url
  try {
    url = new URL(req.url, 'http://127.0.0.1')
  } catch {
    return sendJson(res, 400, { error: 'Bad Request', error_description: 'bad request target' })
  }
  let raw
  try {
    raw = await readBody(req)
  } catch (e) {
    if (e.tooLarge) return sendJson(res, 413, { error: 'Payload Too Large', error_description: 'body exceeds 1 MiB' })
    return
  }
  if (verbose) process.stderr.write(`http-bridge: ${req.method} ${req.url}\n`)
  try {
    if (url.pathname === '/__test' || url.pathname.startsWith('/__test/')) await handleTest(req, res, url, raw)
    else await handleContract(req, res, url, raw)
  } catch (e) {
    process.stderr.write(`http-bridge: internal error: ${e.stack}\n`)
    if (!res.headersSent) sendJson(res, 500, { error: 'Internal Server Error', error_description: String(e.message) })
  }
})

server.on('clientError', (err, socket) => {
  if (verbose) process.stderr.write(`http-bridge: client error: ${err.message}\n`)
  if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n')
  else socket.destroy()
})

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`LISTENING ${server.address().port}\n`)
})

let stopping = false
function shutdown () {
  if (stopping) return
  stopping = true
  server.close(() => process.exit(0))
  server.closeAllConnections()
  setTimeout(() => process.exit(0), 2000).unref()
}
process.on('SIGTERM', shutdown)
process.on('SIGINT', shutdown)
