/**
 * The error catalogue (contract §1 v1.1): every `code` the service can answer, with its HTTP status and a title and
 * description in Chinese and English. The one source for the error handler (English details, titles), for
 * `GET /v1/error-codes`, for the `/docs/errors` page and for each operation's error list in the OpenAPI document.
 *
 * `scope` says where a code appears: `problem` — the problem's top-level `code`; `field` — only in `errors[].code`
 * of a problem (a 400 `validation_failed`, unless `status` says otherwise); `both` — either.
 * test/domain/error-catalogue.test.ts scans src/ and fails when a code is thrown that is not listed here, or when
 * a listed code is thrown nowhere.
 */

export type ErrorScope = 'problem' | 'field' | 'both'

export interface Bilingual {
  zh: string
  en: string
}

export interface ErrorEntry {
  status: number
  scope: ErrorScope
  title: Bilingual
  description: Bilingual
}

const e = (status: number, scope: ErrorScope, zhTitle: string, enTitle: string, zhDesc: string, enDesc: string): ErrorEntry => ({
  status,
  scope,
  title: { zh: zhTitle, en: enTitle },
  description: { zh: zhDesc, en: enDesc },
})

export const ERROR_CATALOGUE = {
  // ------------------------------------------------------------------ request and protocol (400, 401, 405, 408, 413, 415, 431)
  validation_failed: e(
    400,
    'problem',
    '请求内容未通过校验',
    'Validation failed',
    '请求的正文、查询参数、路径参数或请求头不符合接口约定；errors[] 逐项列出每个出错的路径及其字段错误码。',
    'The body, query, path or headers do not match the operation’s schema; errors[] lists every offending path with its field code.',
  ),
  invalid_json: e(400, 'problem', '请求体不是有效的 JSON', 'Invalid JSON', '请求体无法按 JSON 解析。', 'The request body could not be parsed as JSON.'),
  invalid_content_length: e(
    400,
    'problem',
    '请求体长度不符',
    'Content-Length mismatch',
    '请求体的实际长度与 Content-Length 请求头不一致。',
    'The body’s length differs from its Content-Length header.',
  ),
  bad_request: e(
    400,
    'problem',
    '请求无效',
    'Bad request',
    'HTTP 请求格式无效（如请求地址无法解析）。',
    'The HTTP request is malformed (e.g. an unreadable URL).',
  ),
  invalid_cursor: e(
    400,
    'both',
    '游标无效',
    'Invalid cursor',
    '游标不是本服务签发的（无法解码或取值类型不符）；请使用上一页应答中的 nextCursor。',
    'The cursor was not issued by this service (undecodable or of the wrong shape); use nextCursor from the previous page.',
  ),
  idempotency_key_required: e(
    400,
    'problem',
    '缺少 Idempotency-Key',
    'Idempotency-Key required',
    '创建或变更数据的 POST 请求必须携带 Idempotency-Key 请求头（1–255 个可见 ASCII 字符）。',
    'Every POST that creates or changes something needs an Idempotency-Key header (1–255 visible ASCII characters).',
  ),
  unauthorized: e(
    401,
    'problem',
    '未认证',
    'Unauthorized',
    '缺少有效的 API 密钥：未提供、无法识别或已吊销。',
    'No valid API key: missing, unknown or revoked.',
  ),
  method_not_allowed: e(
    405,
    'problem',
    '方法不被允许',
    'Method not allowed',
    '该地址不支持所用的 HTTP 方法；Allow 应答头列出支持的方法。',
    'The path does not support this HTTP method; the Allow header lists the ones it does.',
  ),
  request_timeout: e(408, 'problem', '请求超时', 'Request timeout', '请求未在时限内完整到达。', 'The request did not arrive in full within the time limit.'),
  payload_too_large: e(
    413,
    'problem',
    '请求体过大',
    'Payload too large',
    '请求体超过大小上限（JSON 1 MiB，材料 50 MiB）。',
    'The body is larger than allowed (JSON 1 MiB, materials 50 MiB).',
  ),
  unsupported_media_type: e(
    415,
    'problem',
    '不支持的内容类型',
    'Unsupported media type',
    '请求的 Content-Type 不被该接口接受（材料仅限 PDF、OFD、JPEG、PNG、DOCX）。',
    'The Content-Type is not accepted here (materials: PDF, OFD, JPEG, PNG or DOCX only).',
  ),
  content_type_mismatch: e(
    415,
    'problem',
    '内容与类型不符',
    'Content does not match its type',
    '上传材料的内容与所声明的 Content-Type 不一致。',
    'The uploaded material’s bytes do not match its declared Content-Type.',
  ),
  headers_too_large: e(431, 'problem', '请求头过大', 'Request headers too large', '请求头的总大小超过上限。', 'The request headers are larger than allowed.'),

  // ------------------------------------------------------------------ access (403, 404)
  forbidden: e(
    403,
    'problem',
    '无权调用',
    'Forbidden',
    '调用方的角色无权调用此接口或执行此操作。',
    'The caller’s role may not call this operation or take this action.',
  ),
  out_of_scope: e(
    403,
    'problem',
    '超出管辖范围',
    'Out of scope',
    '所涉组织或区域不在调用方的管辖范围内。',
    'The organization or region concerned is outside the caller’s scope.',
  ),
  roster_managed_by_court: e(
    403,
    'problem',
    '特邀名册由法院维护',
    'Special roster managed by courts',
    '调解平台不能变更组织的特邀调解名册；由法院通过 PUT /v1/courts/{courtCode}/special-roster/{organizationId} 登记。',
    'A mediation client may not change an organization’s court special rosters; courts set them with PUT /v1/courts/{courtCode}/special-roster/{organizationId}.',
  ),
  not_found: e(
    404,
    'problem',
    '资源不存在',
    'Not found',
    '资源不存在，或不在调用方可读的范围内。',
    'The resource does not exist or is outside what the caller may read.',
  ),

  // ------------------------------------------------------------------ conflicts (409, 412)
  illegal_transition: e(
    409,
    'problem',
    '状态不允许该操作',
    'Illegal transition',
    '案件当前状态不允许执行该操作；currentStatus 给出当前状态。',
    'The case’s current state does not allow this action; currentStatus gives the state.',
  ),
  duplicate_referral: e(
    409,
    'problem',
    '重复委派',
    'Duplicate referral',
    '同一法院代字与案号的委派案件尚未办结，不能重复委派。',
    'A referral with the same court code and case number is still open.',
  ),
  duplicate_application: e(
    409,
    'problem',
    '重复申请',
    'Duplicate application',
    '同一调解协议已有未终结的司法确认申请。',
    'An open judicial confirmation application already exists for this agreement.',
  ),
  idempotency_key_in_use: e(
    409,
    'problem',
    'Idempotency-Key 正在使用',
    'Idempotency-Key in use',
    '使用相同 Idempotency-Key 的请求仍在处理中，请稍后重试。',
    'A request with the same Idempotency-Key is still in flight; retry shortly.',
  ),
  version_mismatch: e(
    412,
    'problem',
    '版本号不一致',
    'Version mismatch',
    'If-Match 所给版本与资源当前版本不一致：资源已被修改，请重新读取后再试。',
    'If-Match does not name the resource’s current version: it has changed; read it again and retry.',
  ),

  // ------------------------------------------------------------------ business rules (422)
  idempotency_key_reused: e(
    422,
    'problem',
    'Idempotency-Key 已用于不同请求',
    'Idempotency-Key reused',
    '该 Idempotency-Key 已用于内容不同的请求。',
    'The Idempotency-Key was already used for a request with a different body.',
  ),
  consent_required: e(
    422,
    'problem',
    '当事人未全部同意',
    'Consent required',
    '每一方当事人都须同意（委派调解、延长调解期限等）。',
    'Every party must have consented (to the referral, an extension …).',
  ),
  court_code_not_allowed: e(
    422,
    'problem',
    '法院代字不属于调用方',
    'Court code not allowed',
    'courtCode 不是调用方被授权的法院代字之一。',
    'courtCode is not one of the caller’s court codes.',
  ),
  not_on_roster: e(
    422,
    'problem',
    '组织不在名册中',
    'Not on roster',
    '所指定的调解组织不存在，或不在相应名册（司法部名册或法院特邀调解名册）中。',
    'The designated organization is unknown or not on the required roster (the ministry roster or a court special roster).',
  ),
  organization_inactive: e(422, 'problem', '调解组织已停用', 'Organization inactive', '所指定的调解组织已停用。', 'The designated organization is inactive.'),
  not_a_centre: e(
    422,
    'problem',
    '不是非诉讼纠纷化解中心',
    'Not a centre',
    '只有非诉讼纠纷化解中心受指定时才能分派案件。',
    'Only a case designated to a non-litigation dispute resolution centre can be assigned onwards.',
  ),
  outside_centre_region: e(
    422,
    'problem',
    '不在中心辖区内',
    'Outside the centre’s region',
    '分派的目标组织不在该中心的辖区内。',
    'The target organization is outside the centre’s region.',
  ),
  organization_out_of_scope: e(
    422,
    'problem',
    '组织不在管辖范围内',
    'Organization out of scope',
    '主持调解的组织不存在或不在调用方的管辖范围内。',
    'The mediating organization is unknown or outside the caller’s scope.',
  ),
  timestamp_in_future: e(
    422,
    'problem',
    '时间晚于当前时间',
    'Timestamp in the future',
    '所报告的时间晚于当前时间（允许 5 分钟误差）。',
    'A reported time is ahead of the clock (5 minutes of skew allowed).',
  ),
  timestamp_before_referral: e(
    422,
    'problem',
    '时间早于委派',
    'Timestamp before the referral',
    '所报告的时间早于案件委派时间。',
    'A reported time is earlier than the referral.',
  ),
  timestamp_before_agreement: e(
    422,
    'problem',
    '时间早于协议生效',
    'Timestamp before the agreement',
    '申请时间早于调解协议生效时间。',
    'The application time is earlier than the agreement took effect.',
  ),
  date_in_future: e(422, 'problem', '日期晚于当日', 'Date in the future', '所给日期晚于当日（Asia/Shanghai）。', 'The date is after today (Asia/Shanghai).'),
  date_not_in_future: e(422, 'problem', '日期须晚于当日', 'Date not in the future', '所给日期须晚于当日。', 'The date must be after today.'),
  date_before_application: e(
    422,
    'problem',
    '日期早于申请日',
    'Date before the application',
    '所给日期早于司法确认申请日。',
    'The date is before the confirmation application.',
  ),
  date_before_acceptance: e(422, 'problem', '日期早于受理日', 'Date before acceptance', '所给日期早于受理日。', 'The date is before the acceptance.'),
  date_before_ruling: e(422, 'problem', '日期早于裁定日', 'Date before the ruling', '所给日期早于裁定日。', 'The date is before the ruling.'),
  date_before_knowledge: e(
    422,
    'problem',
    '日期早于知道之日',
    'Date before knowledge',
    '所给日期早于知道或应当知道之日。',
    'The date is before the day the objector knew or should have known.',
  ),
  date_before_objection: e(
    422,
    'problem',
    '日期早于异议日',
    'Date before the objection',
    '所给日期早于异议提出日。',
    'The date is before the objection was filed.',
  ),
  due_date_not_later: e(
    422,
    'problem',
    '新期限未晚于原期限',
    'Due date not later',
    '新的到期日须晚于当前到期日。',
    'The new due date must be later than the current one.',
  ),
  signatures_incomplete: e(
    422,
    'problem',
    '签名不完整',
    'Signatures incomplete',
    '书面或电子调解协议须有全体当事人签名、调解员签名（mediatorSignedAt）和调解组织印章（sealedAt）。',
    'A written or electronic agreement needs every party’s signature, the mediator’s signature (mediatorSignedAt) and the organization’s seal (sealedAt).',
  ),
  effective_at_mismatch: e(
    422,
    'problem',
    '生效时间不符',
    'effectiveAt mismatch',
    '所给 effectiveAt 与依签名、签章或口头达成时间算得的生效时间不一致。',
    'The given effectiveAt differs from the one derived from the signatures, the seal or reachedAt.',
  ),
  agreement_mismatch: e(
    422,
    'problem',
    '调解协议摘要不符',
    'Agreement mismatch',
    'agreementSha256 缺失或与所记录的调解协议不一致。',
    'agreementSha256 is missing or differs from the recorded agreement.',
  ),
  confirmation_not_applicable: e(
    422,
    'problem',
    '不适用司法确认',
    'Confirmation not applicable',
    '该案件不适用司法确认（如委托调解案件）。',
    'Judicial confirmation does not apply to this case (e.g. an in-litigation referral).',
  ),
  confirmation_deadline_passed: e(
    422,
    'problem',
    '已过申请期限',
    'Confirmation deadline passed',
    '调解协议生效已逾 30 日且未说明迟延理由。',
    'More than 30 days have passed since the agreement took effect and no reason for the delay was given.',
  ),
  joint_application_required: e(
    422,
    'problem',
    '须共同申请',
    'Joint application required',
    '司法确认须由调解协议的全体当事人共同申请。',
    'Judicial confirmation must be applied for jointly by every party to the agreement.',
  ),
  wrong_court: e(
    422,
    'problem',
    '管辖法院不符',
    'Wrong court',
    '该申请应向其他法院提出（委派法院、基层法院或中级法院，依民事诉讼法 205）。',
    'The application belongs to another court (the referring, basic or intermediate court, per Civil Procedure Law art. 205).',
  ),
  excluded_subject: e(
    422,
    'problem',
    '不属于受理范围',
    'Excluded subject',
    '调解协议的内容不属于司法确认的受理范围（民诉法解释 355）。',
    'The agreement concerns a matter judicial confirmation does not cover (SPC interpretation art. 355).',
  ),
  supplement_deadline_passed: e(
    422,
    'problem',
    '补充材料期限已过',
    'Supplement deadline passed',
    '法院要求补充材料的期限已过。',
    'The deadline the court set for supplementing materials has passed.',
  ),
  objection_deadline_passed: e(
    422,
    'problem',
    '异议期限已过',
    'Objection deadline passed',
    '提出异议的期限已过。',
    'The time for filing an objection has passed.',
  ),
  unknown_material: e(
    422,
    'both',
    '材料不存在',
    'Unknown material',
    '所引用的材料不存在、未上传完成或调用方不可引用。',
    'A referenced material does not exist, is incomplete, or may not be referenced by the caller.',
  ),
  url_not_allowed: e(
    422,
    'problem',
    '地址不被允许',
    'URL not allowed',
    '订阅地址须为 http(s)，且不得指向环回、私有或链路本地地址（allowPrivateNetwork 仅放行环回与私有地址）。',
    'Subscription URLs must be http(s) and may not point at loopback, private or link-local addresses (allowPrivateNetwork admits loopback and private ones).',
  ),
  unknown_client: e(422, 'problem', '调用方不存在', 'Unknown client', 'clientId 所指的调用方不存在。', 'No client has this clientId.'),
  subscription_disabled: e(
    422,
    'problem',
    '订阅已停用',
    'Subscription disabled',
    '订阅已停用，请先启用（PATCH enabled: true）再重新投递或恢复。',
    'The subscription is disabled; enable it (PATCH enabled: true) before retrying or recovering.',
  ),
  subscription_deleted: e(422, 'problem', '订阅已删除', 'Subscription deleted', '该投递所属的订阅已删除。', 'The delivery’s subscription has been deleted.'),
  calendar_unavailable: e(
    422,
    'problem',
    '无法推算日历',
    'Calendar unavailable',
    '该年份既无公布的安排，也无可用于推算法定节假日的农历数据。',
    'The year has neither a published arrangement nor the lunar data to derive the statutory holidays.',
  ),

  // ------------------------------------------------------------------ limits and failures (429, 5xx)
  rate_limited: e(
    429,
    'problem',
    '请求过于频繁',
    'Rate limited',
    '调用方超过了每分钟请求数上限；Retry-After 给出需等待的秒数。',
    'The client exceeded its requests per minute; Retry-After says how many seconds to wait.',
  ),
  too_many_failed_authentications: e(
    429,
    'problem',
    '认证失败次数过多',
    'Too many failed authentications',
    '同一地址的认证失败次数过多；Retry-After 给出需等待的秒数。',
    'Too many failed authentications from this address; Retry-After says how many seconds to wait.',
  ),
  internal_error: e(
    500,
    'problem',
    '服务内部错误',
    'Internal error',
    '服务内部错误；应答不含任何内部细节，详情见服务日志。',
    'An internal error; the answer holds no internals, the service log does.',
  ),
  service_unavailable: e(
    503,
    'problem',
    '服务暂时不可用',
    'Service unavailable',
    '数据库或 Redis 暂不可用，请稍后重试（Retry-After）。',
    'PostgreSQL or Redis is unavailable; retry shortly (Retry-After).',
  ),
  quota_exceeded: e(
    507,
    'problem',
    '存储配额已满',
    'Quota exceeded',
    '调用方已存材料的总大小达到配额上限。',
    'The client’s stored materials have reached its quota.',
  ),

  // ------------------------------------------------------------------ field codes (errors[].code)
  required: e(400, 'field', '缺少必填项', 'Required', '缺少必填的字段、参数或请求头。', 'A required field, parameter or header is missing.'),
  unknown_property: e(
    400,
    'field',
    '不允许的字段',
    'Unknown property',
    '请求中含有接口未定义的字段（不会被静默忽略）。',
    'The request holds a property the operation does not define (never silently dropped).',
  ),
  invalid_type: e(
    400,
    'field',
    '类型不正确',
    'Invalid type',
    '取值的 JSON 类型不正确（正文不做类型转换）。',
    'The value has the wrong JSON type (bodies are never coerced).',
  ),
  invalid_value: e(
    400,
    'field',
    '取值不在允许范围内',
    'Invalid value',
    '取值不是允许的值之一；消息列出允许的取值。',
    'The value is not one of the allowed values; the message lists them.',
  ),
  too_short: e(
    400,
    'field',
    '长度过短',
    'Too short',
    '文本短于最小长度（按 Unicode 码点计）。',
    'The text is shorter than allowed (counted in Unicode code points).',
  ),
  too_long: e(
    400,
    'field',
    '长度过长',
    'Too long',
    '文本超过最大长度（按 Unicode 码点计）。',
    'The text is longer than allowed (counted in Unicode code points).',
  ),
  too_few_items: e(400, 'field', '条目过少', 'Too few items', '数组的条目少于下限。', 'The array has fewer items than allowed.'),
  too_many_items: e(400, 'field', '条目过多', 'Too many items', '数组的条目多于上限。', 'The array has more items than allowed.'),
  too_few_properties: e(400, 'field', '属性过少', 'Too few properties', '对象的属性少于下限。', 'The object has fewer properties than allowed.'),
  too_many_properties: e(400, 'field', '属性过多', 'Too many properties', '对象的属性多于上限。', 'The object has more properties than allowed.'),
  duplicate_items: e(400, 'field', '存在重复条目', 'Duplicate items', '数组中有重复的条目。', 'The array holds duplicate items.'),
  out_of_range: e(400, 'field', '数值超出范围', 'Out of range', '数值、日期或时间超出允许的范围。', 'The number, date or time is outside the allowed range.'),
  invalid_format: e(
    400,
    'field',
    '格式不正确',
    'Invalid format',
    '取值不符合所要求的格式（日期时间、模式等）。',
    'The value does not have the required format (date-time, pattern …).',
  ),
  invalid_characters: e(
    400,
    'field',
    '含有不允许的字符',
    'Invalid characters',
    '文本含有 NUL 或其他控制字符、孤立代理项或双向控制符（多行文本允许制表符、回车、换行）。',
    'The text holds NUL or another control character, a lone surrogate or a bidirectional control (tab, CR and LF allowed in multi-line text).',
  ),
  blank: e(400, 'field', '内容为空白', 'Blank', '必填文本只包含空白或不可见字符。', 'A required text holds only white space or invisible characters.'),
  forbidden_property: e(
    400,
    'field',
    '被禁止的属性',
    'Forbidden property',
    '请求体含有 __proto__ 或 constructor.prototype。',
    'The body holds __proto__ or constructor.prototype.',
  ),
  invalid_case_number: e(
    400,
    'field',
    '案号无效',
    'Invalid case number',
    '案号格式不正确，或其法院代字、类型代字与请求不符。',
    'The case number is malformed, or its court or type part does not fit the request.',
  ),
  invalid_id_number: e(
    400,
    'field',
    '证件号码无效',
    'Invalid ID number',
    '证件号码格式或校验位不正确（居民身份证还须有有效的省级代码与出生日期）。',
    'The ID number is malformed or fails its checksum (a resident ID also needs a real province code and birth date).',
  ),
  invalid_uscc: e(
    400,
    'field',
    '统一社会信用代码无效',
    'Invalid USCC',
    '统一社会信用代码格式或校验位不正确。',
    'The unified social credit code is malformed or fails its checksum.',
  ),
  invalid_region_code: e(
    400,
    'field',
    '行政区划代码无效',
    'Invalid region code',
    '行政区划代码须为 6 位数字（查询可用 2、4 位前缀）且省级代码有效。',
    'A region code is 6 digits (2- or 4-digit prefixes in queries) with a real province code.',
  ),
  invalid_court_code: e(400, 'field', '法院代字无效', 'Invalid court code', '法院代字格式不正确。', 'The court code is malformed.'),
  invalid_date: e(400, 'field', '日期无效', 'Invalid date', '日期须为有效的 YYYY-MM-DD。', 'A date must be a valid YYYY-MM-DD.'),
  invalid_range: e(
    400,
    'field',
    '区间无效',
    'Invalid range',
    '起始日期晚于结束日期，或区间超过上限。',
    'The start is after the end, or the period is longer than allowed.',
  ),
  invalid_party_index: e(
    400,
    'field',
    '当事人序号无效',
    'Invalid party index',
    '当事人序号超出当事人列表的范围。',
    'A party index is beyond the list of parties.',
  ),
  applicant_required: e(400, 'field', '缺少申请人', 'Applicant required', '当事人中至少须有一名申请人（原告）。', 'At least one party must be an applicant.'),
  respondent_required: e(
    400,
    'field',
    '缺少被申请人',
    'Respondent required',
    '当事人中至少须有一名被申请人（被告）。',
    'At least one party must be a respondent.',
  ),
  not_allowed: e(400, 'field', '不应填写', 'Not allowed here', '该字段在此情形下不应填写。', 'The field may not be given in this case.'),
  not_allowed_for_role: e(400, 'field', '与角色不符', 'Not allowed for the role', '该字段不适用于所选角色。', 'The field does not apply to the chosen role.'),
  conflicting_date: e(
    400,
    'field',
    '日期冲突',
    'Conflicting date',
    '同一日期既被列为假日又被列为调休工作日。',
    'A date is listed both as a day off and as a make-up working day.',
  ),
  duplicate_date: e(400, 'field', '日期重复', 'Duplicate date', '同一日期在列表中出现多次。', 'The same date is listed more than once.'),
  wrong_year: e(400, 'field', '年份不符', 'Wrong year', '日期不属于所发布的年份。', 'The date does not belong to the year being published.'),
  duplicate_id: e(400, 'field', '重复的标识', 'Duplicate id', '同一 id 在列表中出现多次。', 'The same id is listed more than once.'),
  unknown_event_type: e(
    400,
    'field',
    '未知的事件类型',
    'Unknown event type',
    '事件类型不在本服务的事件类型表中。',
    'The event type is not one this service emits.',
  ),
} as const satisfies Record<string, ErrorEntry>

export type ErrorCode = keyof typeof ERROR_CATALOGUE

export const ERROR_CODES = Object.keys(ERROR_CATALOGUE) as ErrorCode[]

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CATALOGUE, code)
}

export function errorEntry(code: string): ErrorEntry | undefined {
  return isErrorCode(code) ? ERROR_CATALOGUE[code] : undefined
}

/** The type of a problem: a relative reference to the code's entry on the catalogue page (contract §1). */
export const problemType = (code: string): string => `/docs/errors#${code}`

export type Language = 'zh' | 'en'

/**
 * The language an `Accept-Language` header prefers among those the service speaks: the highest q-value of a `zh…`
 * or `en…` range wins, the earlier one on a tie; `*` stands for Chinese; none or q=0 → Chinese (the default).
 * `en-US,en;q=0.9,zh;q=0.8` → en; `zh-CN,zh;q=0.9,en;q=0.8` → zh.
 */
export function preferredLanguage(header: string | string[] | undefined): Language {
  const value = Array.isArray(header) ? header.join(',') : header
  if (!value) return 'zh'
  let best: { lang: Language; q: number } | undefined
  for (const part of value.split(',')) {
    const [rangeRaw, ...params] = part.trim().split(';')
    const range = rangeRaw.trim().toLowerCase()
    let q = 1
    for (const p of params) {
      const m = /^\s*q\s*=\s*([0-9](?:\.[0-9]{0,3})?)\s*$/i.exec(p)
      if (m) q = Math.min(1, Number(m[1]))
    }
    const lang: Language | undefined =
      range === 'en' || range.startsWith('en-') ? 'en' : range === 'zh' || range.startsWith('zh-') || range === '*' ? 'zh' : undefined
    if (!lang || q <= 0) continue
    if (!best || q > best.q) best = { lang, q }
  }
  return best?.lang ?? 'zh'
}
