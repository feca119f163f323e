import t from 'tap'
import { generateKeyPairSync } from 'node:crypto'
import { createSigner } from 'fast-jwt'
import { SEED_TICKET, postTicket, startIntake } from './helpers.js'

const b64 = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')
const now = (): number => Math.floor(Date.now() / 1000)

t.test('JWT attacks against the external-token (RS256) mode, as a table', async (t) => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const pub = publicKey.export({ type: 'spki', format: 'pem' }).toString()
  const priv = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  const { app } = await startIntake(t, { JWT_PUBLIC_KEY: pub, JWT_ISSUER: 'user-access', JWT_AUDIENCE: 'request-out' })

  const claims = { sub: 'client-1', role: 'client', iss: 'user-access', aud: 'request-out' }
  const sign = (payload: Record<string, unknown>, options: Record<string, unknown> = {}, key: string = priv): string =>
    createSigner({ key, algorithm: 'RS256', expiresIn: 60_000, ...options })(payload)
  const valid = sign(claims)
  const [header, payload, signature] = valid.split('.') as [string, string, string]

  const table: Array<[string, string]> = [
    ['alg none, no signature', `${b64({ alg: 'none', typ: 'JWT' })}.${payload}.`],
    ['alg none, signature kept', `${b64({ alg: 'none', typ: 'JWT' })}.${payload}.${signature}`],
    ['alg "None"', `${b64({ alg: 'None', typ: 'JWT' })}.${payload}.`],
    ['HS256 with the public key as secret', createSigner({ key: pub, algorithm: 'HS256', expiresIn: 60_000 })(claims)],
    ['wrong kid, signed with another key', sign(claims, { kid: 'someone-elses-key' }, other.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString())],
    ['signed with another key', sign(claims, {}, other.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString())],
    ['expired', sign({ ...claims, exp: now() - 600 }, { expiresIn: undefined })],
    ['not yet valid', sign({ ...claims, nbf: now() + 600 })],
    ['wrong issuer', sign({ ...claims, iss: 'evil' })],
    ['wrong audience', sign({ ...claims, aud: 'another-api' })],
    ['missing sub', sign({ role: 'client', iss: 'user-access', aud: 'request-out' })],
    ['missing role', sign({ sub: 'x', iss: 'user-access', aud: 'request-out' })],
    ['role not known', sign({ ...claims, role: 'superuser' })],
    ['products not a list', sign({ ...claims, products: 'digitalid/enrollment/ektp' })],
    ['no exp', sign(claims, { expiresIn: undefined })],
    ['tampered payload (role admin)', `${header}.${b64({ ...claims, role: 'admin', exp: now() + 60 })}.${signature}`],
    ['tampered header', `${b64({ alg: 'RS512', typ: 'JWT' })}.${payload}.${signature}`],
    ['oversized token', `${header}.${'A'.repeat(20_000)}.${signature}`],
    ['garbage base64', `${header}.%%%%.${signature}`],
    ['not base64 at all', 'this is not a token'],
    ['two parts', `${header}.${payload}`],
    ['four parts', `${valid}.x`],
    ['empty', ''],
    ['JSON header that is an array', `${b64('[1,2]')}.${payload}.${signature}`],
    ['header not JSON', `${b64('{not json')}.${payload}.${signature}`]
  ]
  for (const [name, token] of table) {
    const res = await postTicket(app, token, SEED_TICKET)
    t.equal(res.statusCode, 401, `${name}: 401`)
    t.match(res.headers['www-authenticate'], /^Bearer/, `${name}: WWW-Authenticate`)
    t.match(res.json(), { Status: 'failed', Code: 'UNAUTHORIZED', StatusCode: 401 }, `${name}: envelope`)
  }
  t.equal((await postTicket(app, valid, SEED_TICKET)).statusCode, 202, 'the genuine token is accepted')
})
