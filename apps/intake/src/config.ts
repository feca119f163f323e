import { readFileSync } from 'node:fs'
import { createPublicKey } from 'node:crypto'
import { ConfigError, IntakeEnv, parseEnv, type BenchFeature, type UserRecord, errorMessage } from '@request-out/contracts'
import { readUsersFile } from './user-directory.js'
import { DEVELOPMENT_FINGERPRINT_KEY, DEVELOPMENT_JWT_SECRET, assertProductionSecret } from './public-secrets.js'
import { loadCatalog, type ProductCatalog } from '@request-out/product-catalog'
import type { RedisTarget } from '@request-out/redis-connection'
import type { Algorithm } from 'fast-jwt'

type AuthConfig =
  | {
    mode: 'login'
    secret: string
    /** The users file's users at start (undefined: the demo users); the directory keeps them current. */
    users: UserRecord[] | undefined
    usersFile: string | undefined
    issuer: string
    audience: string
    expiresInSeconds: number
  }
  | { mode: 'external', publicKey: string, algorithms: Algorithm[], issuer: string, audience: string }

export interface IntakeConfig {
  env: IntakeEnv
  production: boolean
  redis: RedisTarget
  auth: AuthConfig
  catalog: ProductCatalog
  /**
   * What signs stream tokens (POST /v1/stream-tokens): JWT_SECRET with the built-in login,
   * STREAM_TOKEN_SECRET with external tokens; undefined when neither is there (no stream tokens).
   */
  streamTokens: { secret: string, issuer: string, audience: string, ttlSeconds: number } | undefined
  /** TICKET_FINGERPRINT_KEY (the development key outside production when unset) and the previous one. */
  fingerprintKeys: { current: string, previous: string | undefined }
  /** The ticket path's features `npm run bench` switched off (BENCH_INTAKE_OFF); empty outside the bench. */
  benchOff: ReadonlySet<BenchFeature>
  /** Notes for the start-up log (e.g. "demo users in use"). */
  warnings: string[]
}

function readPem (value: string): string {
  return value.includes('-----BEGIN') ? value.replace(/\\n/g, '\n') : readFileSync(value, 'utf8')
}

/** HS/RS confusion is impossible: the verifier only ever accepts the one family the key allows. */
function algorithmsFor (pem: string): Algorithm[] {
  const key = createPublicKey(pem)
  switch (key.asymmetricKeyType) {
    case 'rsa': return ['RS256']
    case 'ec': return ['ES256']
    case 'ed25519': return ['EdDSA']
    default: throw new ConfigError(`JWT_PUBLIC_KEY: unsupported key type ${String(key.asymmetricKeyType)} (use RSA, EC P-256 or Ed25519)`)
  }
}

/** Reads and checks everything the intake needs from the environment; throws ConfigError naming the variable. */
export function loadIntakeConfig (source: NodeJS.ProcessEnv = process.env): IntakeConfig {
  const env = parseEnv(IntakeEnv, source)
  const production = env.NODE_ENV === 'production'
  const warnings: string[] = []
  let auth: AuthConfig
  const common = { issuer: env.JWT_ISSUER, audience: env.JWT_AUDIENCE }
  if (env.JWT_PUBLIC_KEY !== undefined) {
    let pem: string
    try {
      pem = readPem(env.JWT_PUBLIC_KEY)
    } catch (err) {
      throw new ConfigError(`JWT_PUBLIC_KEY: cannot read the key: ${errorMessage(err)}`)
    }
    let algorithms: Algorithm[]
    try {
      algorithms = algorithmsFor(pem)
    } catch (err) {
      if (err instanceof ConfigError) throw err
      throw new ConfigError(`JWT_PUBLIC_KEY: not a PEM public key: ${errorMessage(err)}`)
    }
    auth = { mode: 'external', publicKey: pem, algorithms, ...common }
  } else {
    let secret = env.JWT_SECRET
    if (secret === undefined) {
      if (production) throw new ConfigError('JWT_SECRET: required in production (or set JWT_PUBLIC_KEY for external tokens)')
      secret = DEVELOPMENT_JWT_SECRET
      warnings.push('JWT_SECRET is not set: using the development secret')
    }
    if (production) assertProductionSecret(secret)
    if (env.AUTH_USERS_FILE === undefined) {
      if (production) throw new ConfigError('AUTH_USERS_FILE: required in production (demo users are refused)')
      warnings.push('AUTH_USERS_FILE is not set: demo users demo-client and demo-admin are enabled')
    }
    const users = env.AUTH_USERS_FILE === undefined ? undefined : readUsersFile(env.AUTH_USERS_FILE)
    if (users !== undefined && users.length === 0) {
      // An empty file is what deploy/k8s/secret.yaml ships: a service nobody can log in to.
      if (production) throw new ConfigError(`AUTH_USERS_FILE ${env.AUTH_USERS_FILE ?? ''}: has no users, so nobody could log in; add one with the users CLI (README, "Users of the built-in login")`)
      warnings.push('AUTH_USERS_FILE has no users: nobody can log in until one is added')
    }
    auth = { mode: 'login', secret, users, usersFile: env.AUTH_USERS_FILE, expiresInSeconds: env.JWT_EXPIRES_IN_SECONDS, ...common }
  }
  const streamTokenSecret = auth.mode === 'login' ? auth.secret : env.STREAM_TOKEN_SECRET
  if (auth.mode === 'external') {
    if (streamTokenSecret === undefined) warnings.push('STREAM_TOKEN_SECRET is not set: no stream tokens for browsers (event streams still take Bearer tokens)')
    else if (production) assertProductionSecret(streamTokenSecret, 'STREAM_TOKEN_SECRET')
  }
  // Their own audience: no other route's verifier takes a stream token.
  const streamTokens = streamTokenSecret === undefined
    ? undefined
    : { secret: streamTokenSecret, issuer: env.JWT_ISSUER, audience: `${env.JWT_AUDIENCE}:events`, ttlSeconds: env.STREAM_TOKEN_TTL_SECONDS }
  if (env.BENCH_INTAKE_OFF !== undefined) {
    if (production) throw new ConfigError('BENCH_INTAKE_OFF: the bench\'s switches are refused in production')
    warnings.push(`BENCH_INTAKE_OFF: ${env.BENCH_INTAKE_OFF} switched off for a bench: this intake breaks the contract`)
  }
  const benchOff = new Set((env.BENCH_INTAKE_OFF?.split(',') ?? []) as BenchFeature[])
  let fingerprintKey = env.TICKET_FINGERPRINT_KEY
  if (fingerprintKey === undefined) {
    if (production) throw new ConfigError('TICKET_FINGERPRINT_KEY: required in production (the same random value on every intake, e.g. openssl rand -base64 48)')
    fingerprintKey = DEVELOPMENT_FINGERPRINT_KEY
    warnings.push('TICKET_FINGERPRINT_KEY is not set: using the development key')
  }
  if (production) assertProductionSecret(fingerprintKey, 'TICKET_FINGERPRINT_KEY')
  let catalog: ProductCatalog
  try {
    catalog = loadCatalog(env.PRODUCTS_FILE, source)
  } catch (err) {
    throw new ConfigError(`PRODUCTS_FILE: ${errorMessage(err)}`)
  }
  return {
    env,
    production,
    redis: { url: env.REDIS_URL, clusterNodes: env.REDIS_CLUSTER_NODES },
    auth,
    streamTokens,
    benchOff,
    catalog,
    fingerprintKeys: { current: fingerprintKey, previous: env.TICKET_FINGERPRINT_PREVIOUS_KEY },
    warnings
  }
}
