import { readFileSync } from 'node:fs'
import t from 'tap'
import { stateDiagram } from '../../src/domain/state-diagram.js'
import { renderStateMachines } from '../../scripts/state-diagrams.js'

t.test('docs/state-machines.md is the rendering of the transition tables (run npm run docs:states after changing them)', async (t) => {
  t.equal(readFileSync(new URL('../../docs/state-machines.md', import.meta.url), 'utf8'), renderStateMachines())
})

t.test('a rule becomes one labelled edge per source state; creation starts at [*]', async (t) => {
  const diagram = stateDiagram([
    { action: 'create', by: 'court', from: 'none', to: 'referred', event: 'x.created' },
    { action: 'recall', by: 'court', from: ['referred', 'declined'], to: 'recalled', event: 'x.recalled' },
    { action: 'note', by: 'mediation', from: ['referred'], to: 'same', event: 'x.noted' },
    { action: 'close', by: 'court', from: ['agreed'], to: 'closed', event: 'x.closed', referralType: 'pre_filing' },
  ])
  t.equal(
    diagram,
    [
      'stateDiagram-v2',
      '  [*] --> referred: create (court)',
      '  referred --> recalled: recall (court)',
      '  declined --> recalled: recall (court)',
      '  referred --> referred: note (mediation)',
      '  agreed --> closed: close (court, pre_filing)',
    ].join('\n'),
  )
})
