import t from 'tap'
import { startIntake, tokenFor } from './helpers.js'

t.test('CORS_ORIGINS lets a page of those origins call the API from a browser; no other', async (t) => {
  const { app } = await startIntake(t, { CORS_ORIGINS: 'https://app.example,http://localhost:5173' })
  const preflight = await app.inject({
    method: 'OPTIONS',
    url: '/v1/request-out',
    headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type,prefer' }
  })
  t.equal(preflight.statusCode, 204)
  t.equal(preflight.headers['access-control-allow-origin'], 'https://app.example')
  t.match(String(preflight.headers['access-control-allow-headers']), /authorization/)
  const get = await app.inject({ method: 'GET', url: '/v1/products', headers: { origin: 'http://localhost:5173', authorization: `Bearer ${tokenFor('client-a')}` } })
  t.equal(get.headers['access-control-allow-origin'], 'http://localhost:5173')
  t.match(String(get.headers['access-control-expose-headers']), /retry-after/)
  const foreign = await app.inject({ method: 'GET', url: '/v1/products', headers: { origin: 'https://evil.example', authorization: `Bearer ${tokenFor('client-a')}` } })
  t.equal(foreign.headers['access-control-allow-origin'], undefined, 'another origin gets no CORS header')
})

t.test('without CORS_ORIGINS no answer carries CORS headers', async (t) => {
  const { app } = await startIntake(t)
  const get = await app.inject({ method: 'GET', url: '/v1/products', headers: { origin: 'https://app.example', authorization: `Bearer ${tokenFor('client-a')}` } })
  t.equal(get.headers['access-control-allow-origin'], undefined)
})
