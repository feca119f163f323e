import { Value } from '@sinclair/typebox/value'

/** A `datetime-local` value (no zone, maybe no seconds) is read as UTC, as the form says. */
function isoTime (value: string): string {
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(value) ? `${value}:00Z` : /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/.test(value) ? `${value}Z` : value
}

/** The form's non-empty fields as an API query, or the reasons it is not one. */
export function toQuery<T> (schema: Parameters<typeof Value.Check>[0], form: Record<string, string | undefined>): { query?: T, problems: string[] } {
  const query: Record<string, string> = {}
  for (const [key, value] of Object.entries(form)) {
    const v = value?.trim() ?? ''
    if (v !== '') query[key] = key === 'From' || key === 'To' ? isoTime(v) : v
  }
  const problems = [...Value.Errors(schema, query)].map((e) => `${e.path.slice(1)}: ${e.message}`)
  return problems.length === 0 ? { query: query as T, problems } : { problems }
}
