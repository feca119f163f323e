import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { Value } from '@sinclair/typebox/value'
import { ConfigError, UsersFile, type UserRecord } from '@request-out/contracts'

const SCRYPT = { N: 16384, r: 8, p: 1, keyLength: 32 } as const

function scryptAsync (password: string, salt: Buffer, keyLength: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keyLength, options, (err, key) => { err === null ? resolve(key) : reject(err) })
  })
}

/** `scrypt$N$r$p$salt$hash`, salt and hash in base64url. */
export async function hashPassword (password: string): Promise<string> {
  const salt = randomBytes(16)
  const hash = await scryptAsync(password, salt, SCRYPT.keyLength, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p })
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64url'), hash.toString('base64url')].join('$')
}

export async function verifyPassword (password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$')
  if (scheme !== 'scrypt' || salt === undefined || hash === undefined) return false
  const expected = Buffer.from(hash, 'base64url')
  const actual = await scryptAsync(password, Buffer.from(salt, 'base64url'), expected.length, {
    N: Number(n), r: Number(r), p: Number(p), maxmem: 64 * 1024 * 1024
  })
  return actual.length === expected.length && timingSafeEqual(actual, expected)
}

/**
 * Development only (config refuses them in production). Hashed ahead of time: three scrypt runs
 * at start-up left about 50 MB of native memory behind in the intake's resident set.
 * Passwords: demo-client-secret, demo-admin-secret.
 */
export const DEMO_USERS: UserRecord[] = [
  { Username: 'demo-client', Role: 'client', PasswordHash: 'scrypt$16384$8$1$1wGWcTt74YZjuONwLN07UA$kgIVb7e1_Il-GivPgzlGcGGj5sh09F74_hZdxBo1kWo' },
  { Username: 'demo-admin', Role: 'admin', PasswordHash: 'scrypt$16384$8$1$RSGR9cSbzpZZsX-RUu1Ukw$EFjTY-hkoYEssl7WZwJEoewZRdAIe-j2wF-DVlhANqs' }
]

// The hash of a random password nobody knows: unknown usernames are checked against it, so a miss
// costs as much time as a wrong password.
const DECOY_HASH = 'scrypt$16384$8$1$dvnLXJjJfVfNBoMZ7Ak9gw$ZAlKIhExqLSr39Wyowwb-9R8eYYxM9qw0NsT-rAee3s'

export function readUsersFile (path: string): UserRecord[] {
  let raw: unknown
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'))
  } catch (err) {
    throw new ConfigError(`AUTH_USERS_FILE ${path} cannot be read as JSON: ${(err as Error).message}`)
  }
  const error = Value.Errors(UsersFile, raw).First()
  if (error !== undefined) throw new ConfigError(`AUTH_USERS_FILE ${path}: ${error.path || '/'}: ${error.message}`)
  return (raw as UsersFile).Users
}

/** The users of the built-in login. */
export class UserDirectory {
  readonly #users: Map<string, UserRecord>

  private constructor (users: UserRecord[]) {
    this.#users = new Map(users.map((u) => [u.Username, u]))
  }

  /** The given users, or the demo users when there are none (development only; config refuses it in production). */
  static async create (fromFile: UserRecord[] | undefined): Promise<UserDirectory> {
    return new UserDirectory(fromFile ?? DEMO_USERS)
  }

  async authenticate (username: string, password: string): Promise<UserRecord | undefined> {
    const user = this.#users.get(username)
    const ok = await verifyPassword(password, user?.PasswordHash ?? DECOY_HASH)
    return ok && user !== undefined ? user : undefined
  }
}
