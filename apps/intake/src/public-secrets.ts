import { ConfigError } from '@request-out/contracts'
import { DEVELOPMENT_JWT_SECRET } from '@request-out/runtime'

export { DEVELOPMENT_JWT_SECRET }

const MIN_SECRET_LENGTH = 32
/** A secret of fewer distinct characters than this is a pattern, not a secret ("aaaa…", "abab…"). */
const MIN_DISTINCT_CHARACTERS = 10

/**
 * Every JWT_SECRET value written anywhere in this repository (code, tests, examples, manifests):
 * anyone can read them, so anyone could sign tokens with them. Production refuses each one.
 * `test/public-secrets.test.ts` fails when a file of the repository holds a value missing here.
 */
export const PUBLIC_SECRETS: readonly string[] = [
  DEVELOPMENT_JWT_SECRET,
  // deploy/k8s/secret.yaml
  'replace-with-at-least-32-random-characters-please',
  // apps/intake/test/errors.test.ts
  'another-secret-another-secret-1234'
]

/** Throws a ConfigError naming JWT_SECRET when the secret must not sign production tokens. */
export function assertProductionSecret (secret: string): void {
  if (secret.length < MIN_SECRET_LENGTH) {
    throw new ConfigError(`JWT_SECRET: must be at least ${MIN_SECRET_LENGTH} characters in production`)
  }
  if (PUBLIC_SECRETS.includes(secret.trim())) {
    throw new ConfigError('JWT_SECRET: this value is published in the Request Out repository (an example or a test); generate your own, e.g. openssl rand -base64 48')
  }
  if (new Set(secret).size < MIN_DISTINCT_CHARACTERS) {
    throw new ConfigError(`JWT_SECRET: made of fewer than ${MIN_DISTINCT_CHARACTERS} distinct characters; generate a random one, e.g. openssl rand -base64 48`)
  }
}
