/**
 * A plain column layout for people reading a terminal: a header, a rule, one row per item, columns padded to the
 * widest cell. Chinese characters count as two columns.
 */
export function table(columns: string[], rows: Array<Array<unknown>>): string {
  const cells = rows.map((r) => r.map(cell))
  const widths = columns.map((c, i) => Math.max(width(c), ...cells.map((r) => width(r[i] ?? ''))))
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat(widths[i] - width(c))))
      .join('  ')
      .trimEnd()
  const out = [line(columns), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)]
  return out.join('\n') + '\n'
}

/** `key: value` lines for one record. */
export function record(fields: Array<[string, unknown]>): string {
  const w = Math.max(...fields.map(([k]) => width(k)))
  return fields.map(([k, v]) => `${k}${' '.repeat(w - width(k))}  ${cell(v)}`).join('\n') + '\n'
}

function cell(v: unknown): string {
  if (v === null || v === undefined || v === '') return '-'
  if (Array.isArray(v)) return v.length ? v.map(cell).join(',') : '-'
  if (typeof v === 'object') return JSON.stringify(v)
  return String(v).replace(/\s+/g, ' ')
}

function width(s: string): number {
  let w = 0
  for (const ch of s) w += /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/.test(ch) ? 2 : 1
  return w
}
