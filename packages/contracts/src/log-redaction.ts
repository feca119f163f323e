/**
 * pino `redact` paths used by every process: credentials and personal data never reach a log line.
 * Product input fields marked `"x-personal": true` are redacted too (see product-catalog).
 */
export const LogRedactPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'headers.authorization',
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
