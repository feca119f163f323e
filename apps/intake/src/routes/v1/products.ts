import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import {
  AvailabilityRequest, AvailabilityResponse, ErrorEnvelope, Message, ProductParams, ProductsResponse, Status,
  productKey, successEnvelope, type ProductView
} from '@request-out/contracts'
import { HttpProblem } from '../../http-problem.js'
import { mayUseProduct, principalOf, requireAdmin } from '../../plugins/auth.js'

const errors = { 400: ErrorEnvelope, 401: ErrorEnvelope, 403: ErrorEnvelope, 404: ErrorEnvelope, 429: ErrorEnvelope, 503: ErrorEnvelope }

const productRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { catalog } = app.config

  app.get('/products', {
    schema: {
      tags: ['products'],
      summary: 'The products this caller may use, with their availability and upstream breaker',
      security: [{ bearerAuth: [] }],
      response: { 200: ProductsResponse, ...errors }
    }
  }, async (request) => {
    const principal = principalOf(request)
    const products: ProductView[] = catalog.list()
      .filter((p) => mayUseProduct(principal, p.key))
      .map((p) => {
        const a = app.availability.get(p.key)
        return {
          Key: p.key,
          Subject: p.definition.Subject,
          SubjectType: p.definition.SubjectType,
          SubjectIdentifier: p.definition.SubjectIdentifier,
          Name: p.name,
          Kind: p.kind,
          Available: a.Available,
          ...(a.Reason === undefined ? {} : { Reason: a.Reason }),
          Breaker: app.breakers.view(p.key),
          ...(p.inputSchema === undefined ? {} : { InputSchema: p.inputSchema })
        }
      })
    return successEnvelope({ Products: products })
  })

  app.put('/products/:Subject/:SubjectType/:SubjectIdentifier/availability', {
    schema: {
      tags: ['products'],
      summary: 'Switch a product on or off for every intake (admin)',
      security: [{ bearerAuth: [] }],
      params: ProductParams,
      body: AvailabilityRequest,
      response: { 200: AvailabilityResponse, ...errors, 413: ErrorEnvelope, 415: ErrorEnvelope }
    },
    preHandler: requireAdmin
  }, async (request) => {
    const key = productKey(request.params)
    if (catalog.get(key) === undefined) throw new HttpProblem('NOT_FOUND', `No product ${key}`)
    const actor = principalOf(request).clientId
    const saved = await app.operatorActions.setAvailability({ actor, address: request.ip }, key, request.body.Available, request.body.Reason)
    request.log.info({ product: key, available: saved.Available }, 'product availability switched')
    return { Status: Status.SUCCESS, Message: Message.AVAILABILITY_SAVED, Data: { Key: key, ...saved }, StatusCode: 200 }
  })
}

export default productRoutes
