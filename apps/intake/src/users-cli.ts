#!/usr/bin/env node
// Manages AUTH_USERS_FILE for the built-in login:
//   request-out-users add <username> --role client|admin [--products key1,key2] [--file path] [--force]
//   request-out-users remove <username> [--file path]
//   request-out-users list [--file path]
// The password is read from stdin (first line) or from USER_PASSWORD, never from the command line
// (it would land in shell history and the process list).
import { existsSync, renameSync, writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { Role, type UserRecord, errorMessage } from '@request-out/contracts'
import { loadCatalog } from '@request-out/product-catalog'
import { hashPassword, readUsersFile } from './user-directory.js'

// One line per command, for the refusals that name it (the whole text is for --help).
const COMMAND_USAGE = {
  add: 'usage: request-out-users add <username> --role client|admin [--products a/b/c,d/e/f] [--file users.json] [--force]',
  remove: 'usage: request-out-users remove <username> [--file users.json]'
}
const MIN_PASSWORD_LENGTH = 12

const USAGE = `usage:
  request-out-users add <username> --role client|admin [--products a/b/c,d/e/f] [--file users.json] [--force]
  request-out-users remove <username> [--file users.json]
  request-out-users list [--file users.json]
The password of "add" (at least 12 characters) comes from stdin or USER_PASSWORD. --file defaults
to AUTH_USERS_FILE. "add" records when it wrote the user: tokens issued before then are refused.
"add" refuses an existing user unless --force is given. --products are checked against the
catalog of PRODUCTS_FILE (the built-in sandbox catalog when it is not set).`

async function readPassword (): Promise<string> {
  if (process.env.USER_PASSWORD !== undefined) return process.env.USER_PASSWORD
  if (process.stdin.isTTY) process.stderr.write('password: ')
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? ''
}

function fail (message: string): never {
  console.error(message)
  process.exit(2)
}

let parsed
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      role: { type: 'string' },
      products: { type: 'string' },
      file: { type: 'string' },
      force: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false }
    }
  })
} catch (err) {
  fail(`${errorMessage(err)} (request-out-users --help for usage)`)
}
const { values, positionals } = parsed
if (values.help) {
  console.log(USAGE)
  process.exit(0)
}
const [command, username] = positionals
const file = values.file ?? process.env.AUTH_USERS_FILE
if (file === undefined) fail('no users file: pass --file or set AUTH_USERS_FILE')
if (command !== 'add' && !existsSync(file)) fail(`no users file at ${file}`)
let users: UserRecord[] = []
try {
  users = existsSync(file) ? readUsersFile(file) : []
} catch (err) {
  fail(errorMessage(err))
}

function save (list: UserRecord[]): void {
  // Write then rename, so a running intake never reads half a file.
  const tmp = `${file}.tmp-${process.pid}`
  writeFileSync(tmp, `${JSON.stringify({ Users: list }, null, 2)}\n`, { mode: 0o600 })
  renameSync(tmp, file as string)
}

switch (command) {
  case 'add': {
    if (username === undefined || username === '') fail(COMMAND_USAGE.add)
    const role = values.role
    if (role !== Role.CLIENT && role !== Role.ADMIN) fail('--role must be client or admin')
    const products = values.products?.split(',').map((s) => s.trim()).filter((s) => s !== '')
    // Before the password is asked for: nobody types one for a user that cannot be written.
    const existing = users.find((u) => u.Username === username)
    if (existing !== undefined && !values.force) {
      fail(`user ${username} exists already (${existing.Role}, ${existing.Products?.join(',') ?? 'all products'}); pass --force to replace it`)
    }
    if (products !== undefined) {
      let known: string[]
      try {
        known = loadCatalog(process.env.PRODUCTS_FILE).keys()
      } catch (err) {
        fail(`cannot check --products against the catalog: ${errorMessage(err)}`)
      }
      const unknown = products.filter((p) => !known.includes(p))
      if (unknown.length > 0) fail(`unknown product ${unknown.join(', ')}; the catalog has ${known.join(', ')}`)
    }
    const password = await readPassword()
    if (password.length < MIN_PASSWORD_LENGTH) fail(`the password must have at least ${MIN_PASSWORD_LENGTH} characters`)
    const user: UserRecord = {
      Username: username,
      PasswordHash: await hashPassword(password),
      Role: role,
      ...(products === undefined ? {} : { Products: products }),
      // Every intake refuses tokens issued before this, once it has read the file again.
      ChangedAt: new Date().toISOString()
    }
    save([...users.filter((u) => u.Username !== username), user])
    console.log(`user ${username} (${role}) ${existing === undefined ? 'added to' : 'replaced in'} ${file}`)
    break
  }
  case 'remove': {
    if (username === undefined) fail(COMMAND_USAGE.remove)
    const left = users.filter((u) => u.Username !== username)
    if (left.length === users.length) fail(`no user ${username} in ${file}`)
    save(left)
    console.log(`user ${username} removed from ${file}`)
    break
  }
  case 'list':
    for (const u of users) console.log(`${u.Username}\t${u.Role}\t${u.Products?.join(',') ?? '(all products)'}`)
    break
  default:
    fail(command === undefined ? USAGE : `unknown command ${command}: add, remove or list (request-out-users --help for usage)`)
}
