// The ceiling of the intake's accept path: a bare Fastify route that verifies the same token with
// fast-jwt and does one queue.add with the same options. Nothing else.
import Fastify from 'fastify'
import { createVerifier } from 'fast-jwt'
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import { DEVELOPMENT_JWT_SECRET } from '@request-out/runtime'

const port = Number(process.env.PORT)
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { enableOfflineQueue: false, maxRetriesPerRequest: 1 })
await new Promise((resolve) => redis.once('ready', resolve))
const queue = new Queue('baseline', { connection: redis, prefix: 'bench-baseline' })
const verify = createVerifier({
  key: DEVELOPMENT_JWT_SECRET,
  algorithms: ['HS256'],
  allowedIss: 'request-out',
  allowedAud: 'request-out',
  requiredClaims: ['sub', 'role', 'exp', 'iss', 'aud'],
  clockTolerance: 5000,
  cache: 10_000
})
const app = Fastify()
app.post('/accept', async (request, reply) => {
  const claims = verify((request.headers.authorization ?? '').slice(7)) as { sub: string }
  const body = request.body as { TicketId: string }
  await queue.add('ticket', { ...body, ClientId: claims.sub }, {
    jobId: `${Buffer.from(claims.sub).toString('base64url')}.${body.TicketId}`,
    attempts: 3,
    backoff: { type: 'exponential', delay: 1000, jitter: 0.5 }
  })
  return reply.code(202).send({ TicketId: body.TicketId })
})
await app.listen({ port, host: '127.0.0.1' })
console.log('baseline ready')
