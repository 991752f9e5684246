import { createHash } from 'node:crypto'
import type { Static } from 'typebox'
import type { WarningLevel } from '../db/warning-repository.js'
import { CONFIRMATION_STATUSES } from '../domain/confirmation.js'
import { ORGANIZATION_KINDS } from '../domain/organization.js'
import { REFERRAL_STATUSES, SYSTEM_TERMINATION_REASON, TERMINATION_REASONS } from '../domain/referral-machine.js'
import { EVENT_TYPES } from './events.js'
import { DISPUTE_TYPES, ID_TYPES, type SuspensionBody } from './referrals.js'

/**
 * The code tables of contract §6 (`GET /v1/code-tables`): every enumeration of the contract with its Chinese and
 * English label, so that peers keep their dictionaries in step with the service.
 *
 * One source: each table's codes are the enumeration the API validates with (the arrays in domain/ and schemas/, or
 * the type of a body's field), and each label table is typed `Record<code, Label>` of exactly that enumeration, so a
 * code added without a label, or a label naming no code, fails the build. A table's `version` is a hash of its
 * entries: it changes exactly when a code or a label does.
 *
 * Decline reasons are not a table: a platform's reason for declining is free text (the timer's `acceptance_timeout`
 * aside), so there is no enumeration to publish.
 */

export interface Label {
  zh: string
  en: string
}

export interface CodeEntry extends Label {
  code: string
}

export interface CodeTable {
  name: CodeTableName
  version: string
  entries: CodeEntry[]
}

type Labels<Code extends string> = Record<Code, Label>

// ---------------------------------------------------------------------------------------------
// Labels, one table per enumeration

/** 纠纷类型 (contract §2, domain.md §7). */
const DISPUTE_TYPE_LABELS = {
  marriage_family: { zh: '婚姻家庭', en: 'Marriage and family' },
  neighbor: { zh: '邻里', en: 'Neighbours' },
  housing_homestead: { zh: '房屋宅基地', en: 'Housing and homestead land' },
  contract: { zh: '合同', en: 'Contract' },
  production_business: { zh: '生产经营', en: 'Production and business operation' },
  damage_compensation: { zh: '损害赔偿', en: 'Compensation for damage' },
  land_forest: { zh: '山林土地', en: 'Forest and land' },
  land_acquisition: { zh: '征地拆迁', en: 'Land acquisition and demolition' },
  environment: { zh: '环境污染', en: 'Environmental pollution' },
  labor: { zh: '劳动争议', en: 'Labour dispute' },
  consumer: { zh: '消费', en: 'Consumer' },
  medical: { zh: '医疗', en: 'Medical' },
  traffic: { zh: '道路交通', en: 'Road traffic' },
  property_management: { zh: '物业', en: 'Property management' },
  tourism: { zh: '旅游', en: 'Tourism' },
  finance: { zh: '金融', en: 'Finance' },
  insurance: { zh: '保险', en: 'Insurance' },
  intellectual_property: { zh: '知识产权', en: 'Intellectual property' },
  new_employment: { zh: '新业态', en: 'New forms of employment' },
  other: { zh: '其他', en: 'Other' },
} satisfies Labels<(typeof DISPUTE_TYPES)[number]>

/** The codes a termination may carry: the platform's reasons (在线调解规则 art. 25) and the timer's. */
const TERMINATION_REASON_CODES = [...TERMINATION_REASONS, SYSTEM_TERMINATION_REASON] as const

/** 调解终结事由 (在线调解规则 art. 25). */
const TERMINATION_REASON_LABELS = {
  settled_and_withdrawn: { zh: '当事人自行和解，撤回调解申请', en: 'Settled by the parties and withdrawn' },
  party_unreachable: { zh: '调解期限内无法联系到当事人', en: 'A party could not be reached within the mediation period' },
  party_refused: { zh: '当事人明确拒绝继续调解', en: 'A party refused to continue the mediation' },
  gap_too_large: { zh: '当事人意见分歧较大，难以达成调解协议', en: 'The parties’ positions are too far apart to reach an agreement' },
  refused_to_sign: { zh: '当事人达成调解协议但拒绝签署', en: 'A party refused to sign the agreement reached' },
  other: { zh: '其他导致调解无法进行的情形', en: 'Other circumstances preventing the mediation' },
  deadline_expired: { zh: '调解期限届满未达成协议且未延长（系统）', en: 'The mediation period expired without agreement or extension (system)' },
} satisfies Labels<(typeof TERMINATION_REASON_CODES)[number]>

/** 调解组织类型 (contract §5; 派驻调解工作室: 意见 四(一)). */
const ORGANIZATION_KIND_LABELS = {
  village_committee: { zh: '村（居）民委员会人民调解委员会', en: 'Village or residents’ people’s mediation committee' },
  township_committee: { zh: '乡镇（街道）人民调解委员会', en: 'Township or subdistrict people’s mediation committee' },
  industry_committee: { zh: '行业性、专业性人民调解委员会', en: 'Industry-specific people’s mediation committee' },
  enterprise_committee: { zh: '企事业单位人民调解委员会', en: 'Enterprise or institution people’s mediation committee' },
  stationed_room: { zh: '派驻调解工作室', en: 'Stationed mediation room' },
  centre: { zh: '非诉讼纠纷化解中心', en: 'Non-litigation dispute resolution centre' },
  other: { zh: '其他调解组织', en: 'Other mediation organization' },
} satisfies Labels<(typeof ORGANIZATION_KINDS)[number]>

/** 中止调解事由 (在线调解规则 art. 26: 鉴定评估; 特邀调解规定 art. 18: 虚假调解). Typed by the body that validates them. */
const SUSPENSION_REASON_LABELS = {
  appraisal: { zh: '鉴定评估', en: 'Appraisal or evaluation' },
  suspected_false_mediation: { zh: '涉嫌虚假调解', en: 'Suspected false mediation' },
  other: { zh: '其他', en: 'Other' },
} satisfies Labels<Static<typeof SuspensionBody>['reason']>

/** 委派（委托）调解案件状态 (contract §2). */
const REFERRAL_STATUS_LABELS = {
  referred: { zh: '已委派', en: 'Referred' },
  declined: { zh: '不予接受', en: 'Declined' },
  mediating: { zh: '调解中', en: 'In mediation' },
  suspended: { zh: '中止调解', en: 'Suspended' },
  agreed: { zh: '达成调解协议', en: 'Agreement reached' },
  terminated: { zh: '调解终结', en: 'Mediation terminated' },
  materials_returned: { zh: '材料已退回', en: 'Materials returned' },
  case_registered: { zh: '已登记立案', en: 'Case registered' },
  trial_resumed: { zh: '已恢复审理', en: 'Trial resumed' },
  closed: { zh: '已结案', en: 'Closed' },
  recalled: { zh: '法院已撤回', en: 'Recalled by the court' },
} satisfies Labels<(typeof REFERRAL_STATUSES)[number]>

/** 司法确认申请状态 (contract §3; 民事诉讼法 206, 民诉法解释 354, 355, 357, 372). */
const CONFIRMATION_STATUS_LABELS = {
  applied: { zh: '已申请', en: 'Applied' },
  under_review: { zh: '审查中', en: 'Under review' },
  materials_requested: { zh: '限期补充材料', en: 'Materials requested' },
  not_accepted: { zh: '不予受理', en: 'Not accepted' },
  withdrawn: { zh: '已撤回申请', en: 'Withdrawn' },
  deemed_withdrawn: { zh: '按撤回申请处理', en: 'Deemed withdrawn' },
  ruled_valid: { zh: '裁定调解协议有效', en: 'Agreement ruled valid' },
  ruled_rejected: { zh: '裁定驳回申请', en: 'Application rejected' },
  objection_filed: { zh: '异议审查中', en: 'Objection filed' },
  ruling_revoked: { zh: '裁定已撤销', en: 'Ruling revoked' },
} satisfies Labels<(typeof CONFIRMATION_STATUSES)[number]>

/** 重大矛盾纠纷预警等级 (contract §5). */
const WARNING_LEVEL_LABELS = {
  red: { zh: '红色预警', en: 'Red' },
  orange: { zh: '橙色预警', en: 'Orange' },
  yellow: { zh: '黄色预警', en: 'Yellow' },
} satisfies Labels<WarningLevel>

/** 事件类型 (contract §4). */
const EVENT_TYPE_LABELS = {
  'referral.created': { zh: '委派（委托）调解', en: 'Referral created' },
  'referral.accepted': { zh: '调解组织受理', en: 'Referral accepted' },
  'referral.declined': { zh: '调解组织不予接受', en: 'Referral declined' },
  'referral.redesignated': { zh: '重新指定调解组织', en: 'Organization redesignated' },
  'referral.recalled': { zh: '法院撤回委派（委托）', en: 'Referral recalled by the court' },
  'referral.assigned': { zh: '中心分派调解组织', en: 'Assigned by the centre' },
  'referral.suspended': { zh: '中止调解', en: 'Mediation suspended' },
  'referral.resumed': { zh: '恢复调解', en: 'Mediation resumed' },
  'referral.extended': { zh: '延长调解期限', en: 'Mediation period extended' },
  'referral.agreement_recorded': { zh: '达成调解协议', en: 'Agreement recorded' },
  'referral.terminated': { zh: '调解终结', en: 'Mediation terminated' },
  'referral.materials_returned': { zh: '退回材料', en: 'Materials returned' },
  'referral.case_registered': { zh: '登记立案', en: 'Case registered' },
  'referral.trial_resumed': { zh: '恢复审理', en: 'Trial resumed' },
  'referral.closed': { zh: '结案', en: 'Referral closed' },
  'referral.performance_reported': { zh: '履行情况回访', en: 'Performance reported' },
  'referral.deadlines_changed': { zh: '期限因放假安排变更而重算', en: 'Deadlines recomputed after a calendar change' },
  'confirmation.applied': { zh: '申请司法确认', en: 'Judicial confirmation applied for' },
  'confirmation.accepted': { zh: '司法确认立案受理', en: 'Application accepted for review' },
  'confirmation.not_accepted': { zh: '司法确认不予受理', en: 'Application not accepted' },
  'confirmation.withdrawn': { zh: '撤回司法确认申请', en: 'Application withdrawn' },
  'confirmation.ruled': { zh: '司法确认裁定', en: 'Ruling made' },
  'confirmation.deadlines_changed': { zh: '审查期限因放假安排变更而重算', en: 'Review deadline recomputed after a calendar change' },
  'confirmation.materials_requested': { zh: '责令限期补充材料', en: 'Materials requested' },
  'confirmation.materials_supplemented': { zh: '补充材料', en: 'Materials supplemented' },
  'confirmation.deemed_withdrawn': { zh: '按撤回申请处理', en: 'Deemed withdrawn' },
  'confirmation.review_extended': { zh: '延长审查期限', en: 'Review period extended' },
  'confirmation.objection_filed': { zh: '提出异议', en: 'Objection filed' },
  'confirmation.objection_ruled': { zh: '异议审查裁定', en: 'Objection ruled on' },
  'warning.raised': { zh: '发布重大矛盾纠纷预警', en: 'Warning raised' },
  'warning.acknowledged': { zh: '签收预警', en: 'Warning acknowledged' },
  'warning.followed_up': { zh: '预警续报', en: 'Warning follow-up reported' },
  'warning.closed': { zh: '预警结报', en: 'Warning closed' },
  'warning.overdue': { zh: '预警逾期未签收', en: 'Warning not acknowledged in time' },
  'delivery.exhausted': { zh: '推送重试已用尽', en: 'Delivery retries exhausted' },
} satisfies Labels<(typeof EVENT_TYPES)[number]>

/** 证件类型 (contract §2). */
const ID_TYPE_LABELS = {
  resident_id: { zh: '居民身份证', en: 'Resident identity card' },
  uscc: { zh: '统一社会信用代码', en: 'Unified social credit code' },
  passport: { zh: '护照', en: 'Passport' },
  hk_macao_permit: { zh: '港澳居民来往内地通行证', en: 'Mainland travel permit for Hong Kong and Macao residents' },
  taiwan_permit: { zh: '台湾居民来往大陆通行证', en: 'Mainland travel permit for Taiwan residents' },
  foreign_permanent_id: { zh: '外国人永久居留身份证', en: 'Foreign permanent resident identity card' },
} satisfies Labels<(typeof ID_TYPES)[number]>

// ---------------------------------------------------------------------------------------------
// The tables

/** Entries in the enumeration's own order. */
function entriesOf<Code extends string>(codes: readonly Code[], labels: Labels<Code>): CodeEntry[] {
  return codes.map((code) => ({ code, zh: labels[code].zh, en: labels[code].en }))
}

/** Entries where no array of the codes is exported: the label table's own order (its keys are exactly the codes). */
function entriesOfLabels<Code extends string>(labels: Labels<Code>): CodeEntry[] {
  return entriesOf(Object.keys(labels) as Code[], labels)
}

/** First 16 hex digits of SHA-256 over the entries' canonical JSON (`[{"code","zh","en"}, …]` in table order). */
export function tableVersion(entries: readonly CodeEntry[]): string {
  const canonical = JSON.stringify(entries.map((e) => ({ code: e.code, zh: e.zh, en: e.en })))
  return createHash('sha256').update(canonical, 'utf8').digest('hex').slice(0, 16)
}

const SOURCES = {
  'dispute-types': entriesOf(DISPUTE_TYPES, DISPUTE_TYPE_LABELS),
  'termination-reasons': entriesOf(TERMINATION_REASON_CODES, TERMINATION_REASON_LABELS),
  'organization-kinds': entriesOf(ORGANIZATION_KINDS, ORGANIZATION_KIND_LABELS),
  'suspension-reasons': entriesOfLabels(SUSPENSION_REASON_LABELS),
  'referral-statuses': entriesOf(REFERRAL_STATUSES, REFERRAL_STATUS_LABELS),
  'confirmation-statuses': entriesOf(CONFIRMATION_STATUSES, CONFIRMATION_STATUS_LABELS),
  'warning-levels': entriesOfLabels(WARNING_LEVEL_LABELS),
  'event-types': entriesOf(EVENT_TYPES, EVENT_TYPE_LABELS),
  'id-types': entriesOf(ID_TYPES, ID_TYPE_LABELS),
} as const satisfies Record<string, CodeEntry[]>

export type CodeTableName = keyof typeof SOURCES

/** The names of the tables, in the order `GET /v1/code-tables` lists them. */
export const CODE_TABLE_NAMES = Object.keys(SOURCES) as CodeTableName[]

/** Every table, computed once: the enumerations are fixed for the life of the process. */
export const CODE_TABLES: readonly CodeTable[] = Object.freeze(
  CODE_TABLE_NAMES.map((name) => Object.freeze({ name, version: tableVersion(SOURCES[name]), entries: SOURCES[name] })),
)

const BY_NAME = new Map<string, CodeTable>(CODE_TABLES.map((t) => [t.name, t]))

/** The table called `name`, or undefined for a name that is none of them. */
export function codeTable(name: string): CodeTable | undefined {
  return BY_NAME.get(name)
}
