/* global CSS */
// Keeps the products page's counts fresh without reloading it (and losing a half-typed reason).
setInterval(async () => {
  const res = await fetch('/admin/products.json', { credentials: 'same-origin' })
  if (!res.ok) return
  for (const p of (await res.json()).Products) {
    const row = document.querySelector('tr[data-key="' + CSS.escape(p.key) + '"]')
    if (!row) continue
    const set = (field, value) => { const cell = row.querySelector('[data-field="' + field + '"]'); if (cell) cell.textContent = String(value) }
    set('waiting', (p.counts.waiting || 0) + (p.counts.prioritized || 0))
    set('active', p.counts.active || 0)
    set('delayed', p.counts.delayed || 0)
    set('failed', p.counts.failed || 0)
    set('recent-completed', p.recent.completed)
    set('recent-failed', p.recent.failed)
    if (p.deadLetters) set('dead-letters', p.deadLetters.lastHour + ' / ' + p.deadLetters.lastDay)
    const b = p.breaker
    const cell = row.querySelector('[data-field="breaker"]')
    if (cell) {
      cell.textContent = b === null ? 'off' : b.State + (b.NextProbeAt ? ' (next probe ' + b.NextProbeAt + ')' : '')
      cell.className = 'breaker-' + (b === null ? 'closed' : b.State)
    }
  }
}, 5000)
