/**
 * The state machines as Mermaid state diagrams, rendered from the transition tables themselves (so the picture in
 * docs/state-machines.md cannot drift from the rules: test/domain/state-diagram.test.ts compares them).
 */

export interface DiagramRule {
  action: string
  by: string
  from: readonly string[] | 'none'
  to: string
  event: string
  referralType?: string
}

/** One Mermaid `stateDiagram-v2`: an edge per (from, to) pair, labelled with its actions, who takes them and when. */
export function stateDiagram(rules: readonly DiagramRule[]): string {
  const edges = new Map<string, string[]>()
  for (const r of rules) {
    const froms = r.from === 'none' ? ['[*]'] : r.from
    for (const from of froms) {
      const to = r.to === 'same' ? from : r.to
      const key = `${from} --> ${to}`
      const label = `${r.action} (${r.by}${r.referralType ? `, ${r.referralType}` : ''})`
      edges.set(key, [...(edges.get(key) ?? []), label])
    }
  }
  const lines = ['stateDiagram-v2']
  for (const [edge, labels] of edges) lines.push(`  ${edge}: ${labels.join(' / ')}`)
  return lines.join('\n')
}

/** The whole document: one section per table, with the table as text under its picture. */
export function stateMachinesDocument(machines: ReadonlyArray<{ title: string; rules: readonly DiagramRule[] }>): string {
  const out = [
    '# State machines',
    '',
    'Generated from the transition tables in `src/domain/` by `npm run docs:states`; a test fails when this file and the',
    'tables differ. Everything not listed is refused: a role that may never take an action → 403; a state the action is not',
    'allowed from → 409 `illegal_transition`.',
  ]
  for (const m of machines) {
    out.push('', `## ${m.title}`, '', '```mermaid', stateDiagram(m.rules), '```', '', '| action | by | from | to | event |', '|---|---|---|---|---|')
    for (const r of m.rules) {
      const from = r.from === 'none' ? '—' : r.from.join(', ')
      out.push(`| \`${r.action}\`${r.referralType ? ` (${r.referralType})` : ''} | ${r.by} | ${from} | ${r.to} | \`${r.event}\` |`)
    }
  }
  return `${out.join('\n')}\n`
}
