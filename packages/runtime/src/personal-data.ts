/** What stands in a log line or a scrubbed text for a value taken out. */
export const REDACTED = '[redacted]'

/**
 * pino `redact` paths used by every process: credentials and personal data never reach a log line.
 * A ticket's whole `Data` is redacted (whatever a product's input holds), and so are `NIK` and
 * `Image` wherever a log object carries them.
 */
export const LogRedactPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'Authorization',
  'authorization',
  'Password',
  'password',
  '*.Password',
  '*.password',
  'AccessToken',
  '*.AccessToken',
  'token',
  '*.token',
  'NIK',
  '*.NIK',
  '*.*.NIK',
  'Image',
  '*.Image',
  '*.*.Image',
  'Data',
  '*.Data'
] as const

/**
 * A run of 16 or more digits, single spaces, dots or dashes allowed between them: a NIK however it
 * is formatted (`3171015708450002`, `31710157-08450002`, `3171 0157 0845 0002`), and card or account
 * numbers alike. Personal data, whoever wrote it.
 */
const LONG_DIGIT_RUN = /\d(?:[ .-]?\d){15,}/g

/**
 * Text from outside (an upstream's message) with personal and secret values replaced, before it
 * reaches a record or a log line: long digit runs, and each of `secrets` (API keys, the ticket's
 * personal values) wherever it appears.
 */
export function scrubText (text: string, secrets: Iterable<string> = []): string {
  let out = text
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join(REDACTED)
  }
  return out.replace(LONG_DIGIT_RUN, REDACTED)
}
