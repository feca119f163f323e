/** Escapes text for HTML element content and quoted attributes. */
export function escapeHtml (value: unknown): string {
  return String(value)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;')
}

const STYLE = `
  body { font-family: system-ui, sans-serif; margin: 0; background: #f5f6f8; color: #1d2430; }
  header { background: #1d2430; color: #fff; padding: .8rem 1.5rem; display: flex; gap: 1.5rem; align-items: center; }
  header a { color: #cfe0ff; text-decoration: none; }
  header form { margin-left: auto; }
  main { padding: 1.5rem; max-width: 72rem; }
  table { border-collapse: collapse; width: 100%; background: #fff; }
  th, td { padding: .5rem .7rem; border-bottom: 1px solid #e3e6eb; text-align: left; vertical-align: top; }
  th { background: #eef1f5; font-weight: 600; }
  .num { text-align: right; font-variant-numeric: tabular-nums; }
  .on { color: #17803d; font-weight: 600; } .off { color: #b42318; font-weight: 600; }
  .box { background: #fff; padding: 1.5rem; max-width: 22rem; margin: 4rem auto; border-radius: 6px; box-shadow: 0 1px 3px #0002; }
  .box label { display: block; margin: .8rem 0 .3rem; } .box input { width: 100%; padding: .4rem; box-sizing: border-box; }
  .error { color: #b42318; } button { padding: .35rem .8rem; cursor: pointer; }
  form.inline { display: flex; gap: .4rem; align-items: center; }
`

export function page (title: string, body: string, options: { nav?: boolean, csrf?: string } = {}): string {
  const nav = options.nav === true
    ? `<header><strong>Request Out</strong><a href="/admin/queues">Queues</a><a href="/admin/products">Products</a>
       <form method="post" action="/admin/logout"><input type="hidden" name="csrf" value="${escapeHtml(options.csrf ?? '')}"><button>Log out</button></form></header>`
    : ''
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · Request Out</title><style>${STYLE}</style></head><body>${nav}${body}</body></html>`
}
