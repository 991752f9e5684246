/**
 * Realistic POST /v1/referrals bodies: 2–4 parties (natural and legal persons, some with agents), one consent per
 * party, valid resident IDs and USCCs (check characters computed with the service's own functions), unique case
 * numbers `（YYYY）京0105民诉前调N号`.
 */
import { residentIdCheckChar, usccCheckChar } from '../../dist/src/domain/identifiers.js'

/** The simulators' deterministic PRNG (mulberry32), so runs draw the same mix of bodies. */
export { seededRandom as rng } from '../../dist/tools/simulators/shared.js'
import { seededRandom as rng } from '../../dist/tools/simulators/shared.js'

const SURNAMES = ['王', '李', '张', '刘', '陈', '杨', '黄', '赵', '吴', '周', '徐', '孙', '马', '朱', '胡', '郭', '何', '高', '林', '罗']
const GIVEN = ['伟', '芳', '娜', '秀英', '敏', '静', '丽', '强', '磊', '军', '洋', '勇', '艳', '杰', '娟', '涛', '明', '超', '秀兰', '霞', '平', '刚', '桂英']
const COMPANIES = [
  '北京华信物业管理有限公司',
  '北京朝阳建设工程有限公司',
  '北京京东世纪贸易有限公司',
  '北京链家置地房地产经纪有限公司',
  '中国工商银行股份有限公司北京朝阳支行',
  '北京首都开发股份有限公司',
]
const STREETS = ['八里庄街道', '朝外街道', '呼家楼街道', '三里屯街道', '建外街道', '麦子店街道', '团结湖街道', '酒仙桥街道']
const AREAS = ['110105', '110101', '110102', '110106', '110108', '130102', '440524', '320102', '510104']
const CLAIMS = [
  ['neighbor', '相邻关系纠纷', '请求被申请人停止漏水侵害，修复楼上卫生间防水层，并赔偿装修损失及误工费'],
  ['property_management', '物业服务合同纠纷', '请求被申请人支付拖欠的物业服务费及滞纳金，物业公司同意就服务质量问题协商减免'],
  ['labor', '劳动争议', '请求被申请人支付拖欠工资、未签订书面劳动合同二倍工资差额及解除劳动关系经济补偿金'],
  ['contract', '买卖合同纠纷', '请求被申请人支付货款并承担逾期付款违约金，双方对交付数量存在争议'],
  ['traffic', '机动车交通事故责任纠纷', '请求被申请人及保险公司赔偿医疗费、护理费、误工费、交通费及车辆维修费'],
  ['marriage_family', '婚姻家庭纠纷', '请求分割夫妻共同财产并确定子女抚养费的给付方式与数额'],
  ['consumer', '消费者权益纠纷', '请求退还预付卡余额并按照合同约定承担违约责任'],
  ['finance', '金融借款合同纠纷', '请求被申请人归还借款本金、利息及逾期罚息，并承担实现债权的费用'],
]

function residentId(r) {
  const area = AREAS[Math.floor(r() * AREAS.length)]
  const year = 1950 + Math.floor(r() * 50)
  const month = 1 + Math.floor(r() * 12)
  const day = 1 + Math.floor(r() * 28)
  const order = 1 + Math.floor(r() * 998)
  const first17 = `${area}${year}${String(month).padStart(2, '0')}${String(day).padStart(2, '0')}${String(order).padStart(3, '0')}`
  return first17 + residentIdCheckChar(first17)
}

function uscc(r) {
  // 91 = enterprise registered with the market regulator; 110105 = its registration area.
  const chars = '0123456789ABCDEFGHJKLMNPQRTUWXY'
  let body = ''
  for (let i = 0; i < 9; i++) body += chars[Math.floor(r() * chars.length)]
  const first17 = `91110105${body}`
  return first17 + usccCheckChar(first17)
}

const phone = (r) => `1${3 + Math.floor(r() * 6)}${String(Math.floor(r() * 1e9)).padStart(9, '0')}`
const personName = (r) => SURNAMES[Math.floor(r() * SURNAMES.length)] + GIVEN[Math.floor(r() * GIVEN.length)]

function party(r, role) {
  if (role === 'respondent' && r() < 0.3) {
    return {
      role,
      kind: 'legal_person',
      name: COMPANIES[Math.floor(r() * COMPANIES.length)],
      idType: 'uscc',
      idNumber: uscc(r),
      phone: `010-${String(60000000 + Math.floor(r() * 9999999))}`,
      address: `北京市朝阳区${STREETS[Math.floor(r() * STREETS.length)]}${1 + Math.floor(r() * 200)}号`,
      agents: [{ name: personName(r), kind: 'lawyer', licenseNumber: `1110${Math.floor(1e12 + r() * 8e12)}`, phone: phone(r) }],
    }
  }
  const p = {
    role,
    kind: 'natural_person',
    name: personName(r),
    idType: 'resident_id',
    idNumber: residentId(r),
    phone: phone(r),
  }
  if (r() < 0.7)
    p.address = `北京市朝阳区${STREETS[Math.floor(r() * STREETS.length)]}${1 + Math.floor(r() * 300)}号院${1 + Math.floor(r() * 20)}号楼${1 + Math.floor(r() * 30)}0${1 + Math.floor(r() * 4)}`
  if (r() < 0.2) p.agents = [{ name: personName(r), kind: 'relative', idType: 'resident_id', idNumber: residentId(r), phone: phone(r) }]
  return p
}

/**
 * Builds bodies for one court; `next()` returns a new body with a case number never used before in this run.
 * The year in the case number is the current year in Asia/Shanghai (the service refuses future years).
 */
export function referralFactory({ seed = 1, courtCode = '京0105', organizationIds = ['bj-cy-blz'], firstSeq = 1 } = {}) {
  const r = rng(seed)
  const year = new Date(Date.now() + 8 * 3600_000).getUTCFullYear()
  let seq = firstSeq
  return {
    next() {
      const n = 2 + Math.floor(r() * 3)
      const roles = ['applicant', 'respondent']
      for (let i = 2; i < n; i++) roles.push(r() < 0.5 ? 'respondent' : 'third_party')
      const parties = roles.map((role) => party(r, role))
      const [disputeType, causeOfAction, claimSummary] = CLAIMS[Math.floor(r() * CLAIMS.length)]
      const consentedAt = new Date(Date.now() - 3600_000 - Math.floor(r() * 86_400_000)).toISOString()
      return {
        referralType: 'pre_filing',
        courtCode,
        caseNumber: `（${year}）${courtCode}民诉前调${seq++}号`,
        disputeType,
        causeOfAction,
        claimSummary,
        claimAmount: `${1000 + Math.floor(r() * 200000)}.00`,
        parties,
        consent: parties.map((_, i) => ({ partyIndex: i, consentedAt, method: ['written', 'online', 'oral'][Math.floor(r() * 3)] })),
        designation: { mode: 'court_designated', organizationId: organizationIds[Math.floor(r() * organizationIds.length)] },
        materials: [],
      }
    },
  }
}

/** The organizations the bench registers (all on 京0105's special roster). */
export const BENCH_ORGANIZATIONS = [
  { id: 'bj-cy-blz', name: '八里庄街道人民调解委员会', kind: 'township_committee', regionCode: '110105' },
  { id: 'bj-cy-czj', name: '朝阳区诉前调解中心', kind: 'centre', regionCode: '110105' },
  { id: 'bj-cy-wyjf', name: '朝阳区物业纠纷人民调解委员会', kind: 'industry_committee', regionCode: '110105' },
]
