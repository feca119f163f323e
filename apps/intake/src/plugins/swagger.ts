import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'

/** OpenAPI 3 generated from the routes' TypeBox schemas; Swagger UI at /docs, JSON at /docs/json. */
async function swaggerPlugin (app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Request Out',
        version: '1.0.0',
        description: 'Create SaaS records through products: POST a ticket, then poll it by TicketId. ' +
          'Answers follow the seed envelope (TicketId, Subject, ..., Status, Message, StatusCode, Code on failures).'
      },
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          streamToken: { type: 'apiKey', in: 'query', name: 'stream_token', description: 'A stream token (POST /v1/stream-tokens): the event routes only' }
        }
      },
      tags: [
        { name: 'request-out', description: 'Tickets and their records' },
        { name: 'products', description: 'Product catalog and availability' },
        { name: 'events', description: 'Ticket events as they happen (Server-Sent Events) and stream tokens for browsers' },
        { name: 'auth', description: 'Built-in user access' },
        { name: 'operations', description: 'Health and metrics' }
      ]
    }
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })
}

export default fp(swaggerPlugin, { name: 'swagger', fastify: '5.x' })
