import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto'
import { readFileSync, statSync } from 'node:fs'
import { Value } from '@sinclair/typebox/value'
import { ConfigError, UsersFile, type UserRecord, errorMessage } from '@request-out/contracts'

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

async function verifyPassword (password: string, stored: string): Promise<boolean> {
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
    throw new ConfigError(`AUTH_USERS_FILE ${path} cannot be read as JSON: ${errorMessage(err)}`)
  }
  const error = Value.Errors(UsersFile, raw).First()
  if (error !== undefined) throw new ConfigError(`AUTH_USERS_FILE ${path}: ${error.path || '/'}: ${error.message}`)
  return (raw as UsersFile).Users
}

/** The slice of a pino logger the directory needs. */
interface DirectoryLog {
  info: (obj: object, msg: string) => void
  error: (obj: object, msg: string) => void
}

/**
 * The users of the built-in login: the demo users (development), or `AUTH_USERS_FILE`, whose stat
 * is polled so that a removed or changed user loses or changes access without a restart. A stat
 * poll also sees Kubernetes Secret updates (a symlink swap) that file-change events miss. A file
 * that stops parsing keeps the last good directory and is reported once per change.
 */
export class UserDirectory {
  #users: Map<string, UserRecord>
  #timer: NodeJS.Timeout | undefined
  #seen = ''
  #reloadError: string | undefined

  private constructor (users: UserRecord[]) {
    this.#users = byName(users)
  }

  /** The demo users (development only; config refuses them in production). */
  static demo (): UserDirectory {
    return new UserDirectory(DEMO_USERS)
  }

  /** The file's users, read already by config (`initial`), then kept current every `pollMs`. */
  static watching (path: string, initial: UserRecord[], pollMs: number, log: DirectoryLog): UserDirectory {
    const directory = new UserDirectory(initial)
    directory.#seen = statSignature(path)
    directory.#timer = setInterval(() => { directory.#reloadIfChanged(path, log) }, pollMs)
    directory.#timer.unref()
    return directory
  }

  #reloadIfChanged (path: string, log: DirectoryLog): void {
    const signature = statSignature(path)
    if (signature === this.#seen) return
    this.#seen = signature
    try {
      const users = readUsersFile(path)
      this.#users = byName(users)
      this.#reloadError = undefined
      log.info({ users: users.length }, 'AUTH_USERS_FILE changed: users reloaded')
    } catch (err) {
      this.#reloadError = err instanceof Error ? err.message : String(err)
      log.error({ err: { message: this.#reloadError } }, 'AUTH_USERS_FILE changed but cannot be read: keeping the last good users')
    }
  }

  /** Why the last change of the file was not applied, while the file stays unreadable. */
  get reloadError (): string | undefined {
    return this.#reloadError
  }

  get size (): number {
    return this.#users.size
  }

  /** The user as the directory holds it now, or undefined (removed, or never there). */
  get (username: string): UserRecord | undefined {
    return this.#users.get(username)
  }

  async authenticate (username: string, password: string): Promise<UserRecord | undefined> {
    const user = this.#users.get(username)
    const ok = await verifyPassword(password, user?.PasswordHash ?? DECOY_HASH)
    return ok && user !== undefined ? user : undefined
  }

  close (): void {
    if (this.#timer !== undefined) clearInterval(this.#timer)
  }
}

const byName = (users: UserRecord[]): Map<string, UserRecord> => new Map(users.map((u) => [u.Username, u]))

/** What tells a changed file: size, modification time and inode (a replaced file or swapped link). */
function statSignature (path: string): string {
  try {
    const s = statSync(path)
    return `${s.size}:${s.mtimeMs}:${s.ino}`
  } catch {
    return 'missing'
  }
}
