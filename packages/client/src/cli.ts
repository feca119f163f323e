#!/usr/bin/env node
// request-out: the API from a shell. Settings from the environment only (a password never on the
// command line): REQUEST_OUT_URL, and REQUEST_OUT_TOKEN or REQUEST_OUT_USERNAME + REQUEST_OUT_PASSWORD.
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { RequestOutClient } from './client.js'
import { RequestOutError } from './errors.js'
import type { ClientOptions, TicketEnvelope, TicketStreamEvent } from './types.js'

const USAGE: Record<string, string> = {
  submit: 'request-out submit --product S/T/I [--ticket-id ID] [--data JSON | --data @file.json] [--wait SECONDS]',
  status: 'request-out status ID [--wait SECONDS]',
  cancel: 'request-out cancel ID',
  products: 'request-out products',
  webhook: 'request-out webhook set URL | show | rotate | delete',
  watch: 'request-out watch ID [--follow]  (each event as a JSON line as it happens, then the exit code of its record)',
  redrive: 'request-out redrive [--product S/T/I] [--client ID] [--from ISO] [--to ISO] [--confirm] | status ID | stop ID  (admins)'
}
const HELP = `Usage:\n${Object.values(USAGE).map((u) => `  ${u}`).join('\n')}

An ID that begins with "-" goes after "--": request-out status -- -my-ticket.
Environment: REQUEST_OUT_URL (default http://127.0.0.1:3000), and REQUEST_OUT_TOKEN or
REQUEST_OUT_USERNAME + REQUEST_OUT_PASSWORD.
Prints the API's JSON. Exit codes: 0 a record; 2 accepted or still in process; 3 refused or failed
(PRODUCT_NOT_AVAILABLE, PRODUCT_REJECTED, PRODUCT_FAILED, TICKET_CONFLICT, TICKET_FINAL; a
PRODUCT_NOT_AVAILABLE with "retry after N s" is temporary: the product's upstream is failing);
4 not found or cancelled; 1 anything else (usage, auth, validation, limits, no connection).`

class UsageError extends Error {}

const REFUSED = new Set(['PRODUCT_NOT_AVAILABLE', 'PRODUCT_REJECTED', 'PRODUCT_FAILED', 'TICKET_CONFLICT', 'TICKET_FINAL'])
const GONE = new Set(['NOT_FOUND', 'CANCELLED'])

/** The exit code of a ticket answer. */
function exitFor (envelope: TicketEnvelope): number {
  if (envelope.StatusCode === 200) return 0
  const code = envelope.Code ?? ''
  if (REFUSED.has(code)) return 3
  if (GONE.has(code)) return 4
  return 2
}

function clientFromEnv (env: NodeJS.ProcessEnv): RequestOutClient {
  const baseUrl = env.REQUEST_OUT_URL ?? 'http://127.0.0.1:3000'
  let auth: ClientOptions
  if (env.REQUEST_OUT_TOKEN) auth = { baseUrl, token: env.REQUEST_OUT_TOKEN }
  else if (env.REQUEST_OUT_USERNAME && env.REQUEST_OUT_PASSWORD) auth = { baseUrl, username: env.REQUEST_OUT_USERNAME, password: env.REQUEST_OUT_PASSWORD }
  else throw new UsageError('set REQUEST_OUT_TOKEN, or REQUEST_OUT_USERNAME and REQUEST_OUT_PASSWORD')
  return new RequestOutClient(auth)
}

function seconds (value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  if (!/^\d+$/.test(value)) throw new UsageError(`--wait takes whole seconds, not ${value}`)
  return Number(value)
}

async function run (argv: string[], env: NodeJS.ProcessEnv, out: (s: string) => void): Promise<number> {
  const [command, ...rest] = argv
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') { out(HELP); return command === undefined ? 1 : 0 }
  const usage = USAGE[command]
  if (usage === undefined) throw new UsageError(`unknown command ${command}`)
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      product: { type: 'string' },
      'ticket-id': { type: 'string' },
      data: { type: 'string' },
      wait: { type: 'string' },
      client: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      confirm: { type: 'boolean' },
      follow: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' }
    }
  })
  if (values.help === true) { out(`Usage: ${usage}`); return 0 }
  const print = (value: unknown): void => out(JSON.stringify(value, null, 2))
  const client = clientFromEnv(env)
  const wait = seconds(values.wait)

  switch (command) {
    case 'submit': {
      const [Subject, SubjectType, SubjectIdentifier, extra] = (values.product ?? '').split('/')
      if (!Subject || !SubjectType || !SubjectIdentifier || extra !== undefined) throw new UsageError(`--product must be Subject/SubjectType/SubjectIdentifier\nUsage: ${usage}`)
      let data: Record<string, unknown> | undefined
      if (values.data !== undefined) {
        const text = values.data.startsWith('@') ? readFileSync(values.data.slice(1), 'utf8') : values.data
        try { data = JSON.parse(text) as Record<string, unknown> } catch { throw new UsageError('--data is not JSON') }
      }
      const ticket = { TicketId: values['ticket-id'] ?? crypto.randomUUID(), Subject, SubjectType, SubjectIdentifier, ...(data === undefined ? {} : { Data: data }) }
      const answer = wait === undefined ? await client.submit(ticket) : await waitOrLast(client, ticket.TicketId, wait, await client.submit(ticket, { wait }))
      print(answer)
      return exitFor(answer)
    }
    case 'status': {
      const id = positionals[0]
      if (id === undefined) throw new UsageError(`Usage: ${usage}`)
      const answer = wait === undefined ? await client.get(id) : await waitOrLast(client, id, wait, await client.get(id, { wait }))
      print(answer)
      return exitFor(answer)
    }
    case 'cancel': {
      const id = positionals[0]
      if (id === undefined) throw new UsageError(`Usage: ${usage}`)
      const answer = await client.cancel(id)
      print(answer)
      return exitFor(answer)
    }
    case 'watch': {
      const id = positionals[0]
      if (id === undefined) throw new UsageError(`Usage: ${usage}`)
      let last: TicketStreamEvent | undefined
      for await (const event of client.events(id, { follow: values.follow === true })) {
        out(JSON.stringify(event))
        last = event
      }
      // The stream ended after the record: its exit code is the record's (a failure throws as `status` does).
      if (last?.Type !== 'record') return 2
      return exitFor(await client.get(id))
    }
    case 'products':
      print(await client.products())
      return 0
    case 'redrive': {
      const [action, id] = positionals
      if (action === 'status' && id !== undefined) print(await client.redriveStatus(id))
      else if (action === 'stop' && id !== undefined) print(await client.stopRedrive(id))
      else if (action !== undefined) throw new UsageError(`Usage: ${usage}`)
      else {
        // A dry run unless --confirm: what would be sent back is seen first.
        const filter = {
          ...(values.product === undefined ? {} : { Product: values.product }),
          ...(values.client === undefined ? {} : { ClientId: values.client }),
          ...(values.from === undefined ? {} : { From: values.from }),
          ...(values.to === undefined ? {} : { To: values.to })
        }
        print(await client.redrive(filter, { dryRun: values.confirm !== true }))
      }
      return 0
    }
    default: {
      const [action, url] = positionals
      if (action === 'set' && url !== undefined) print(await client.setWebhook(url))
      else if (action === 'show') print(await client.getWebhook())
      else if (action === 'rotate') print(await client.rotateWebhookSecret())
      else if (action === 'delete') { await client.deleteWebhook(); print({ Deleted: true }) } else throw new UsageError(`Usage: ${usage}`)
      return 0
    }
  }
}

/** With --wait longer than one long poll, keeps polling until the record or the time is up. */
async function waitOrLast (client: RequestOutClient, ticketId: string, waitSeconds: number, first: TicketEnvelope): Promise<TicketEnvelope> {
  if (first.Code !== 'IN_PROCESS' || waitSeconds <= 30) return first
  try {
    return await client.waitFor(ticketId, { timeoutMs: (waitSeconds - 30) * 1000 })
  } catch (err) {
    if (err instanceof RequestOutError && err.code === 'IN_PROCESS') return err.body as TicketEnvelope
    throw err
  }
}

run(process.argv.slice(2), process.env, (s) => process.stdout.write(`${s}\n`)).then((code) => { process.exitCode = code }, (err: unknown) => {
  if (err instanceof RequestOutError) {
    // A ticket refused or gone still prints its answer (the record of a failure is JSON too).
    if (err.body !== null && typeof err.body === 'object') process.stdout.write(`${JSON.stringify(err.body, null, 2)}\n`)
    const after = err.retryAfterSeconds === undefined ? '' : ` (temporary: retry after ${err.retryAfterSeconds} s)`
    process.stderr.write(`request-out: ${err.code || 'ERROR'}: ${err.message}${after}\n`)
    process.exitCode = REFUSED.has(err.code) ? 3 : GONE.has(err.code) ? 4 : 1
    return
  }
  process.stderr.write(`request-out: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}\n`)
  if (err instanceof UsageError && err.message.includes('\n')) process.stderr.write(`${err.message.split('\n').slice(1).join('\n')}\n`)
  process.exitCode = 1
})
