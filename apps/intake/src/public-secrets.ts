import { ConfigError } from '@request-out/contracts'
import { DEVELOPMENT_FINGERPRINT_KEY, DEVELOPMENT_JWT_SECRET } from '@request-out/runtime'

export { DEVELOPMENT_FINGERPRINT_KEY, DEVELOPMENT_JWT_SECRET }

const MIN_SECRET_LENGTH = 32
/** A secret of fewer distinct characters than this is a pattern, not a secret ("aaaa…", "abab…"). */
const MIN_DISTINCT_CHARACTERS = 10

/**
 * Every secret value (JWT_SECRET, TICKET_FINGERPRINT_KEY) written anywhere in this repository (code,
 * tests, examples, manifests): anyone can read them, so anyone could sign tokens or recompute
 * fingerprints with them. Production refuses each one.
 * `test/public-secrets.test.ts` fails when a file of the repository holds a value missing here.
 */
export const PUBLIC_SECRETS: readonly string[] = [
  DEVELOPMENT_JWT_SECRET,
  DEVELOPMENT_FINGERPRINT_KEY,
  // deploy/k8s/secret.yaml
  'replace-with-at-least-32-random-characters-please',
  'replace-with-another-32-random-characters-please',
  // apps/intake/test/errors.test.ts
  'another-secret-another-secret-1234'
]

/** Throws a ConfigError naming the setting when its secret must not be used in production. */
export function assertProductionSecret (secret: string, name = 'JWT_SECRET'): void {
  if (secret.length < MIN_SECRET_LENGTH) {
    throw new ConfigError(`${name}: must be at least ${MIN_SECRET_LENGTH} characters in production`)
  }
  if (PUBLIC_SECRETS.includes(secret.trim())) {
    throw new ConfigError(`${name}: this value is published in the Request Out repository (an example or a test); generate your own, e.g. openssl rand -base64 48`)
  }
  if (new Set(secret).size < MIN_DISTINCT_CHARACTERS) {
    throw new ConfigError(`${name}: made of fewer than ${MIN_DISTINCT_CHARACTERS} distinct characters; generate a random one, e.g. openssl rand -base64 48`)
  }
}
