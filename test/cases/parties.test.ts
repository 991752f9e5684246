import { randomBytes } from 'node:crypto'
import t from 'tap'
import { sealParties } from '../../src/cases/parties.js'
import { type Decrypt, maskedReferralView, type Referral, referralView, revealedKey } from '../../src/domain/referral.js'
import type { PartyInputT } from '../../src/schemas/referrals.js'
import { FieldCipher } from '../../src/security/field-cipher.js'
import { referralBody } from '../helpers/fixtures.js'

/**
 * Sealing parties, and the answer of the unit of work that sealed them: it shows the personal data it was given
 * without decrypting what it has just encrypted, and shows exactly what a decrypting reader is shown.
 */

const cipher = new FieldCipher([{ id: 'k1', key: randomBytes(32) }])

const parties: PartyInputT[] = [
  ...(referralBody().parties as PartyInputT[]),
  {
    role: 'third_party',
    kind: 'natural_person',
    name: '王五',
    idType: 'resident_id',
    idNumber: '11010519491231002x',
    phone: '13912345678',
    agents: [{ name: '赵律师', idType: 'resident_id', idNumber: '110105194912310021', phone: '13700001111' }],
  } as PartyInputT,
]

function referralOf(sealed: ReturnType<typeof sealParties>, withRevealed: boolean): Referral {
  const now = new Date('2026-12-01T02:00:00Z')
  return {
    id: '0193a000-0000-7000-8000-000000000001',
    version: 1,
    status: 'referred',
    referralType: 'pre_filing',
    courtCode: '京0105',
    caseNumber: '（2026）京0105民诉前调1号',
    disputeType: 'neighbor',
    organizationId: 'bj-cy-blz',
    heldBy: ['bj-cy-blz'],
    chainHead: 'x'.repeat(64),
    doc: {
      claimSummary: '请求停止侵害',
      parties: sealed.stored,
      consent: [],
      designation: { mode: 'court_designated', organizationId: 'bj-cy-blz' },
      materials: [],
      deadlines: { acceptanceDueOn: null, mediationDueOn: null, provisional: false },
    },
    createdAt: now,
    updatedAt: now,
    ...(withRevealed ? { revealed: sealed.revealed } : {}),
  }
}

function counting(): { decrypt: Decrypt; calls: () => number } {
  let n = 0
  return {
    decrypt: (token, context) => {
      n++
      return cipher.decrypt(token, context)
    },
    calls: () => n,
  }
}

t.test('the writer answers from what it sealed: same view, no decryption', async (t) => {
  const sealed = sealParties(cipher, parties)
  // idNumber, phone, address of the first party; idNumber of the second; idNumber and phone of the third and of its agent.
  t.equal(sealed.revealed.size, 8, 'every sealed value, by token and field')
  const fresh = counting()
  const fromWriter = referralView(referralOf(sealed, true), true, fresh.decrypt)
  t.equal(fresh.calls(), 0, 'nothing decrypted for the answer of the unit of work that sealed')
  const reader = counting()
  const fromReader = referralView(referralOf(sealed, false), true, reader.decrypt)
  t.equal(reader.calls(), 8, 'a reader decrypts each value')
  t.same(fromWriter, fromReader, 'the writer is shown exactly what a decrypting reader is shown')
  const shown = fromWriter.parties as Array<Record<string, unknown>>
  t.equal(shown[0].idNumber, parties[0].idNumber)
  t.equal(shown[0].address, parties[0].address)
  t.equal(shown[2].idNumber, '11010519491231002X', 'the normalized ID number, as stored')
  t.same((shown[2].agents as Array<Record<string, unknown>>)[0].phone, '13700001111')
})

t.test('a value is revealed only for the field it was sealed for', async (t) => {
  const sealed = sealParties(cipher, parties)
  const token = sealed.stored[0].phone!.enc
  t.equal(sealed.revealed.get(revealedKey(token, 'phone')), '13800138000')
  t.equal(sealed.revealed.get(revealedKey(token, 'address')), undefined, 'the phone token is not an address')
  // A phone token moved into the address field: the view decrypts it as an address, which fails as it always did.
  const moved = sealParties(cipher, parties)
  moved.stored[0].address = { ...moved.stored[0].address!, enc: moved.stored[0].phone!.enc }
  t.throws(() => referralView(referralOf(moved, true), true, counting().decrypt), { code: 'authentication_failed' })
})

t.test('masked views and what is stored never carry the revealed values', async (t) => {
  const sealed = sealParties(cipher, parties)
  const r = referralOf(sealed, true)
  const masked = JSON.stringify(maskedReferralView(r))
  const stored = JSON.stringify(r)
  for (const value of ['13800138000', '北京市朝阳区八里庄街道1号', '13912345678', '13700001111', parties[0].idNumber]) {
    t.notOk(masked.includes(value), `masked view has no ${value}`)
    t.notOk(stored.includes(value), `the referral serialized has no ${value}`)
  }
  const c = counting()
  t.same(referralView(r, false, c.decrypt), maskedReferralView(r), 'a masked view of a fresh referral is the masked view')
  t.equal(c.calls(), 0)
})
