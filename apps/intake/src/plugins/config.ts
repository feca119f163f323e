import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { IntakeConfig } from '../config.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: IntakeConfig
  }
}

async function configPlugin (app: FastifyInstance, config: IntakeConfig): Promise<void> {
  app.decorate('config', config)
}

export default fp(configPlugin, { name: 'config', fastify: '5.x' })
