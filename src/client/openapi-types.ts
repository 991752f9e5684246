/**
 * Generated from openapi/openapi.json by `npm run client:types` (openapi-typescript). Do not edit by hand.
 */

export type paths = {
  '/metrics': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    /**
     * Prometheus 指标 / Prometheus metrics
     * @description 除 HTTP 与进程指标外，另有投递、发件箱、案件与期限的业务指标（取自 PostgreSQL）。Besides HTTP and process metrics: zdz_deliveries_pending, zdz_deliveries_dead, zdz_delivery_oldest_pending_seconds, zdz_delivery_attempts_total, zdz_outbox_lag_seconds, zdz_cases, zdz_deadlines_overdue and zdz_ready, read from PostgreSQL (the same in every process: aggregate with max, not sum). 设置 METRICS_TOKEN 时须带 `Authorization: Bearer <METRICS_TOKEN>`，否则答 401。With METRICS_TOKEN set, the scrape must send `Authorization: Bearer <METRICS_TOKEN>` (401 otherwise); without it the endpoint is open.
     */
    get: operations['getMetrics']
    put?: never
    post?: never
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/health/live': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    /** 存活检查 / Liveness */
    get: operations['getHealthLive']
    put?: never
    post?: never
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/health/ready': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    /** 就绪检查（PostgreSQL 与 Redis）/ Readiness: PostgreSQL and Redis answer */
    get: operations['getHealthReady']
    put?: never
    post?: never
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/clients': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    /**
     * 调用方列表 / List clients
     * @description 仅运维角色；可按角色过滤，按标识（创建顺序）分页。每个调用方附其密钥的标识、创建、最近使用与吊销时间；从不返回密钥或其哈希。Operator only; filter by role, paged in id (creation) order. Each client with its keys: id, created, last used, revoked — never a key or its hash.
     */
    get: operations['getV1Clients']
    put?: never
    /**
     * 创建调用方并签发密钥 / Create a client and its first API key
     * @description 仅运维角色。密钥只显示一次，库中仅保存哈希。Operator only; the key is shown once and stored only as a hash.
     */
    post: operations['postV1Clients']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/clients/{id}': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    /** 查询调用方 / Get a client */
    get: operations['getV1ClientsId']
    put?: never
    post?: never
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/clients/{id}/keys': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /** 为调用方追加密钥（轮换）/ Issue a further key for rotation */
    post: operations['postV1ClientsIdKeys']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/clients/{id}/keys/{keyId}': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    post?: never
    /** 吊销密钥（立即生效）/ Revoke a key, effective at once */
    delete: operations['deleteV1ClientsIdKeysKeyId']
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/organizations/{id}': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    /** 查询调解组织 / Get an organization */
    get: operations['getV1OrganizationsId']
    /**
     * 登记或更新调解组织 / Create or replace an organization on the roster
     * @description 调解平台只能维护其范围内的组织（organizationIds 或 regionCodes 前缀），否则 403 out_of_scope；变更 regionCode 须由 regionCodes 同时覆盖原区划与新区划的调用方进行（仅以 organizationIds 绑定的调用方不可），否则 403 out_of_scope。rosters.courtSpecial 由法院登记（PUT/DELETE /v1/courts/{courtCode}/special-roster/{organizationId}）：调解平台可省略或原样重复（保持不变），任何变更 → 403 roster_managed_by_court；新建时为空。运维可维护任何组织并设置 courtSpecial。
     *
     *     Mediation clients keep organizations in their scope (403 out_of_scope). Changing regionCode needs regionCodes covering both the old and the new region (a client bound by organizationIds alone may not; 403 out_of_scope). rosters.courtSpecial is granted by the courts: a mediation client may omit it or repeat it unchanged (kept; empty on create), any change → 403 roster_managed_by_court. Operators may change anything, courtSpecial included.
     */
    put: operations['putV1OrganizationsId']
    post?: never
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/organizations': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    /**
     * 调解组织名册 / List the roster
     * @description 调解平台仅见其范围内的组织。Mediation clients see the organizations in their scope.
     */
    get: operations['getV1Organizations']
    put?: never
    post?: never
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/courts/{courtCode}/special-roster/{organizationId}': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    /**
     * 将调解组织列入本院特邀调解名册 / Put an organization on the court’s special roster
     * @description 特邀调解名册由法院维护（contract §5）：法院（代字相符）或运维可调用，其他法院 → 403 out_of_scope，调解平台 → 403 forbidden；组织不存在 → 404；法院代字格式不正确 → 400 invalid_court_code。PUT/DELETE 本身幂等，无需 Idempotency-Key；名册确有变化时组织的 version 与 updatedAt 随之更新，结果见该组织的 rosters.courtSpecial。
     *
     *     The special roster is the court’s: the court with that code, or an operator (another court → 403 out_of_scope, mediation → 403 forbidden); unknown organization → 404; malformed court code → 400 invalid_court_code. Idempotent by nature, no Idempotency-Key; when the roster changes the organization’s version and updatedAt move, and its rosters.courtSpecial shows the result.
     */
    put: operations['putV1CourtsCourtCodeSpecialRosterOrganizationId']
    post?: never
    /**
     * 将调解组织移出本院特邀调解名册 / Take an organization off the court’s special roster
     * @description 特邀调解名册由法院维护（contract §5）：法院（代字相符）或运维可调用，其他法院 → 403 out_of_scope，调解平台 → 403 forbidden；组织不存在 → 404；法院代字格式不正确 → 400 invalid_court_code。PUT/DELETE 本身幂等，无需 Idempotency-Key；名册确有变化时组织的 version 与 updatedAt 随之更新，结果见该组织的 rosters.courtSpecial。
     *
     *     The special roster is the court’s: the court with that code, or an operator (another court → 403 out_of_scope, mediation → 403 forbidden); unknown organization → 404; malformed court code → 400 invalid_court_code. Idempotent by nature, no Idempotency-Key; when the roster changes the organization’s version and updatedAt move, and its rosters.courtSpecial shows the result.
     */
    delete: operations['deleteV1CourtsCourtCodeSpecialRosterOrganizationId']
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/referrals': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    /**
     * 委派/委托案件列表 / List referrals
     * @description 仅返回调用方可读的案件。partyIdNumber 为当事人证件号精确检索（盲索引），仅限法院与调解平台。Only cases the caller may read; partyIdNumber is an exact blind-index search for courts and platforms. caseNumber 为案号精确检索（半角括号按全角处理）。caseNumber is an exact 案号 match (half-width brackets read as full-width).
     */
    get: operations['getV1Referrals']
    put?: never
    /**
     * 委派/委托调解 / Refer a dispute to mediation
     * @description 法院在立案前委派（pre_filing）或诉中委托（in_litigation）调解。须全体当事人同意（意见 三(二)），指定组织须在名册中。受理期限为转交日后第 3 个工作日（在线调解规则 12）。Court only. Answers 201 with the referral; 409 duplicate_referral when an active referral of the same 案号 exists.
     */
    post: operations['postV1Referrals']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/referrals/batch': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 批量委派 / Batch intake
     * @description 批量委派（合同 §2 v1.1）：1–100 条，每条按单条 POST /v1/referrals 以其请求体与其 idempotencyKey 判定与写入（状态码、案件或问题详情相同，含重放），互不影响；整批一个事务提交。Batch intake: each item is judged and written exactly as POST /v1/referrals would with that body and that Idempotency-Key — the same `status` (201 or 4xx) with the same `referral` or the same problem+json body as `problem` — as if the items were sent one after another in request order, independently of each other (one bad item never fails the rest); the answer lists them in request order with their `index`. The whole batch is one transaction (one commit).
     *
     *     - The request needs its own `Idempotency-Key`: a replay answers the whole stored batch answer with `Idempotent-Replayed: true`.
     *     - Each item’s `idempotencyKey` is that item’s Idempotency-Key, in the caller’s key space shared with single requests: a key whose answer is stored (by a single POST /v1/referrals, an earlier batch, or an earlier item of this batch) with the same body → that answer again with `replayed: true`; with a different body → 422 `idempotency_key_reused`; a later single POST with an item’s key replays the item’s answer. Refused items store nothing (like refused single requests), so a later item with the same key is judged afresh. An item whose key is held by a request in flight, or equals this request’s own Idempotency-Key → 409 `idempotency_key_in_use`.
     *     - Two items of one batch with the same `courtCode` + `caseNumber`: the second answers 409 `duplicate_referral`, as if sent after the first.
     *     - Over 100 items, no items, or a malformed envelope (an item without `idempotencyKey` or `referral`, another property) → 400 `validation_failed` for the whole request; a malformed `referral` is that item’s 400. Body limit 8 MiB (other routes: 1 MiB).
     *     - Successful items carry `receipt`, the signed receipt of the item’s event (§4), where receipts are enabled.
     *     - A referral taken concurrently (the same 案号 created by another request between this batch’s check and its write) fails only its item (409 `duplicate_referral`): the batch then judges its items again.
     */
    post: operations['postV1ReferralsBatch']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/referrals/{id}': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    /**
     * 查询委派/委托案件 / Get a referral
     * @description 返回 ETag: "<version>"。个人信息仅对委派法院与承办组织完整显示。ETag carries the version; personal data is full only for the referring court and the handling organization.
     */
    get: operations['getV1ReferralsId']
    put?: never
    post?: never
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/referrals/{id}/events': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    /** 案件事件历史 / The referral’s events in sequence order */
    get: operations['getV1ReferralsIdEvents']
    put?: never
    post?: never
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/referrals/{id}/acceptance': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 受理或不予接受 / Accept or decline
     * @description 受理：referred → mediating，开始调解期限（诉前 30 日、诉中普通 15 日、简易 7 日）；不予接受须说明理由。Accepting starts the mediation clock.
     */
    post: operations['postV1ReferralsIdAcceptance']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/referrals/{id}/redesignation': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 重新指定调解组织 / Redesignate
     * @description declined → referred；指定规则同委派，重新计算受理期限。Same designation rules as at intake; a new acceptance deadline.
     */
    post: operations['postV1ReferralsIdRedesignation']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/referrals/{id}/recall': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 撤回委派/委托 / Recall the referral
     * @description referred 或 declined → recalled：调解开始前法院收回案件（当事人撤回同意、坚持诉讼或法院决定；意见 三(一)(三)，特邀调解规定 12、21）。调解组织经 referral.recalled 事件获知；撤回后同一案号可再次委派，法院可登记立案或恢复审理（court-filing）。The court takes the case back before mediation starts; the organization is notified by the event. A recalled case no longer blocks its 案号.
     */
    post: operations['postV1ReferralsIdRecall']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/referrals/{id}/assignment': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 中心分派 / Dispatch from a centre
     * @description 仅当被指定组织为非诉讼纠纷化解中心，且目标组织在中心辖区内（意见 三(二)）。Only a centre may dispatch, to an active organization in its region.
     */
    post: operations['postV1ReferralsIdAssignment']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/referrals/{id}/suspension': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 中止调解 / Suspend
     * @description mediating → suspended；鉴定评估或疑似虚假调解，期限暂停（在线调解规则 26；特邀调解规定 18）。The clock stops.
     */
    post: operations['postV1ReferralsIdSuspension']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/referrals/{id}/resumption': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 恢复调解 / Resume
     * @description suspended → mediating；期限顺延中止期间的日历天数，遇休息日顺延。The due date moves later by the calendar days suspended, then rolls forward.
     */
    post: operations['postV1ReferralsIdResumption']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/referrals/{id}/extension': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 延长调解期限 / Extend
     * @description 须全体当事人同意（特邀调解规定 27），新期限须晚于当前期限。Every party must consent; the new date must be later.
     */
    post: operations['postV1ReferralsIdExtension']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/referrals/{id}/agreement': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 记录调解协议 / Record the agreement
     * @description mediating → agreed。书面与电子协议：全体当事人签署，并有调解员签名（mediatorSignedAt）与调解组织印章（sealedAt），否则 422 signatures_incomplete；自其中最晚者生效（人民调解法 29，在线调解规则 19）。口头协议：须 reachedAt，自达成时生效（人民调解法 30）。给出的 effectiveAt 不一致 → 422 effective_at_mismatch。documentMaterialId：已签署的协议文件（须存在且调用方可读，否则 422 unknown_material），协议显示其 documentSha256。agreement.sha256 = SHA-256(terms).
     */
    post: operations['postV1ReferralsIdAgreement']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/referrals/{id}/termination': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 调解终结 / Terminate
     * @description 终结理由见在线调解规则 25；无争议事实须经全体当事人确认。Reasons per art. 25; undisputed facts must be confirmed by every party.
     */
    post: operations['postV1ReferralsIdTermination']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/referrals/{id}/material-return': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 退回材料 / Return the materials
     * @description terminated → materials_returned；须附书面终结报告（特邀调解规定 26）。A written report is required; materials may be empty when the file goes back on paper.
     */
    post: operations['postV1ReferralsIdMaterialReturn']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/referrals/{id}/court-filing': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 登记立案或恢复审理 / Register the case or resume the trial
     * @description materials_returned、declined 或 recalled → case_registered（仅诉前委派，新 民初 案号）或 trial_resumed（仅诉中委托）：调解不成、组织不予接受或法院撤回后，当事人坚持诉讼的，法院登记立案或恢复审理（意见 三(三)，特邀调解规定 21）。From materials_returned, declined or recalled.
     */
    post: operations['postV1ReferralsIdCourtFiling']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/referrals/{id}/closure': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 结案 / Close
     * @description agreed → closed；诉前委派：agreement_filed（备案）；诉中委托：mediation_document_issued（调解书）或 suit_withdrawn（撤诉）。
     */
    post: operations['postV1ReferralsIdClosure']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/referrals/{id}/performance': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 履行情况回访 / Report performance
     * @description 协议履行情况（自动履行率），可重复报告，以最新为准；不改变状态。Repeatable, latest wins; no state change.
     */
    post: operations['postV1ReferralsIdPerformance']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/referrals/{id}/integrity': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    /**
     * 事件哈希链校验 / Verify the referral’s event hash chain
     * @description hash = SHA-256(前一哈希 ‖ 规范化事件)。Recomputes the chain: { valid, length, head } or { valid: false, brokenAtSequence }.
     */
    get: operations['getV1ReferralsIdIntegrity']
    put?: never
    post?: never
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/judicial-confirmations/{id}/integrity': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    /**
     * 事件哈希链校验 / Verify the application’s event hash chain
     * @description Recomputes the chain: { valid, length, head } or { valid: false, brokenAtSequence }.
     */
    get: operations['getV1JudicialConfirmationsIdIntegrity']
    put?: never
    post?: never
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/access-log': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    /**
     * 个人信息访问记录 / Who saw full personal data
     * @description 每次返回完整证件号或电话的应答都会记录调用方、案件、时间与请求号。Every answer that showed a full ID number or phone.
     */
    get: operations['getV1AccessLog']
    put?: never
    post?: never
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/judicial-confirmations': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    /**
     * 司法确认申请列表 / List judicial confirmation applications
     * @description 仅返回调用方可读的申请：法院为其法院代字，调解平台为其组织，运维为全部（脱敏）。overdue=true 为审查中且已过 reviewDueOn 的申请。 Courts see their court codes, mediation clients their organizations, operators everything (masked). overdue=true: under review past reviewDueOn. caseNumber 为司法确认案号精确检索（半角括号按全角处理）。caseNumber: the exact 诉前调确/民特 案号 given at acceptance (half-width brackets read as full-width).
     */
    get: operations['getV1JudicialConfirmations']
    put?: never
    /**
     * 申请司法确认 / Apply for judicial confirmation
     * @description 调解平台代全体当事人共同申请（民事诉讼法 205；人民调解法 33）。关联委派（referralId）：案件须由调用方的组织承办（否则 404），委托（in_litigation）案件不适用司法确认（422 confirmation_not_applicable，特邀调解规定 20）；状态为 agreed 或以 agreement_filed 结案的 closed（否则 409 illegal_transition）；协议取自案件，须携带 agreementSha256 且与案件协议一致（否则 422 agreement_mismatch；如同时附 agreement，其条款亦须一致）；须向委派法院申请（422 wrong_court）。独立申请（无 referralId）：自带 agreement、parties 与 organizationId（组织须在调用方范围内，否则 422 organization_out_of_scope），向基层法院申请：venue.basis 为 organization_seat（默认，法院辖区覆盖组织所在地）、party_domicile 或 subject_matter（法院辖区覆盖 venue.regionCode），否则 422 wrong_court；属于中级人民法院管辖的（venue.intermediate: true，205(2) 末句），向该地所在省份的中级人民法院（法院代字 + 2 位数字）申请，否则 422 wrong_court；如附 agreementSha256 须与条款一致。全体当事人均须为申请人（422 joint_application_required）；协议生效后 30 日内申请，按民事诉讼法 85 计算（Asia/Shanghai 日期，末日遇休息日顺延），逾期须填写 lateReason（此时 late: true，由法院决定），否则 422 confirmation_deadline_passed；subject 为 personal_status、property_title、ip_title 的不予受理（422 excluded_subject，民诉法解释 355）。appliedAt 不得晚于当前时间（422 timestamp_in_future）或早于协议生效（422 timestamp_before_agreement）。materials[] 引用调用方可读的材料（否则 422 unknown_material）。同一委派案件已有待审或已裁定有效的申请时 409 duplicate_application。 Mediation only, on the parties’ joint application. Referral-linked: the referral must be handled by the caller’s organization (404), never a 委托 (in_litigation) referral (422 confirmation_not_applicable), agreed or closed as agreement_filed (409), agreementSha256 must equal the recorded agreement’s (422 agreement_mismatch), the court must be the referring court (422 wrong_court). Standalone: own agreement, parties and organizationId (422 organization_out_of_scope when unknown or outside the caller’s scope), a basic court covering the venue region, or with venue.intermediate an intermediate court of the venue’s province (422 wrong_court). Every party applies (422 joint_application_required); within 30 days after the agreement took effect counted per art. 85, else 422 confirmation_deadline_passed unless lateReason is given (then late: true). Excluded subjects → 422 excluded_subject. materials[] must name materials the caller may read (422 unknown_material). A live application (pending or ruled valid) for the same referral → 409 duplicate_application. Answers 201 with the application.
     */
    post: operations['postV1JudicialConfirmations']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/judicial-confirmations/{id}': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    /**
     * 查询司法确认申请 / Get a judicial confirmation application
     * @description 返回 ETag: "<version>"。个人信息仅对受理法院与承办组织完整显示；审查中且已过 reviewDueOn 时 overdue 为 true。 ETag carries the version; personal data is full only for the court concerned and the handling organization; overdue is true while under review past reviewDueOn.
     */
    get: operations['getV1JudicialConfirmationsId']
    put?: never
    post?: never
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/judicial-confirmations/{id}/events': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    /** 司法确认申请的事件历史 / The application’s events in sequence order */
    get: operations['getV1JudicialConfirmationsIdEvents']
    put?: never
    post?: never
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/judicial-confirmations/{id}/acceptance': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 受理或不予受理 / Accept or refuse the application
     * @description 受理：applied → under_review，须填写 诉前调确 或 民特 案号（法院代字须与申请一致，否则 400 invalid_case_number），审查期限 reviewDueOn = 立案日（acceptedOn，默认当日）后 30 日，末日遇休息日顺延（民事诉讼法 187、85）；不予受理：applied → not_accepted，须说明理由（民诉法解释 355）。acceptedOn 不得晚于当日（422 date_in_future）或早于申请日（422 date_before_application）。 Court only. accepted: a 诉前调确/民特 case number of this court, reviewDueOn = acceptance date + 30 days rolled per art. 85; not_accepted: a reason.
     */
    post: operations['postV1JudicialConfirmationsIdAcceptance']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/judicial-confirmations/{id}/withdrawal': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 撤回申请 / Withdraw the application
     * @description applied 或 under_review → withdrawn（民诉法解释 357）；请求体可省略或附 reason。Mediation only; the body may be omitted.
     */
    post: operations['postV1JudicialConfirmationsIdWithdrawal']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/judicial-confirmations/{id}/ruling': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 裁定 / Rule on the application
     * @description under_review → ruled_valid（裁定调解协议有效）或 ruled_rejected（裁定驳回申请），民事诉讼法 206；裁定载明所确认协议的 agreementSha256。ruledOn 不得晚于当日（422 date_in_future）或早于立案日（422 date_before_acceptance）。servedOn（送达日，默认 ruledOn；不得晚于当日或早于 ruledOn，422 date_in_future / date_before_ruling）起算当事人异议期：objectionDueOn = servedOn + 15 日，末日遇休息日顺延（民诉法解释 372）。documentMaterialId：裁定书，须为法院可读的已上传材料（否则 422 unknown_material），随即成为本申请的材料。 Court only; the ruling shows the agreementSha256 of the agreement it rules on. servedOn (default ruledOn) sets objectionDueOn = servedOn + 15 days, rolled; documentMaterialId: the ruling document, a material the court may read (422 unknown_material), linked to the application.
     */
    post: operations['postV1JudicialConfirmationsIdRuling']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/judicial-confirmations/{id}/review-extension': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 延长审查期限 / Extend the review period
     * @description 民事诉讼法 187：经院长批准延长审查期限。under_review 或 materials_requested，状态不变；newDueOn 须晚于当前 reviewDueOn（否则 422 due_date_not_later），遇休息日顺延至下一工作日（应答显示顺延后的日期）。事件 confirmation.review_extended。 Court only, from under_review or materials_requested, no change of state: newDueOn later than reviewDueOn (422 due_date_not_later), rolled forward if a rest day.
     */
    post: operations['postV1JudicialConfirmationsIdReviewExtension']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/judicial-confirmations/{id}/material-request': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 责令补充材料 / Order missing materials
     * @description 民诉法解释 354：under_review → materials_requested，items 为须补充的材料，dueOn 须晚于当日（否则 422 date_not_in_future）。dueOn 届满（Asia/Shanghai）仍未补充的，系统按撤回申请处理：materials_requested → deemed_withdrawn（民诉法解释 357，事件 confirmation.deemed_withdrawn，actor system）。 Court only: under_review → materials_requested; dueOn a future date (422 date_not_in_future). Not supplied by the end of dueOn (Asia/Shanghai) → deemed_withdrawn by the system (357).
     */
    post: operations['postV1JudicialConfirmationsIdMaterialRequest']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/judicial-confirmations/{id}/material-supplement': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 补充材料 / Supply the ordered materials
     * @description materials_requested → under_review，至少一项材料（否则 400），须为调用方可读的已上传材料（否则 422 unknown_material），随即成为本申请的材料；dueOn 届满后补充的，按撤回申请处理（422 supplement_deadline_passed，民诉法解释 357）。 Mediation only: materials_requested → under_review with at least one material the caller may read (422 unknown_material); after the end of dueOn 422 supplement_deadline_passed.
     */
    post: operations['postV1JudicialConfirmationsIdMaterialSupplement']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/judicial-confirmations/{id}/objection': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 登记对裁定的异议 / Record an objection to the ruling
     * @description 民诉法解释 372：ruled_valid / ruled_rejected → objection_filed。当事人（by: party，须填 partyIndex）于 objectionDueOn 内提出；利害关系人（by: interested_person，须填 knewOn）自知道或应当知道权益受侵害之日起 6 个月内提出（到期月的对应日，无对应日的为月末日，遇休息日顺延），否则 422 objection_deadline_passed。filedOn 不得晚于当日（422 date_in_future）或早于裁定日（422 date_before_ruling）。 Court only: a party (partyIndex) within objectionDueOn; an interested person within 6 months after knewOn (same day of the month, or the last day of a shorter month, rolled) → else 422 objection_deadline_passed.
     */
    post: operations['postV1JudicialConfirmationsIdObjection']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/judicial-confirmations/{id}/objection-ruling': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 对异议作出裁定 / Rule on the objection
     * @description objection_filed → ruling_revoked（revoked，撤销原裁定）或回到原裁定状态 ruled_valid / ruled_rejected（dismissed，驳回异议）。ruledOn 不得晚于当日（422 date_in_future）或早于提出异议之日（422 date_before_objection）。 Court only: revoked → ruling_revoked; dismissed → back to the ruled state the objection came from.
     */
    post: operations['postV1JudicialConfirmationsIdObjectionRuling']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/subscriptions': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    /**
     * 订阅列表 / List subscriptions
     * @description 仅运维角色；可按 clientId 过滤，按标识排序分页。密钥从不出现在查询结果中。Operator only; filter by clientId; secrets never appear.
     */
    get: operations['getV1Subscriptions']
    put?: never
    /**
     * 创建推送订阅 / Create a webhook subscription
     * @description 仅运维角色。订阅自创建起接收其调用方可读、类型匹配的事件（更早的事件请用 GET /v1/events 拉取）。密钥以 whsec_ 开头，仅显示一次。地址须为 http(s)；回环、内网、链路本地与云元数据地址返回 422 url_not_allowed（除非 allowPrivateNetwork，它仍不放行链路本地与元数据地址）；不跟随重定向。 Operator only. Receives, from its creation on, the events its client may read, of the types asked for. The secret is shown once. Unknown clientId → 422 unknown_client.
     */
    post: operations['postV1Subscriptions']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/subscriptions/{id}': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    /**
     * 查询订阅 / Get a subscription
     * @description 返回订阅设置与状态（enabled、disabledReason、轮换中旧密钥的到期时间），不含密钥。Settings and state, never the secret.
     */
    get: operations['getV1SubscriptionsId']
    put?: never
    post?: never
    /**
     * 删除订阅 / Delete a subscription
     * @description 未完成的投递随之终止（记为 dead，原因 subscription_deleted）；投递记录保留。Its pending deliveries end (dead, subscription_deleted); the history stays.
     */
    delete: operations['deleteV1SubscriptionsId']
    options?: never
    head?: never
    /**
     * 修改订阅 / Update a subscription
     * @description 可改地址、事件类型、说明、allowPrivateNetwork 与启用状态（重新启用 410 停用的订阅）；地址按新设置重新检查。停用时未完成的投递记为 dead（subscription_disabled），重新启用后可用 recovery 补发。Changing the URL or allowPrivateNetwork re-checks the URL; disabling ends the pending deliveries (dead, subscription_disabled; recover them after re-enabling); enabled: true re-enables a subscription a 410 disabled.
     */
    patch: operations['patchV1SubscriptionsId']
    trace?: never
  }
  '/v1/subscriptions/{id}/secret-rotation': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 轮换签名密钥 / Rotate the signing secret
     * @description 返回新密钥（仅一次）。旧密钥继续签名 24 小时：期间 webhook-signature 携带新旧两个签名（空格分隔）。The old secret keeps signing for 24 h; both signatures are sent meanwhile.
     */
    post: operations['postV1SubscriptionsIdSecretRotation']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/subscriptions/{id}/recovery': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 按时间窗重新投递失败事件 / Re-send dead deliveries in a time window
     * @description 后台任务：把该订阅在 [since, until]（投递创建时间，until 默认为当前）内状态为 dead 的投递重新排队，webhook-id 不变。返回 202 与任务标识；任务状态存于 PostgreSQL，Redis 丢失也会完成。 A background job re-opens the dead deliveries created within the window (same webhook-id). 202 with a job id; GET …/recovery/{jobId} shows its progress.
     */
    post: operations['postV1SubscriptionsIdRecovery']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/subscriptions/{id}/recovery/{jobId}': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    /**
     * 恢复任务状态 / Recovery job status
     * @description queued 或 done；done 时 requeued 为重新排队的投递数。queued or done; when done, requeued counts the re-opened deliveries.
     */
    get: operations['getV1SubscriptionsIdRecoveryJobId']
    put?: never
    post?: never
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/deliveries': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    /**
     * 投递记录 / List deliveries with their attempt log
     * @description 按创建时间倒序（最新在前）；每条附尝试记录：时间、HTTP 状态、耗时、应答前 1 KiB、错误。Newest first; each with its attempt log. since/until filter on the delivery’s creation time.
     */
    get: operations['getV1Deliveries']
    put?: never
    post?: never
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/deliveries/{id}': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    /**
     * 查询投递 / Get a delivery with its attempt log
     * @description 含全部尝试记录（最近 50 次）。With its attempt log (the latest 50 attempts).
     */
    get: operations['getV1DeliveriesId']
    put?: never
    post?: never
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/deliveries/{id}/retry': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 重新投递 / Retry a delivery now
     * @description dead 或 pending 的投递立即重新排队（重新计算 24 小时重试窗口），webhook-id 不变；已送达的返回 409。A dead or pending delivery is attempted again now, with the same webhook-id; a delivered one → 409.
     */
    post: operations['postV1DeliveriesIdRetry']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/sync/status': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    /**
     * 同步状态 / Sync status per subscription
     * @description 调用方自己的订阅（运维：全部）：待投递数、最早待投递的等待秒数、dead 数、最近送达时间。The caller’s subscriptions (all, for operators).
     */
    get: operations['getV1SyncStatus']
    put?: never
    post?: never
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/events': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    /**
     * 事件拉取（对账）/ Pull feed of events (reconciliation)
     * @description 调用方可读的全部事件；无 after 时从第一条开始。游标不会跳过晚提交的事务写入的事件：只返回早于当前快照 xmin 的事务写入的事件，按（事务号，位置）排序，因此仍在进行中的事务之后的事件会稍后出现，但绝不会被越过。nextCursor 总是字符串；到末尾时 items 为空，游标保持为续读位置。types 为逗号分隔的事件类型。 Every event the caller may read, from the first when `after` is absent. Only events of transactions older than every running one are served, ordered by (transaction id, position), so an event whose transaction commits late appears later but is never skipped. nextCursor is always a string; at the end items is empty and the cursor stays the resume point. `types` is a comma-separated list.
     */
    get: operations['getV1Events']
    put?: never
    post?: never
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/routing/suggestions': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    /**
     * 在线分流：推荐调解组织 / Routing suggestions
     * @description 按纠纷类型与区域为法院排序推荐调解组织（意见 四(三) 在线分流）。仅含启用的、法院可指定（本院或所属高院特邀调解名册）或当事人可选择（司法部名册）的组织。行业专业性纠纷（医疗、道路交通、劳动争议、物业、消费、金融、保险、知识产权、环境污染、旅游、新业态）：受理该类纠纷的行业性专业性调解委员会优先；基层常见纠纷（婚姻家庭、邻里、房屋宅基地、山林土地）：纠纷所在地的乡镇（街道）、村（居）调解委员会优先；其他纠纷：登记受理该类纠纷的本地组织优先。同一档次内专职调解员配备达标者（行业性 ≥ 3、乡镇 ≥ 2）优先，其后依次为是否登记该类纠纷、区域远近（区县、地市级、省级组织）、名称。省级（PP0000）、地市级（PPCC00）组织覆盖其下辖区县；区域外的组织仅在列入本院或高院特邀名册时出现。regionCode 缺省为法院所在区域；courtCode 须为调用方法院之一（否则 422 court_code_not_allowed），仅有一个法院代字的法院可省略。最多返回 limit 条（默认 50）。
     *
     *     Organizations ranked for a court, a dispute type and a region, each with stable reason codes. Only active organizations the court may designate (its own or its high court’s special roster) or the parties may choose (ministry roster). Specialised types: industry committees listing the type first; basic types: local township/village committees first; within a tier staffing-compliant ones first, then type listed, closeness, name. Out-of-region organizations appear only when on the court’s special roster.
     */
    get: operations['getV1RoutingSuggestions']
    put?: never
    post?: never
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/warnings': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    /**
     * 预警列表 / List warnings
     * @description 按发布先后排列。regionCode 可为 2、4、6 位前缀；since 为发布时间下限（含）；status 按生命周期状态筛选。可读范围：发起方本身；另一方中所在区域与预警区域处于同一分支（一方覆盖另一方）的法院（按法院代字推得的区域）或调解平台（按其 regionCodes；全国范围的平台可读全部法院预警，仅按组织标识授权的平台没有区域，只见自己发起的预警）；同一方的其他调用方不可读；运维全部。Readable by the raising client; on the other side by courts (region derived from their codes) and platforms (their regionCodes; national ones: every court warning) whose region and the warning’s are on one branch; not by other clients of the raiser’s side; operators all.
     */
    get: operations['getV1Warnings']
    put?: never
    /**
     * 发布重大矛盾纠纷预警 / Raise a major-dispute warning
     * @description 法院或调解方发布预警，以 warning.raised 事件推送给另一方中所在区域与预警区域处于同一分支的订阅者（法院发布的推送调解方，调解方发布的推送法院）。referralId 须为调用方可读的委派案件，否则 404。发布的内容此后不可修改；新预警为 raised 状态，version 为 1，acknowledgementDueAt 为签收时限（见签收、续报、结报）。可读范围：发起方本身；另一方中所在区域与预警区域处于同一分支（一方覆盖另一方）的法院（按法院代字推得的区域）或调解平台（按其 regionCodes；全国范围的平台可读全部法院预警，仅按组织标识授权的平台没有区域，只见自己发起的预警）；同一方的其他调用方不可读；运维全部。Readable by the raising client; on the other side by courts (region derived from their codes) and platforms (their regionCodes; national ones: every court warning) whose region and the warning’s are on one branch; not by other clients of the raiser’s side; operators all.
     *
     *     A court or the mediation side raises a warning; it is delivered as `warning.raised` to the other side’s subscribers whose region is on one branch with the warning’s. A referralId must name a referral the caller may read (else 404). What was raised never changes; a new warning is `raised`, version 1, due for acknowledgement by `acknowledgementDueAt` (see the acknowledgement, follow-up and closure routes).
     */
    post: operations['postV1Warnings']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/warnings/{id}': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    /**
     * 查询预警 / Get a warning
     * @description 可读范围：发起方本身；另一方中所在区域与预警区域处于同一分支（一方覆盖另一方）的法院（按法院代字推得的区域）或调解平台（按其 regionCodes；全国范围的平台可读全部法院预警，仅按组织标识授权的平台没有区域，只见自己发起的预警）；同一方的其他调用方不可读；运维全部。Readable by the raising client; on the other side by courts (region derived from their codes) and platforms (their regionCodes; national ones: every court warning) whose region and the warning’s are on one branch; not by other clients of the raiser’s side; operators all.
     *
     *     ETag 为 version。The ETag is the version. 预警生命周期（意见 五(一)：双向预警、续报、结报）：raised（已发布）→ acknowledged（另一方签收）→ closed（发布方结报），未结报前双方均可续报（状态不变，可多次）。未在时限内签收（红色 2 小时、橙色 12 小时、黄色 24 小时，自发布起算，见 acknowledgementDueAt）的预警发出且只发出一次 warning.overdue 事件（overdue 变为 true）。签收、续报、结报与逾期事件（warning.acknowledged、warning.followed_up、warning.closed、warning.overdue）推送给双方中所在区域与预警区域处于同一分支的订阅者；签收说明与报告中的身份证号、手机号在接收时即脱敏（双方均非“委派法院与办理组织”），事件不含预警摘要。不可读（不在可读范围）→ 404；运维 → 403 forbidden；一方执行另一方的动作 → 403 forbidden；当前状态不允许 → 409 illegal_transition（currentStatus）；If-Match 与 version 不符 → 412 version_mismatch。
     *
     *     Lifecycle: raised → acknowledged (by the other side) → closed (by the raising side); follow-ups from either side until closed (no state change, repeatable). A warning not acknowledged within its level’s time (red 2 h, orange 12 h, yellow 24 h from raising: acknowledgementDueAt) gets exactly one `warning.overdue` event. The lifecycle events go to the subscribers of both sides whose region is on the warning’s branch and leave out the summary; ID and mobile numbers in notes and reports are masked on receipt. Outside the read scope → 404; operators → 403 `forbidden`; the wrong side → 403 `forbidden`; a status that does not allow the action → 409 `illegal_transition` with `currentStatus`; a stale If-Match → 412.
     */
    get: operations['getV1WarningsId']
    put?: never
    post?: never
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/warnings/{id}/events': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    /** 预警事件 / Events of a warning */
    get: operations['getV1WarningsIdEvents']
    put?: never
    post?: never
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/warnings/{id}/acknowledgement': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 签收预警 / Acknowledge a warning
     * @description 由另一方签收：未发布该预警一方的调用方，且其区域与预警区域处于同一分支（全国范围的调解平台亦可），raised → acknowledged。发布方签收 → 403 forbidden；已签收或已结报 → 409 illegal_transition。可不带请求体。预警生命周期（意见 五(一)：双向预警、续报、结报）：raised（已发布）→ acknowledged（另一方签收）→ closed（发布方结报），未结报前双方均可续报（状态不变，可多次）。未在时限内签收（红色 2 小时、橙色 12 小时、黄色 24 小时，自发布起算，见 acknowledgementDueAt）的预警发出且只发出一次 warning.overdue 事件（overdue 变为 true）。签收、续报、结报与逾期事件（warning.acknowledged、warning.followed_up、warning.closed、warning.overdue）推送给双方中所在区域与预警区域处于同一分支的订阅者；签收说明与报告中的身份证号、手机号在接收时即脱敏（双方均非“委派法院与办理组织”），事件不含预警摘要。不可读（不在可读范围）→ 404；运维 → 403 forbidden；一方执行另一方的动作 → 403 forbidden；当前状态不允许 → 409 illegal_transition（currentStatus）；If-Match 与 version 不符 → 412 version_mismatch。
     *
     *     Lifecycle: raised → acknowledged (by the other side) → closed (by the raising side); follow-ups from either side until closed (no state change, repeatable). A warning not acknowledged within its level’s time (red 2 h, orange 12 h, yellow 24 h from raising: acknowledgementDueAt) gets exactly one `warning.overdue` event. The lifecycle events go to the subscribers of both sides whose region is on the warning’s branch and leave out the summary; ID and mobile numbers in notes and reports are masked on receipt. Outside the read scope → 404; operators → 403 `forbidden`; the wrong side → 403 `forbidden`; a status that does not allow the action → 409 `illegal_transition` with `currentStatus`; a stale If-Match → 412.
     *
     *     By the other side (a client of the role that did not raise it whose region is on the warning’s branch): raised → acknowledged. The body may be omitted.
     */
    post: operations['postV1WarningsIdAcknowledgement']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/warnings/{id}/follow-up': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 预警续报 / Report a follow-up on a warning
     * @description 续报：发布方或另一方中可读该预警的调用方均可，状态不变，可多次，按时间先后列于 followUps；已结报 → 409 illegal_transition。预警生命周期（意见 五(一)：双向预警、续报、结报）：raised（已发布）→ acknowledged（另一方签收）→ closed（发布方结报），未结报前双方均可续报（状态不变，可多次）。未在时限内签收（红色 2 小时、橙色 12 小时、黄色 24 小时，自发布起算，见 acknowledgementDueAt）的预警发出且只发出一次 warning.overdue 事件（overdue 变为 true）。签收、续报、结报与逾期事件（warning.acknowledged、warning.followed_up、warning.closed、warning.overdue）推送给双方中所在区域与预警区域处于同一分支的订阅者；签收说明与报告中的身份证号、手机号在接收时即脱敏（双方均非“委派法院与办理组织”），事件不含预警摘要。不可读（不在可读范围）→ 404；运维 → 403 forbidden；一方执行另一方的动作 → 403 forbidden；当前状态不允许 → 409 illegal_transition（currentStatus）；If-Match 与 version 不符 → 412 version_mismatch。
     *
     *     Lifecycle: raised → acknowledged (by the other side) → closed (by the raising side); follow-ups from either side until closed (no state change, repeatable). A warning not acknowledged within its level’s time (red 2 h, orange 12 h, yellow 24 h from raising: acknowledgementDueAt) gets exactly one `warning.overdue` event. The lifecycle events go to the subscribers of both sides whose region is on the warning’s branch and leave out the summary; ID and mobile numbers in notes and reports are masked on receipt. Outside the read scope → 404; operators → 403 `forbidden`; the wrong side → 403 `forbidden`; a status that does not allow the action → 409 `illegal_transition` with `currentStatus`; a stale If-Match → 412.
     *
     *     By either side (the raising client, or a reader of the other side); no state change, repeatable; not after closure.
     */
    post: operations['postV1WarningsIdFollowUp']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/warnings/{id}/closure': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 预警结报 / Close a warning
     * @description 结报：仅由发布方结报，即发布该预警的调用方本身（同一方的其他调用方读不到该预警，答 404），raised 或 acknowledged → closed；另一方结报 → 403 forbidden；已结报 → 409 illegal_transition。预警生命周期（意见 五(一)：双向预警、续报、结报）：raised（已发布）→ acknowledged（另一方签收）→ closed（发布方结报），未结报前双方均可续报（状态不变，可多次）。未在时限内签收（红色 2 小时、橙色 12 小时、黄色 24 小时，自发布起算，见 acknowledgementDueAt）的预警发出且只发出一次 warning.overdue 事件（overdue 变为 true）。签收、续报、结报与逾期事件（warning.acknowledged、warning.followed_up、warning.closed、warning.overdue）推送给双方中所在区域与预警区域处于同一分支的订阅者；签收说明与报告中的身份证号、手机号在接收时即脱敏（双方均非“委派法院与办理组织”），事件不含预警摘要。不可读（不在可读范围）→ 404；运维 → 403 forbidden；一方执行另一方的动作 → 403 forbidden；当前状态不允许 → 409 illegal_transition（currentStatus）；If-Match 与 version 不符 → 412 version_mismatch。
     *
     *     Lifecycle: raised → acknowledged (by the other side) → closed (by the raising side); follow-ups from either side until closed (no state change, repeatable). A warning not acknowledged within its level’s time (red 2 h, orange 12 h, yellow 24 h from raising: acknowledgementDueAt) gets exactly one `warning.overdue` event. The lifecycle events go to the subscribers of both sides whose region is on the warning’s branch and leave out the summary; ID and mobile numbers in notes and reports are masked on receipt. Outside the read scope → 404; operators → 403 `forbidden`; the wrong side → 403 `forbidden`; a status that does not allow the action → 409 `illegal_transition` with `currentStatus`; a stale If-Match → 412.
     *
     *     By the raising side, that is the raising client itself (other clients of its side cannot read the warning: 404): raised or acknowledged → closed.
     */
    post: operations['postV1WarningsIdClosure']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/stats': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    /**
     * 统计 / Statistics
     * @description 统计对象为期间内（from–to，上海时间日期，含两端；缺省为今日起倒推 30 日）创建、且调用方可读的委派案件：法院为本院案件，调解平台为其组织办理过的案件，运维为全部。各计数为曾达到该结果的案件数，不论其后如何（终结后又登记立案的仍计入终结）；超时不予接受计入 declined，超期终结计入 terminated。successRate = agreed / (agreed + terminated)；autoPerformanceRate = performed / performanceReported（以最新一次回访为准）；medianDaysToOutcome 为受理日至协议或终结日（上海时间日期）的天数中位数；litigatedAfterFailure = case_registered + trial_resumed；confirmationsApplied / RuledValid 为这些案件的司法确认申请数 / 裁定有效数。比率取 0–1、四舍五入保留 4 位小数，分母为 0 时为 null。groupBy：court（法院代字）、disputeType、month（创建月份，上海时间）、organization、region（调解组织 6 位区划代码）；缺省 court。按 organization 或 region 分组时，案件按办理过它的每个组织各计一次，各结果计入达到该结果时办理该案的组织（或其区域），故各组之和可能大于案件总数。regionCode 按调解组织所在区域筛选（2、4、6 位前缀）；courtCode 对法院须为本院代字（否则 422 court_code_not_allowed）。另附今日快照：各组未办结案件数及其自委派起的天数（中位数、最大），审查超期的司法确认数；overdueConfirmations 为调用方范围内全部超期审查的申请数（含非委派案件的申请，不受期间限制）。
     *
     *     Counts referrals created in the period (Asia/Shanghai dates, both ends included; default the last 30 days) that the caller may read, by whether they ever reached each outcome. Rates are rounded to 4 decimals, null when the denominator is 0. organization/region groups count a referral once per organization that held it, each outcome for the organization holding the case when it was reached. Also: open referrals and their age, overdue reviews.
     */
    get: operations['getV1Stats']
    put?: never
    post?: never
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/materials': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 上传案件材料 / Upload a case material
     * @description 请求体为文件本身（流式上传，不整体缓存），Content-Type 为文件类型：PDF（application/pdf）、OFD（application/ofd）、JPEG（image/jpeg）、PNG（image/png）、DOCX（application/vnd.openxmlformats-officedocument.wordprocessingml.document），其他类型 415 unsupported_media_type；超过 50 MiB 413 payload_too_large；空文件 400。文件开头须为所声明类型的文件标识（PDF %PDF-，PNG、JPEG 签名，OFD 与 DOCX 为 zip：PK\x03\x04），否则 415 content_type_mismatch。每个客户端已存材料的总字节数不超过 MATERIAL_QUOTA_BYTES_PER_CLIENT（默认 10 GiB）：会超出配额的上传在流式接收中一旦超出即拒绝，507 quota_exceeded，不留任何数据。未被任何案件（委派、退回材料、司法确认申请）引用的材料在上传 MATERIAL_ORPHAN_TTL_HOURS（默认 72）小时后删除。X-Material-Title 为百分号编码的 UTF-8 标题（1–200 字）。服务边接收边计算 SHA-256 并分块（256 KiB）存入 PostgreSQL。幂等：须带 Idempotency-Key；流式请求体无法预先计算摘要，故在接收完毕后以 内容类型 + 标题 + 内容 SHA-256 + 大小 作为请求指纹：相同指纹重放首次的应答（Idempotent-Replayed: true，不再另存），不同指纹 422 idempotency_key_reused；同一键的另一上传正在落库时 409 idempotency_key_in_use。材料可由上传方下载；被委派案件、退回材料或司法确认申请引用后，可读该案件的调用方亦可下载。
     *
     *     The body is the file itself, streamed (never buffered whole), with its own Content-Type (PDF, OFD, JPEG, PNG, DOCX; else 415); above 50 MiB 413; empty 400. The content must start with the magic number of its declared type (PDF %PDF-, PNG and JPEG signatures, OFD and DOCX a zip: PK\x03\x04), else 415 content_type_mismatch. A client keeps at most MATERIAL_QUOTA_BYTES_PER_CLIENT bytes of materials (default 10 GiB): an upload is refused with 507 quota_exceeded as soon as its streamed bytes would pass the quota, leaving nothing stored. A material no case (referral, returned materials, confirmation application) references is removed MATERIAL_ORPHAN_TTL_HOURS (default 72) hours after its upload. X-Material-Title is percent-encoded UTF-8. SHA-256 is computed while streaming; the bytes are stored in PostgreSQL in 256 KiB chunks. Idempotency-Key is required; since a streamed body cannot be hashed up front, the request fingerprint is content type + title + content SHA-256 + size, checked once the body has been read: same fingerprint → the first answer replayed (nothing stored twice), different → 422 idempotency_key_reused.
     */
    post: operations['postV1Materials']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/materials/{id}': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    /**
     * 下载案件材料 / Download a material
     * @description 以上传时的 Content-Type 流式返回文件；ETag 为内容 SHA-256。可读者：上传方，以及可读引用该材料的委派案件或司法确认申请的调用方；其他情况 404。
     *
     *     Streams the file with its content type; the ETag is its SHA-256. Readable by the uploading client and by clients that may read a referral or confirmation application referencing it; 404 otherwise.
     */
    get: operations['getV1MaterialsId']
    put?: never
    post?: never
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/calendar/{year}': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    /**
     * 查询法定节假日安排 / Get a year’s calendar
     * @description 期限计算所用的放假日与调休上班日。已公布年份取国务院安排（随服务发布，或经 PUT 更新）；其他年份按《全国年节及纪念日放假办法》法定假日推定，含第六条补假（法定假日逢周六、周日的，在该假日之后第一个非放假的工作日补假），provisional 为 true，且无调休。既无国务院安排、又超出法定节假日农历数据年份（至 2036 年）的年份无法推定，答 422 calendar_unavailable。
     *
     *     The days off and make-up working days every deadline uses: the State Council arrangement where published (shipped or PUT), otherwise the statutory days with provisional: true, including 补假 (art. 6: each statutory day on a Saturday or Sunday adds a day off on the first working day after that holiday not already off). A year with neither an arrangement nor lunar data (after 2036) answers 422 calendar_unavailable.
     */
    get: operations['getV1CalendarYear']
    /**
     * 更新年度放假安排 / Publish a year’s arrangement
     * @description 运维录入国务院公布的该年放假与调休安排，整体替换该年已有安排，立即用于此后计算的期限。日期须为该年内的有效日期，不得重复，同一日不能既放假又上班，否则 400 validation_failed 并逐项列出。随后重算期限用到该年的全部未办结案件（待受理的受理期限、调解中或中止中的调解期限、审查中的司法确认审查期限及第 15 日审查目标日、已裁定的当事人异议期限）：期限只会推后，新日历算出更早的日期时原日期不变；期限变动的案件版本号加一，各记一条 referral.deadlines_changed 或 confirmation.deadlines_changed 事件 { before, after, calendarYear }，定时器随之调整。重算提交后才应答；中途中断的重算在服务下次启动或再次 PUT 时接续。PUT 本身幂等，无需 Idempotency-Key：同一安排再次 PUT 不再变动任何案件。
     *
     *     Operator only: replaces the year’s days off and make-up working days, effective at once for deadlines computed afterwards. Each bad date is named in errors[] (400 validation_failed). Then every open case whose running due date (acceptance, mediation, review and its day-15 target, a ruling’s objection window) used the year is recomputed: a date only moves later; each case that changes gets a new version and one *.deadlines_changed event { before, after, calendarYear }, and its timer follows. The PUT answers once that is committed; an interrupted recomputation resumes at the next start or PUT.
     */
    put: operations['putV1CalendarYear']
    post?: never
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/code-tables': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    /**
     * 代码表 / Code tables
     * @description 本契约的各枚举及其中英文名称，供对接方同步字典：dispute-types 纠纷类型、termination-reasons 调解终结事由（含系统在期限届满时写入的 deadline_expired）、organization-kinds 调解组织类型、suspension-reasons 中止调解事由、referral-statuses 委派案件状态、confirmation-statuses 司法确认申请状态、warning-levels 预警等级、event-types 事件类型、id-types 证件类型。代码即接口校验所用的枚举本身；不予接受的理由为自由文本（超时为 acceptance_timeout），不设代码表。version 为条目规范 JSON（[{code, zh, en}]，按表内顺序）的 SHA-256 前 16 位十六进制：条目或名称变化时 version 随之变化，对接方比较 version 即知是否需要更新。
     *
     *     Every enumeration of the contract with its Chinese and English labels, for peers to keep their dictionaries in step. The codes are the very enumerations the API validates with; termination-reasons includes the timer’s deadline_expired. Decline reasons are free text, so there is no table for them. version is the first 16 hex digits of SHA-256 over the canonical JSON of the entries ([{code, zh, en}] in table order): it changes exactly when a code or a label does.
     */
    get: operations['getV1CodeTables']
    put?: never
    post?: never
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/code-tables/{name}': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    /**
     * 查询一张代码表 / Get one code table
     * @description 本契约的各枚举及其中英文名称，供对接方同步字典：dispute-types 纠纷类型、termination-reasons 调解终结事由（含系统在期限届满时写入的 deadline_expired）、organization-kinds 调解组织类型、suspension-reasons 中止调解事由、referral-statuses 委派案件状态、confirmation-statuses 司法确认申请状态、warning-levels 预警等级、event-types 事件类型、id-types 证件类型。代码即接口校验所用的枚举本身；不予接受的理由为自由文本（超时为 acceptance_timeout），不设代码表。version 为条目规范 JSON（[{code, zh, en}]，按表内顺序）的 SHA-256 前 16 位十六进制：条目或名称变化时 version 随之变化，对接方比较 version 即知是否需要更新。
     *
     *     Every enumeration of the contract with its Chinese and English labels, for peers to keep their dictionaries in step. The codes are the very enumerations the API validates with; termination-reasons includes the timer’s deadline_expired. Decline reasons are free text, so there is no table for them. version is the first 16 hex digits of SHA-256 over the canonical JSON of the entries ([{code, zh, en}] in table order): it changes exactly when a code or a label does.
     *
     *     未知的表名 → 404 not_found. An unknown name answers 404 not_found.
     */
    get: operations['getV1CodeTablesName']
    put?: never
    post?: never
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/reconciliation': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    /**
     * 日对账 / Daily reconciliation
     * @description 调用方可读、且最后变更落在 date 当日的 kind 类案件：数量、各状态数量与摘要。范围与列表相同：法院为本院案件，调解平台为其组织办理过（委派）或申请（司法确认）的案件，运维为全部。“最后变更”即案件的 updatedAt，按上海时间（Asia/Shanghai）归日：00:00:00+08:00（含）至次日 00:00:00+08:00（不含）。digest 为各案件一行 `<id>:<version>:<status>\n`（id 为小写 UUID）按 id 升序拼接后的 SHA-256（小写十六进制）；当日无案件时为空串的 SHA-256。对方以同样方法计算本地数据，摘要一致即当日数据一致；不一致时以 POST /v1/reconciliation/diff 找出差异。
     *
     *     The cases of `kind` the caller may read (the scope of the lists) whose last change (`updatedAt`) fell on `date` in Asia/Shanghai (from 00:00:00+08:00 inclusive to the next 00:00:00+08:00 exclusive): their count, count per status and `digest`, the lowercase hex SHA-256 of the lines `<id>:<version>:<status>\n` sorted by id (the SHA-256 of the empty string for a day without cases). A peer computes the same over its own copy; equal digests prove the day complete, otherwise POST /v1/reconciliation/diff names the differences.
     */
    get: operations['getV1Reconciliation']
    put?: never
    post?: never
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/reconciliation/diff': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 日对账差异 / Reconciliation diff
     * @description 以调用方所持当日案件（id 与版本）与服务端比对。范围与列表相同：法院为本院案件，调解平台为其组织办理过（委派）或申请（司法确认）的案件，运维为全部。“最后变更”即案件的 updatedAt，按上海时间（Asia/Shanghai）归日：00:00:00+08:00（含）至次日 00:00:00+08:00（不含）。missing：当日案件中调用方未列出、或所列版本与当前版本不一致者（附当前版本，按 id 排序）；matched：版本一致的当日案件数，故 matched + missing 数 = 当日 count。unknown：服务端无此 kind 的案件、或调用方无权读取的 id（按请求顺序，原样返回）。调用方可读、但最后变更在其他日期的案件既不计入 missing 也不计入 unknown、亦不计入 matched：它在其最后变更之日对账。id 不区分大小写；同一 id 出现两次 → 400 validation_failed（duplicate_id）；items 超过 10000 项 → 400；当日案件更多时分批提交，某批 missing 中调用方在其他批次已按该版本持有的案件并非缺失。本接口只读、不改变任何数据，无需 Idempotency-Key。
     *
     *     Compares the caller’s `{ id, version }` list for the day with the service’s. `missing`: cases of that day the caller did not list or lists at a version other than the current one, with the current version, sorted by id; `matched`: cases of that day listed at their current version, so `matched + missing.length = count`. `unknown`: ids the service does not have (as a case of this kind) or the caller may not read, as sent, in request order. An id the caller may read whose last change fell on another day is in none of the three: it is reconciled on the day of its last change. Ids compare case-insensitively; an id listed twice → 400 validation_failed (duplicate_id); more than 10000 items → 400: a longer day goes in parts, and a case one part reports missing that the caller holds at that version (listed in another part) is not missing. A read: it changes nothing, so it needs no Idempotency-Key.
     */
    post: operations['postV1ReconciliationDiff']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/service-keys': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    /**
     * 回执验签公钥 / Receipt verification keys (JWKS)
     * @description 本服务签发回执（写操作应答头 Receipt）所用的公钥，JWKS 格式；第一把为当前签名密钥，其余为轮换前的旧密钥，仍可用于验证旧回执。EdDSA：Ed25519（RFC 8037）；SM2SM3：SM2 签名、SM3 杂凑、用户标识 1234567812345678（GB/T 32918、GM/T 0009），签名为 r‖s 各 32 字节。见 docs/receipts.md。
     *
     *     The public keys of the service’s receipts (the `Receipt` header of writes on cases) as a JWKS: the first one signs now, the others are earlier keys still published so that older receipts keep verifying. EdDSA: Ed25519 (RFC 8037); SM2SM3: SM2 over SM3 with user id 1234567812345678 (GB/T 32918, GM/T 0009), signature r‖s of 32 bytes each. See docs/receipts.md.
     */
    get: operations['getV1ServiceKeys']
    put?: never
    post?: never
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  '/v1/error-codes': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    /**
     * 错误码目录 / Error catalogue
     * @description 本服务可能应答的每一个错误码，各出现一次：HTTP 状态、适用范围（问题 code 或 errors[].code）及中英文标题与说明。问题的 type 为 /docs/errors#<code>，该页面以 HTML 列出同一目录。
     *
     *     Every code the service can answer, each once: its HTTP status, where it appears (the problem’s code or errors[].code) and its title and description in Chinese and English. A problem’s type is /docs/errors#<code>, the same catalogue as an HTML page.
     */
    get: operations['getV1ErrorCodes']
    put?: never
    post?: never
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
}
export type webhooks = {
  'referral.created': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 事件 referral.created / event referral.created
     * @description 订阅了 referral.created（或 *）的地址收到此事件（契约 §4 信封，个人信息已脱敏）。应在 15 秒内以 2xx 应答（宜先应答再处理），按 webhook-id 去重。A subscription to referral.created (or *) receives this event as the §4 envelope, personal data masked. Answer 2xx within 15 s (answer first, process after); 408, 429 and 5xx are retried with backoff for at least 24 h, other 4xx go straight to dead, 410 disables the subscription.
     */
    post: operations['webhook_referral_created']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  'referral.accepted': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 事件 referral.accepted / event referral.accepted
     * @description 订阅了 referral.accepted（或 *）的地址收到此事件（契约 §4 信封，个人信息已脱敏）。应在 15 秒内以 2xx 应答（宜先应答再处理），按 webhook-id 去重。A subscription to referral.accepted (or *) receives this event as the §4 envelope, personal data masked. Answer 2xx within 15 s (answer first, process after); 408, 429 and 5xx are retried with backoff for at least 24 h, other 4xx go straight to dead, 410 disables the subscription.
     */
    post: operations['webhook_referral_accepted']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  'referral.declined': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 事件 referral.declined / event referral.declined
     * @description 订阅了 referral.declined（或 *）的地址收到此事件（契约 §4 信封，个人信息已脱敏）。应在 15 秒内以 2xx 应答（宜先应答再处理），按 webhook-id 去重。A subscription to referral.declined (or *) receives this event as the §4 envelope, personal data masked. Answer 2xx within 15 s (answer first, process after); 408, 429 and 5xx are retried with backoff for at least 24 h, other 4xx go straight to dead, 410 disables the subscription.
     */
    post: operations['webhook_referral_declined']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  'referral.redesignated': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 事件 referral.redesignated / event referral.redesignated
     * @description 订阅了 referral.redesignated（或 *）的地址收到此事件（契约 §4 信封，个人信息已脱敏）。应在 15 秒内以 2xx 应答（宜先应答再处理），按 webhook-id 去重。A subscription to referral.redesignated (or *) receives this event as the §4 envelope, personal data masked. Answer 2xx within 15 s (answer first, process after); 408, 429 and 5xx are retried with backoff for at least 24 h, other 4xx go straight to dead, 410 disables the subscription.
     */
    post: operations['webhook_referral_redesignated']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  'referral.recalled': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 事件 referral.recalled / event referral.recalled
     * @description 订阅了 referral.recalled（或 *）的地址收到此事件（契约 §4 信封，个人信息已脱敏）。应在 15 秒内以 2xx 应答（宜先应答再处理），按 webhook-id 去重。A subscription to referral.recalled (or *) receives this event as the §4 envelope, personal data masked. Answer 2xx within 15 s (answer first, process after); 408, 429 and 5xx are retried with backoff for at least 24 h, other 4xx go straight to dead, 410 disables the subscription.
     */
    post: operations['webhook_referral_recalled']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  'referral.assigned': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 事件 referral.assigned / event referral.assigned
     * @description 订阅了 referral.assigned（或 *）的地址收到此事件（契约 §4 信封，个人信息已脱敏）。应在 15 秒内以 2xx 应答（宜先应答再处理），按 webhook-id 去重。A subscription to referral.assigned (or *) receives this event as the §4 envelope, personal data masked. Answer 2xx within 15 s (answer first, process after); 408, 429 and 5xx are retried with backoff for at least 24 h, other 4xx go straight to dead, 410 disables the subscription.
     */
    post: operations['webhook_referral_assigned']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  'referral.suspended': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 事件 referral.suspended / event referral.suspended
     * @description 订阅了 referral.suspended（或 *）的地址收到此事件（契约 §4 信封，个人信息已脱敏）。应在 15 秒内以 2xx 应答（宜先应答再处理），按 webhook-id 去重。A subscription to referral.suspended (or *) receives this event as the §4 envelope, personal data masked. Answer 2xx within 15 s (answer first, process after); 408, 429 and 5xx are retried with backoff for at least 24 h, other 4xx go straight to dead, 410 disables the subscription.
     */
    post: operations['webhook_referral_suspended']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  'referral.resumed': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 事件 referral.resumed / event referral.resumed
     * @description 订阅了 referral.resumed（或 *）的地址收到此事件（契约 §4 信封，个人信息已脱敏）。应在 15 秒内以 2xx 应答（宜先应答再处理），按 webhook-id 去重。A subscription to referral.resumed (or *) receives this event as the §4 envelope, personal data masked. Answer 2xx within 15 s (answer first, process after); 408, 429 and 5xx are retried with backoff for at least 24 h, other 4xx go straight to dead, 410 disables the subscription.
     */
    post: operations['webhook_referral_resumed']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  'referral.extended': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 事件 referral.extended / event referral.extended
     * @description 订阅了 referral.extended（或 *）的地址收到此事件（契约 §4 信封，个人信息已脱敏）。应在 15 秒内以 2xx 应答（宜先应答再处理），按 webhook-id 去重。A subscription to referral.extended (or *) receives this event as the §4 envelope, personal data masked. Answer 2xx within 15 s (answer first, process after); 408, 429 and 5xx are retried with backoff for at least 24 h, other 4xx go straight to dead, 410 disables the subscription.
     */
    post: operations['webhook_referral_extended']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  'referral.agreement_recorded': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 事件 referral.agreement_recorded / event referral.agreement_recorded
     * @description 订阅了 referral.agreement_recorded（或 *）的地址收到此事件（契约 §4 信封，个人信息已脱敏）。应在 15 秒内以 2xx 应答（宜先应答再处理），按 webhook-id 去重。A subscription to referral.agreement_recorded (or *) receives this event as the §4 envelope, personal data masked. Answer 2xx within 15 s (answer first, process after); 408, 429 and 5xx are retried with backoff for at least 24 h, other 4xx go straight to dead, 410 disables the subscription.
     */
    post: operations['webhook_referral_agreement_recorded']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  'referral.terminated': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 事件 referral.terminated / event referral.terminated
     * @description 订阅了 referral.terminated（或 *）的地址收到此事件（契约 §4 信封，个人信息已脱敏）。应在 15 秒内以 2xx 应答（宜先应答再处理），按 webhook-id 去重。A subscription to referral.terminated (or *) receives this event as the §4 envelope, personal data masked. Answer 2xx within 15 s (answer first, process after); 408, 429 and 5xx are retried with backoff for at least 24 h, other 4xx go straight to dead, 410 disables the subscription.
     */
    post: operations['webhook_referral_terminated']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  'referral.materials_returned': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 事件 referral.materials_returned / event referral.materials_returned
     * @description 订阅了 referral.materials_returned（或 *）的地址收到此事件（契约 §4 信封，个人信息已脱敏）。应在 15 秒内以 2xx 应答（宜先应答再处理），按 webhook-id 去重。A subscription to referral.materials_returned (or *) receives this event as the §4 envelope, personal data masked. Answer 2xx within 15 s (answer first, process after); 408, 429 and 5xx are retried with backoff for at least 24 h, other 4xx go straight to dead, 410 disables the subscription.
     */
    post: operations['webhook_referral_materials_returned']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  'referral.case_registered': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 事件 referral.case_registered / event referral.case_registered
     * @description 订阅了 referral.case_registered（或 *）的地址收到此事件（契约 §4 信封，个人信息已脱敏）。应在 15 秒内以 2xx 应答（宜先应答再处理），按 webhook-id 去重。A subscription to referral.case_registered (or *) receives this event as the §4 envelope, personal data masked. Answer 2xx within 15 s (answer first, process after); 408, 429 and 5xx are retried with backoff for at least 24 h, other 4xx go straight to dead, 410 disables the subscription.
     */
    post: operations['webhook_referral_case_registered']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  'referral.trial_resumed': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 事件 referral.trial_resumed / event referral.trial_resumed
     * @description 订阅了 referral.trial_resumed（或 *）的地址收到此事件（契约 §4 信封，个人信息已脱敏）。应在 15 秒内以 2xx 应答（宜先应答再处理），按 webhook-id 去重。A subscription to referral.trial_resumed (or *) receives this event as the §4 envelope, personal data masked. Answer 2xx within 15 s (answer first, process after); 408, 429 and 5xx are retried with backoff for at least 24 h, other 4xx go straight to dead, 410 disables the subscription.
     */
    post: operations['webhook_referral_trial_resumed']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  'referral.closed': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 事件 referral.closed / event referral.closed
     * @description 订阅了 referral.closed（或 *）的地址收到此事件（契约 §4 信封，个人信息已脱敏）。应在 15 秒内以 2xx 应答（宜先应答再处理），按 webhook-id 去重。A subscription to referral.closed (or *) receives this event as the §4 envelope, personal data masked. Answer 2xx within 15 s (answer first, process after); 408, 429 and 5xx are retried with backoff for at least 24 h, other 4xx go straight to dead, 410 disables the subscription.
     */
    post: operations['webhook_referral_closed']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  'referral.performance_reported': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 事件 referral.performance_reported / event referral.performance_reported
     * @description 订阅了 referral.performance_reported（或 *）的地址收到此事件（契约 §4 信封，个人信息已脱敏）。应在 15 秒内以 2xx 应答（宜先应答再处理），按 webhook-id 去重。A subscription to referral.performance_reported (or *) receives this event as the §4 envelope, personal data masked. Answer 2xx within 15 s (answer first, process after); 408, 429 and 5xx are retried with backoff for at least 24 h, other 4xx go straight to dead, 410 disables the subscription.
     */
    post: operations['webhook_referral_performance_reported']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  'referral.deadlines_changed': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 事件 referral.deadlines_changed / event referral.deadlines_changed
     * @description 订阅了 referral.deadlines_changed（或 *）的地址收到此事件（契约 §4 信封，个人信息已脱敏）。应在 15 秒内以 2xx 应答（宜先应答再处理），按 webhook-id 去重。A subscription to referral.deadlines_changed (or *) receives this event as the §4 envelope, personal data masked. Answer 2xx within 15 s (answer first, process after); 408, 429 and 5xx are retried with backoff for at least 24 h, other 4xx go straight to dead, 410 disables the subscription.
     */
    post: operations['webhook_referral_deadlines_changed']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  'confirmation.applied': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 事件 confirmation.applied / event confirmation.applied
     * @description 订阅了 confirmation.applied（或 *）的地址收到此事件（契约 §4 信封，个人信息已脱敏）。应在 15 秒内以 2xx 应答（宜先应答再处理），按 webhook-id 去重。A subscription to confirmation.applied (or *) receives this event as the §4 envelope, personal data masked. Answer 2xx within 15 s (answer first, process after); 408, 429 and 5xx are retried with backoff for at least 24 h, other 4xx go straight to dead, 410 disables the subscription.
     */
    post: operations['webhook_confirmation_applied']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  'confirmation.accepted': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 事件 confirmation.accepted / event confirmation.accepted
     * @description 订阅了 confirmation.accepted（或 *）的地址收到此事件（契约 §4 信封，个人信息已脱敏）。应在 15 秒内以 2xx 应答（宜先应答再处理），按 webhook-id 去重。A subscription to confirmation.accepted (or *) receives this event as the §4 envelope, personal data masked. Answer 2xx within 15 s (answer first, process after); 408, 429 and 5xx are retried with backoff for at least 24 h, other 4xx go straight to dead, 410 disables the subscription.
     */
    post: operations['webhook_confirmation_accepted']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  'confirmation.not_accepted': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 事件 confirmation.not_accepted / event confirmation.not_accepted
     * @description 订阅了 confirmation.not_accepted（或 *）的地址收到此事件（契约 §4 信封，个人信息已脱敏）。应在 15 秒内以 2xx 应答（宜先应答再处理），按 webhook-id 去重。A subscription to confirmation.not_accepted (or *) receives this event as the §4 envelope, personal data masked. Answer 2xx within 15 s (answer first, process after); 408, 429 and 5xx are retried with backoff for at least 24 h, other 4xx go straight to dead, 410 disables the subscription.
     */
    post: operations['webhook_confirmation_not_accepted']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  'confirmation.withdrawn': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 事件 confirmation.withdrawn / event confirmation.withdrawn
     * @description 订阅了 confirmation.withdrawn（或 *）的地址收到此事件（契约 §4 信封，个人信息已脱敏）。应在 15 秒内以 2xx 应答（宜先应答再处理），按 webhook-id 去重。A subscription to confirmation.withdrawn (or *) receives this event as the §4 envelope, personal data masked. Answer 2xx within 15 s (answer first, process after); 408, 429 and 5xx are retried with backoff for at least 24 h, other 4xx go straight to dead, 410 disables the subscription.
     */
    post: operations['webhook_confirmation_withdrawn']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  'confirmation.ruled': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 事件 confirmation.ruled / event confirmation.ruled
     * @description 订阅了 confirmation.ruled（或 *）的地址收到此事件（契约 §4 信封，个人信息已脱敏）。应在 15 秒内以 2xx 应答（宜先应答再处理），按 webhook-id 去重。A subscription to confirmation.ruled (or *) receives this event as the §4 envelope, personal data masked. Answer 2xx within 15 s (answer first, process after); 408, 429 and 5xx are retried with backoff for at least 24 h, other 4xx go straight to dead, 410 disables the subscription.
     */
    post: operations['webhook_confirmation_ruled']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  'confirmation.deadlines_changed': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 事件 confirmation.deadlines_changed / event confirmation.deadlines_changed
     * @description 订阅了 confirmation.deadlines_changed（或 *）的地址收到此事件（契约 §4 信封，个人信息已脱敏）。应在 15 秒内以 2xx 应答（宜先应答再处理），按 webhook-id 去重。A subscription to confirmation.deadlines_changed (or *) receives this event as the §4 envelope, personal data masked. Answer 2xx within 15 s (answer first, process after); 408, 429 and 5xx are retried with backoff for at least 24 h, other 4xx go straight to dead, 410 disables the subscription.
     */
    post: operations['webhook_confirmation_deadlines_changed']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  'confirmation.materials_requested': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 事件 confirmation.materials_requested / event confirmation.materials_requested
     * @description 订阅了 confirmation.materials_requested（或 *）的地址收到此事件（契约 §4 信封，个人信息已脱敏）。应在 15 秒内以 2xx 应答（宜先应答再处理），按 webhook-id 去重。A subscription to confirmation.materials_requested (or *) receives this event as the §4 envelope, personal data masked. Answer 2xx within 15 s (answer first, process after); 408, 429 and 5xx are retried with backoff for at least 24 h, other 4xx go straight to dead, 410 disables the subscription.
     */
    post: operations['webhook_confirmation_materials_requested']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  'confirmation.materials_supplemented': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 事件 confirmation.materials_supplemented / event confirmation.materials_supplemented
     * @description 订阅了 confirmation.materials_supplemented（或 *）的地址收到此事件（契约 §4 信封，个人信息已脱敏）。应在 15 秒内以 2xx 应答（宜先应答再处理），按 webhook-id 去重。A subscription to confirmation.materials_supplemented (or *) receives this event as the §4 envelope, personal data masked. Answer 2xx within 15 s (answer first, process after); 408, 429 and 5xx are retried with backoff for at least 24 h, other 4xx go straight to dead, 410 disables the subscription.
     */
    post: operations['webhook_confirmation_materials_supplemented']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  'confirmation.deemed_withdrawn': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 事件 confirmation.deemed_withdrawn / event confirmation.deemed_withdrawn
     * @description 订阅了 confirmation.deemed_withdrawn（或 *）的地址收到此事件（契约 §4 信封，个人信息已脱敏）。应在 15 秒内以 2xx 应答（宜先应答再处理），按 webhook-id 去重。A subscription to confirmation.deemed_withdrawn (or *) receives this event as the §4 envelope, personal data masked. Answer 2xx within 15 s (answer first, process after); 408, 429 and 5xx are retried with backoff for at least 24 h, other 4xx go straight to dead, 410 disables the subscription.
     */
    post: operations['webhook_confirmation_deemed_withdrawn']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  'confirmation.review_extended': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 事件 confirmation.review_extended / event confirmation.review_extended
     * @description 订阅了 confirmation.review_extended（或 *）的地址收到此事件（契约 §4 信封，个人信息已脱敏）。应在 15 秒内以 2xx 应答（宜先应答再处理），按 webhook-id 去重。A subscription to confirmation.review_extended (or *) receives this event as the §4 envelope, personal data masked. Answer 2xx within 15 s (answer first, process after); 408, 429 and 5xx are retried with backoff for at least 24 h, other 4xx go straight to dead, 410 disables the subscription.
     */
    post: operations['webhook_confirmation_review_extended']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  'confirmation.objection_filed': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 事件 confirmation.objection_filed / event confirmation.objection_filed
     * @description 订阅了 confirmation.objection_filed（或 *）的地址收到此事件（契约 §4 信封，个人信息已脱敏）。应在 15 秒内以 2xx 应答（宜先应答再处理），按 webhook-id 去重。A subscription to confirmation.objection_filed (or *) receives this event as the §4 envelope, personal data masked. Answer 2xx within 15 s (answer first, process after); 408, 429 and 5xx are retried with backoff for at least 24 h, other 4xx go straight to dead, 410 disables the subscription.
     */
    post: operations['webhook_confirmation_objection_filed']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  'confirmation.objection_ruled': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 事件 confirmation.objection_ruled / event confirmation.objection_ruled
     * @description 订阅了 confirmation.objection_ruled（或 *）的地址收到此事件（契约 §4 信封，个人信息已脱敏）。应在 15 秒内以 2xx 应答（宜先应答再处理），按 webhook-id 去重。A subscription to confirmation.objection_ruled (or *) receives this event as the §4 envelope, personal data masked. Answer 2xx within 15 s (answer first, process after); 408, 429 and 5xx are retried with backoff for at least 24 h, other 4xx go straight to dead, 410 disables the subscription.
     */
    post: operations['webhook_confirmation_objection_ruled']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  'warning.raised': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 事件 warning.raised / event warning.raised
     * @description 订阅了 warning.raised（或 *）的地址收到此事件（契约 §4 信封，个人信息已脱敏）。应在 15 秒内以 2xx 应答（宜先应答再处理），按 webhook-id 去重。A subscription to warning.raised (or *) receives this event as the §4 envelope, personal data masked. Answer 2xx within 15 s (answer first, process after); 408, 429 and 5xx are retried with backoff for at least 24 h, other 4xx go straight to dead, 410 disables the subscription.
     */
    post: operations['webhook_warning_raised']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  'warning.acknowledged': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 事件 warning.acknowledged / event warning.acknowledged
     * @description 订阅了 warning.acknowledged（或 *）的地址收到此事件（契约 §4 信封，个人信息已脱敏）。应在 15 秒内以 2xx 应答（宜先应答再处理），按 webhook-id 去重。A subscription to warning.acknowledged (or *) receives this event as the §4 envelope, personal data masked. Answer 2xx within 15 s (answer first, process after); 408, 429 and 5xx are retried with backoff for at least 24 h, other 4xx go straight to dead, 410 disables the subscription.
     */
    post: operations['webhook_warning_acknowledged']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  'warning.followed_up': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 事件 warning.followed_up / event warning.followed_up
     * @description 订阅了 warning.followed_up（或 *）的地址收到此事件（契约 §4 信封，个人信息已脱敏）。应在 15 秒内以 2xx 应答（宜先应答再处理），按 webhook-id 去重。A subscription to warning.followed_up (or *) receives this event as the §4 envelope, personal data masked. Answer 2xx within 15 s (answer first, process after); 408, 429 and 5xx are retried with backoff for at least 24 h, other 4xx go straight to dead, 410 disables the subscription.
     */
    post: operations['webhook_warning_followed_up']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  'warning.closed': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 事件 warning.closed / event warning.closed
     * @description 订阅了 warning.closed（或 *）的地址收到此事件（契约 §4 信封，个人信息已脱敏）。应在 15 秒内以 2xx 应答（宜先应答再处理），按 webhook-id 去重。A subscription to warning.closed (or *) receives this event as the §4 envelope, personal data masked. Answer 2xx within 15 s (answer first, process after); 408, 429 and 5xx are retried with backoff for at least 24 h, other 4xx go straight to dead, 410 disables the subscription.
     */
    post: operations['webhook_warning_closed']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  'warning.overdue': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 事件 warning.overdue / event warning.overdue
     * @description 订阅了 warning.overdue（或 *）的地址收到此事件（契约 §4 信封，个人信息已脱敏）。应在 15 秒内以 2xx 应答（宜先应答再处理），按 webhook-id 去重。A subscription to warning.overdue (or *) receives this event as the §4 envelope, personal data masked. Answer 2xx within 15 s (answer first, process after); 408, 429 and 5xx are retried with backoff for at least 24 h, other 4xx go straight to dead, 410 disables the subscription.
     */
    post: operations['webhook_warning_overdue']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
  'delivery.exhausted': {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    get?: never
    put?: never
    /**
     * 事件 delivery.exhausted / event delivery.exhausted
     * @description 订阅了 delivery.exhausted（或 *）的地址收到此事件（契约 §4 信封，个人信息已脱敏）。应在 15 秒内以 2xx 应答（宜先应答再处理），按 webhook-id 去重。A subscription to delivery.exhausted (or *) receives this event as the §4 envelope, personal data masked. Answer 2xx within 15 s (answer first, process after); 408, 429 and 5xx are retried with backoff for at least 24 h, other 4xx go straight to dead, 410 disables the subscription.
     */
    post: operations['webhook_delivery_exhausted']
    delete?: never
    options?: never
    head?: never
    patch?: never
    trace?: never
  }
}
export type components = {
  schemas: {
    Problem: {
      /** @description 问题类型：/docs/errors#<code>（错误码目录中的条目）/ problem type: the code’s entry in the catalogue, /docs/errors#<code> */
      type: string
      /** @description 错误码的标题（随 Accept-Language）/ the code’s title (follows Accept-Language) */
      title: string
      status: number
      /** @description 说明：中文，Accept-Language 优先 en 时为英文 / human-readable detail: Chinese, or English when Accept-Language prefers en */
      detail: string
      /**
       * @description 稳定的错误码 / stable snake_case error code
       * @example validation_failed
       */
      code: string
      /** @description 逐项字段错误 / one entry per offending path */
      errors?: {
        path: string
        code: string
        message: string
      }[]
      /** @description 409 illegal_transition: the case state */
      currentStatus?: string
    } & {
      [key: string]: unknown
    }
    Event: {
      /** @description 事件标识，亦为 webhook-id / event id, also the webhook-id */
      id: string
      /** @example referral.accepted */
      type: string
      /**
       * Format: date-time
       * @description RFC 3339 with offset
       */
      occurredAt: string
      /** @description 同一主体内连续无间隔 / gap-free per subject */
      sequence: number
      subject: {
        kind: string
        id: string
      }
      caseVersion: number | null
      actor:
        | {
            clientId: string
            role: string
          }
        | 'system'
      /** @description 对方所需字段，个人信息已脱敏 / what the other side needs; personal data masked */
      data: {
        [key: string]: unknown
      }
    }
    Subscription: {
      id: string
      clientId: string
      url: string
      eventTypes: string[]
      description: string | null
      allowPrivateNetwork: boolean
      signatureAlgorithm: string
      enabled: boolean
      disabledReason: string | null
      disabledAt: string | null
      previousSecretExpiresAt: string | null
      /**
       * Format: date-time
       * @description RFC 3339 with offset
       */
      createdAt: string
      /**
       * Format: date-time
       * @description RFC 3339 with offset
       */
      updatedAt: string
    }
    Delivery: {
      id: string
      subscriptionId: string
      /** @description 即 webhook-id / the webhook-id */
      eventId: string
      eventType: string
      subject: {
        kind: string
        id: string
      }
      sequence: number
      /** @description pending | delivered | dead */
      status: string
      attempts: number
      nextAttemptAt: string | null
      firstAttemptAt: string | null
      lastAttemptAt: string | null
      lastStatus: number | null
      lastError: string | null
      /**
       * Format: date-time
       * @description RFC 3339 with offset
       */
      createdAt: string
      deliveredAt: string | null
      deadAt: string | null
      attemptLog: {
        /**
         * Format: date-time
         * @description RFC 3339 with offset
         */
        at: string
        httpStatus: number | null
        latencyMs: number
        response: string | null
        error: string | null
        /** @description delivered | retry | dead | gone */
        outcome: string
      }[]
    }
  }
  responses: never
  parameters: never
  requestBodies: never
  headers: never
  pathItems: never
}
export type $defs = Record<string, never>
export interface operations {
  getMetrics: {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    requestBody?: never
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example # HELP process_cpu_user_seconds_total Total user CPU time spent in seconds.
           *     # TYPE process_cpu_user_seconds_total counter
           *     process_cpu_user_seconds_total 3.258036
           *
           *     # HELP process_cpu_system_seconds_total Total system CPU time spent in seconds.
           *     # TYPE process_cpu_system_seconds_total counter
           *     process_cpu_system_seconds_total 0.058331
           *
           *     # HELP process_cpu_seconds_total Total user and system CPU time sp
           */
          'text/plain': string
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  getHealthLive: {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    requestBody?: never
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "status": "ok"
           *     }
           */
          'application/json': {
            /** @enum {string} */
            status?: 'ok'
          }
        }
      }
    }
  }
  getHealthReady: {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    requestBody?: never
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "status": "ready",
           *       "checks": {
           *         "postgres": {
           *           "status": "up",
           *           "latencyMs": 1.5
           *         },
           *         "redis": {
           *           "status": "up",
           *           "latencyMs": 1.1
           *         }
           *       },
           *       "calendar": {
           *         "publishedYears": [
           *           2024,
           *           2025,
           *           2026
           *         ],
           *         "provisionalFrom": 2027
           *       }
           *     }
           */
          'application/json': {
            status?: string
            checks?: {
              [key: string]: {
                /** @enum {string} */
                status?: 'up' | 'down'
                latencyMs?: number
                error?: string
              }
            }
            calendar?: {
              [key: string]: unknown
            }
          }
        }
      }
      /** @description Default Response */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/json': {
            status?: string
            checks?: {
              [key: string]: {
                /** @enum {string} */
                status?: 'up' | 'down'
                latencyMs?: number
                error?: string
              }
            }
            calendar?: {
              [key: string]: unknown
            }
          }
        }
      }
    }
  }
  getV1Clients: {
    parameters: {
      query?: {
        role?: 'court' | 'mediation' | 'operator'
        /** @description 每页条数 1–200 / page size */
        limit?: number
        /** @description 不透明游标 / opaque cursor from nextCursor */
        cursor?: string
      }
      header?: never
      path?: never
      cookie?: never
    }
    requestBody?: never
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "items": [
           *         {
           *           "id": "00000000-0000-7000-8000-000000000001",
           *           "name": "bootstrap operator (OPERATOR_API_KEY)",
           *           "role": "operator",
           *           "courtCodes": [],
           *           "organizationIds": [],
           *           "regionCodes": [],
           *           "createdAt": "2026-12-06T04:34:46.893Z",
           *           "keys": []
           *         },
           *         {
           *           "id": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d",
           *           "name": "北京市朝阳区人民法院",
           *           "role": "court",
           *           "courtCodes": [
           *             "京0105"
           *           ],
           *           "organizationIds": [],
           *           "regionCodes": [],
           *           "createdAt": "2026-12-06T04:34:49.336Z",
           *           "keys": [
           *             {
           *               "keyId": "fur5cxn5zj",
           *               "createdAt": "2026-12-06T04:34:49.336Z",
           *               "lastUsedAt": null,
           *               "revokedAt": null
           *             }
           *           ]
           *         },
           *         {
           *           "id": "01a249a2-1788-7338-836c-f1a07c0b9973",
           *           "name": "北京平台",
           *           "role": "mediation",
           *           "courtCodes": [],
           *           "organizationIds": [],
           *           "regionCodes": [
           *             "11"
           *           ],
           *           "createdAt": "2026-12-06T04:34:49.351Z",
           *           "keys": [
           *             {
           *               "keyId": "r2f4kyap24",
           *               "createdAt": "2026-12-06T04:34:49.351Z",
           *               "lastUsedAt": null,
           *               "revokedAt": null
           *             }
           *           ]
           *         }
           *       ],
           *       "nextCursor": null
           *     }
           */
          'application/json': {
            items: {
              id: string
              name: string
              role: string
              courtCodes: string[]
              organizationIds: string[]
              regionCodes: string[]
              /**
               * Format: date-time
               * @description RFC 3339 with offset
               */
              createdAt: string
              keys: {
                keyId: string
                /**
                 * Format: date-time
                 * @description RFC 3339 with offset
                 */
                createdAt: string
                lastUsedAt: string | null
                revokedAt: string | null
              }[]
            }[]
            nextCursor: string | null
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_cursor` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  postV1Clients: {
    parameters: {
      query?: never
      header: {
        /** @description 幂等键（1–255 个可见 ASCII 字符），同一调用方内唯一；保存至少 24 小时。重放返回所存状态与应答体，其中个人信息按调用方重放时的权限显示（完整显示时记入访问记录）。Idempotency key, scoped to the calling client. A replay answers the stored status and body, with personal data as the caller may see it at the replay (recorded in the access log when shown in full). */
        'idempotency-key': string
      }
      path?: never
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "name": "北京市朝阳区人民法院",
         *       "role": "court",
         *       "courtCodes": [
         *         "京0105"
         *       ]
         *     }
         */
        'application/json': {
          name: string
          /** @enum {string} */
          role: 'court' | 'mediation' | 'operator'
          courtCodes?: string[]
          organizationIds?: string[]
          regionCodes?: string[]
        }
      }
    }
    responses: {
      /** @description Default Response */
      201: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "id": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d",
           *       "name": "北京市朝阳区人民法院",
           *       "role": "court",
           *       "courtCodes": [
           *         "京0105"
           *       ],
           *       "organizationIds": [],
           *       "regionCodes": [],
           *       "createdAt": "2026-12-06T04:34:49.336Z",
           *       "keyId": "fur5cxn5zj",
           *       "apiKey": "zdz_example_key_shown_once_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
           *     }
           */
          'application/json': {
            id: string
            name: string
            role: string
            courtCodes: string[]
            organizationIds: string[]
            regionCodes: string[]
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            createdAt: string
            keyId: string
            /** @description 仅在创建时返回一次；重放时为 null / shown once; null on replay */
            apiKey: string | null
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_json`, `idempotency_key_required` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 冲突 / conflict: `idempotency_key_in_use` */
      409: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求体过大 / body too large: `payload_too_large` */
      413: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不支持的内容类型 / unsupported media type: `unsupported_media_type` */
      415: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 违反业务规则 / business rule violated: `idempotency_key_reused` */
      422: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  getV1ClientsId: {
    parameters: {
      query?: never
      header?: never
      path: {
        /** @description 资源标识 / resource id */
        id: string
      }
      cookie?: never
    }
    requestBody?: never
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "id": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d",
           *       "name": "北京市朝阳区人民法院",
           *       "role": "court",
           *       "courtCodes": [
           *         "京0105"
           *       ],
           *       "organizationIds": [],
           *       "regionCodes": [],
           *       "createdAt": "2026-12-06T04:34:49.336Z",
           *       "keys": [
           *         {
           *           "keyId": "fur5cxn5zj",
           *           "createdAt": "2026-12-06T04:34:49.336Z",
           *           "lastUsedAt": null,
           *           "revokedAt": null
           *         }
           *       ]
           *     }
           */
          'application/json': {
            id: string
            name: string
            role: string
            courtCodes: string[]
            organizationIds: string[]
            regionCodes: string[]
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            createdAt: string
            keys: {
              keyId: string
              /**
               * Format: date-time
               * @description RFC 3339 with offset
               */
              createdAt: string
              lastUsedAt: string | null
              revokedAt: string | null
            }[]
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  postV1ClientsIdKeys: {
    parameters: {
      query?: never
      header: {
        /** @description 幂等键（1–255 个可见 ASCII 字符），同一调用方内唯一；保存至少 24 小时。重放返回所存状态与应答体，其中个人信息按调用方重放时的权限显示（完整显示时记入访问记录）。Idempotency key, scoped to the calling client. A replay answers the stored status and body, with personal data as the caller may see it at the replay (recorded in the access log when shown in full). */
        'idempotency-key': string
      }
      path: {
        /** @description 资源标识 / resource id */
        id: string
      }
      cookie?: never
    }
    requestBody?: never
    responses: {
      /** @description Default Response */
      201: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "keyId": "34cfiyzhsd",
           *       "apiKey": "zdz_example_key_shown_once_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
           *     }
           */
          'application/json': {
            keyId: string
            apiKey: string | null
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `idempotency_key_required` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 冲突 / conflict: `idempotency_key_in_use` */
      409: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 违反业务规则 / business rule violated: `idempotency_key_reused` */
      422: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  deleteV1ClientsIdKeysKeyId: {
    parameters: {
      query?: never
      header?: never
      path: {
        id: string
        keyId: string
      }
      cookie?: never
    }
    requestBody?: never
    responses: {
      /** @description 已吊销 / revoked */
      204: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 请求无效 / invalid request: `validation_failed` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  getV1OrganizationsId: {
    parameters: {
      query?: never
      header?: never
      path: {
        /** @description 平台自有的组织标识 / the platform’s own id */
        id: string
      }
      cookie?: never
    }
    requestBody?: never
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "id": "bj-cy-blz",
           *       "name": "朝阳区八里庄街道人民调解委员会",
           *       "kind": "township_committee",
           *       "regionCode": "110105",
           *       "uscc": null,
           *       "disputeTypes": [
           *         "neighbor",
           *         "marriage_family"
           *       ],
           *       "fullTimeMediators": 2,
           *       "staffingCompliant": true,
           *       "rosters": {
           *         "ministry": true,
           *         "courtSpecial": [
           *           "京0105"
           *         ]
           *       },
           *       "active": true,
           *       "version": 3,
           *       "createdAt": "2026-12-06T04:34:49.416Z",
           *       "updatedAt": "2026-12-06T04:34:49.449Z"
           *     }
           */
          'application/json': {
            id: string
            name: string
            kind: string
            regionCode: string
            uscc: string | null
            disputeTypes: string[]
            fullTimeMediators: number
            /** @description 派生：行业性 ≥ 3、乡镇 ≥ 2 名专职调解员 / derived staffing rule */
            staffingCompliant: boolean
            rosters: {
              ministry: boolean
              courtSpecial: string[]
            }
            active: boolean
            version: number
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            createdAt: string
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            updatedAt: string
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  putV1OrganizationsId: {
    parameters: {
      query?: never
      header?: never
      path: {
        /** @description 平台自有的组织标识 / the platform’s own id */
        id: string
      }
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "name": "朝阳区八里庄街道人民调解委员会",
         *       "kind": "township_committee",
         *       "regionCode": "110105",
         *       "disputeTypes": [
         *         "neighbor",
         *         "marriage_family"
         *       ],
         *       "fullTimeMediators": 2,
         *       "rosters": {
         *         "ministry": true
         *       },
         *       "active": true
         *     }
         */
        'application/json': {
          name: string
          /** @enum {string} */
          kind: 'village_committee' | 'township_committee' | 'industry_committee' | 'enterprise_committee' | 'stationed_room' | 'centre' | 'other'
          /** @description 6 位行政区划代码 / 6-digit region code */
          regionCode: string
          /** @description 统一社会信用代码 / USCC */
          uscc?: string
          disputeTypes: (
            | 'marriage_family'
            | 'neighbor'
            | 'housing_homestead'
            | 'contract'
            | 'production_business'
            | 'damage_compensation'
            | 'land_forest'
            | 'land_acquisition'
            | 'environment'
            | 'labor'
            | 'consumer'
            | 'medical'
            | 'traffic'
            | 'property_management'
            | 'tourism'
            | 'finance'
            | 'insurance'
            | 'intellectual_property'
            | 'new_employment'
            | 'other'
          )[]
          fullTimeMediators: number
          rosters: {
            /** @description 司法部人民调解组织名册 / on the ministry roster */
            ministry: boolean
            /** @description 特邀调解名册所属法院代字，由法院通过 PUT /v1/courts/{courtCode}/special-roster/{organizationId} 登记；调解平台可省略或原样重复，变更 → 403 roster_managed_by_court；运维可设置。Courts whose special roster lists it, granted by the court; a mediation client omits it or repeats it unchanged (any change → 403 roster_managed_by_court); operators may set it. */
            courtSpecial?: string[]
          }
          active: boolean
        }
      }
    }
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "id": "bj-cy-blz",
           *       "name": "朝阳区八里庄街道人民调解委员会",
           *       "kind": "township_committee",
           *       "regionCode": "110105",
           *       "uscc": null,
           *       "disputeTypes": [
           *         "neighbor",
           *         "marriage_family"
           *       ],
           *       "fullTimeMediators": 2,
           *       "staffingCompliant": true,
           *       "rosters": {
           *         "ministry": true,
           *         "courtSpecial": []
           *       },
           *       "active": true,
           *       "version": 2,
           *       "createdAt": "2026-12-06T04:34:49.416Z",
           *       "updatedAt": "2026-12-06T04:34:49.432Z"
           *     }
           */
          'application/json': {
            id: string
            name: string
            kind: string
            regionCode: string
            uscc: string | null
            disputeTypes: string[]
            fullTimeMediators: number
            /** @description 派生：行业性 ≥ 3、乡镇 ≥ 2 名专职调解员 / derived staffing rule */
            staffingCompliant: boolean
            rosters: {
              ministry: boolean
              courtSpecial: string[]
            }
            active: boolean
            version: number
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            createdAt: string
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            updatedAt: string
          }
        }
      }
      /** @description Default Response */
      201: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "id": "bj-cy-blz",
           *       "name": "朝阳区八里庄街道人民调解委员会",
           *       "kind": "township_committee",
           *       "regionCode": "110105",
           *       "uscc": null,
           *       "disputeTypes": [
           *         "neighbor",
           *         "marriage_family"
           *       ],
           *       "fullTimeMediators": 2,
           *       "staffingCompliant": true,
           *       "rosters": {
           *         "ministry": true,
           *         "courtSpecial": []
           *       },
           *       "active": true,
           *       "version": 1,
           *       "createdAt": "2026-12-06T04:34:49.416Z",
           *       "updatedAt": "2026-12-06T04:34:49.416Z"
           *     }
           */
          'application/json': {
            id: string
            name: string
            kind: string
            regionCode: string
            uscc: string | null
            disputeTypes: string[]
            fullTimeMediators: number
            /** @description 派生：行业性 ≥ 3、乡镇 ≥ 2 名专职调解员 / derived staffing rule */
            staffingCompliant: boolean
            rosters: {
              ministry: boolean
              courtSpecial: string[]
            }
            active: boolean
            version: number
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            createdAt: string
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            updatedAt: string
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_json` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden`, `out_of_scope`, `roster_managed_by_court` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求体过大 / body too large: `payload_too_large` */
      413: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不支持的内容类型 / unsupported media type: `unsupported_media_type` */
      415: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  getV1Organizations: {
    parameters: {
      query?: {
        regionCode?: string
        disputeType?:
          | 'marriage_family'
          | 'neighbor'
          | 'housing_homestead'
          | 'contract'
          | 'production_business'
          | 'damage_compensation'
          | 'land_forest'
          | 'land_acquisition'
          | 'environment'
          | 'labor'
          | 'consumer'
          | 'medical'
          | 'traffic'
          | 'property_management'
          | 'tourism'
          | 'finance'
          | 'insurance'
          | 'intellectual_property'
          | 'new_employment'
          | 'other'
        /** @description 可由该法院指定（本院或高院特邀名册）/ designatable by this court */
        courtCode?: string
        roster?: 'ministry' | 'court_special'
        /** @description 每页条数 1–200 / page size */
        limit?: number
        /** @description 不透明游标 / opaque cursor from nextCursor */
        cursor?: string
      }
      header?: never
      path?: never
      cookie?: never
    }
    requestBody?: never
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "items": [
           *         {
           *           "id": "bj-cy-blz",
           *           "name": "朝阳区八里庄街道人民调解委员会",
           *           "kind": "township_committee",
           *           "regionCode": "110105",
           *           "uscc": null,
           *           "disputeTypes": [
           *             "neighbor",
           *             "marriage_family"
           *           ],
           *           "fullTimeMediators": 2,
           *           "staffingCompliant": true,
           *           "rosters": {
           *             "ministry": true,
           *             "courtSpecial": [
           *               "京0105"
           *             ]
           *           },
           *           "active": true,
           *           "version": 3,
           *           "createdAt": "2026-12-06T04:34:49.416Z",
           *           "updatedAt": "2026-12-06T04:34:49.449Z"
           *         },
           *         {
           *           "id": "bj-cy-centre",
           *           "name": "朝阳区非诉讼纠纷化解中心",
           *           "kind": "centre",
           *           "regionCode": "110105",
           *           "uscc": null,
           *           "disputeTypes": [
           *             "neighbor",
           *             "marriage_family"
           *           ],
           *           "fullTimeMediators": 5,
           *           "staffingCompliant": true,
           *           "rosters": {
           *             "ministry": true,
           *             "courtSpecial": [
           *               "京0105"
           *             ]
           *           },
           *           "active": true,
           *           "version": 2,
           *           "createdAt": "2026-12-06T04:34:49.456Z",
           *           "updatedAt": "2026-12-06T04:34:49.462Z"
           *         }
           *       ],
           *       "nextCursor": null
           *     }
           */
          'application/json': {
            items: {
              id: string
              name: string
              kind: string
              regionCode: string
              uscc: string | null
              disputeTypes: string[]
              fullTimeMediators: number
              /** @description 派生：行业性 ≥ 3、乡镇 ≥ 2 名专职调解员 / derived staffing rule */
              staffingCompliant: boolean
              rosters: {
                ministry: boolean
                courtSpecial: string[]
              }
              active: boolean
              version: number
              /**
               * Format: date-time
               * @description RFC 3339 with offset
               */
              createdAt: string
              /**
               * Format: date-time
               * @description RFC 3339 with offset
               */
              updatedAt: string
            }[]
            nextCursor: string | null
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_cursor` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  putV1CourtsCourtCodeSpecialRosterOrganizationId: {
    parameters: {
      query?: never
      header?: never
      path: {
        /** @description 法院代字（URL 编码）/ the court’s code, URL-encoded, e.g. %E4%BA%AC0105 for 京0105 */
        courtCode: string
        /** @description 调解组织标识 / the organization’s id */
        organizationId: string
      }
      cookie?: never
    }
    requestBody?: never
    responses: {
      /** @description 已列入（或已在名册中）/ on the roster */
      204: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 请求无效 / invalid request: `validation_failed` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  deleteV1CourtsCourtCodeSpecialRosterOrganizationId: {
    parameters: {
      query?: never
      header?: never
      path: {
        /** @description 法院代字（URL 编码）/ the court’s code, URL-encoded, e.g. %E4%BA%AC0105 for 京0105 */
        courtCode: string
        /** @description 调解组织标识 / the organization’s id */
        organizationId: string
      }
      cookie?: never
    }
    requestBody?: never
    responses: {
      /** @description 已移出（或本不在名册中）/ off the roster */
      204: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 请求无效 / invalid request: `validation_failed` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  getV1Referrals: {
    parameters: {
      query?: {
        status?: string
        courtCode?: string
        organizationId?: string
        disputeType?:
          | 'marriage_family'
          | 'neighbor'
          | 'housing_homestead'
          | 'contract'
          | 'production_business'
          | 'damage_compensation'
          | 'land_forest'
          | 'land_acquisition'
          | 'environment'
          | 'labor'
          | 'consumer'
          | 'medical'
          | 'traffic'
          | 'property_management'
          | 'tourism'
          | 'finance'
          | 'insurance'
          | 'intellectual_property'
          | 'new_employment'
          | 'other'
        /** @description RFC 3339 with offset */
        updatedSince?: string
        partyIdNumber?: string
        /** @description 案号，精确匹配 / exact 案号 */
        caseNumber?: string
        /** @description 每页条数 1–200 / page size */
        limit?: number
        /** @description 不透明游标 / opaque cursor from nextCursor */
        cursor?: string
      }
      header?: never
      path?: never
      cookie?: never
    }
    requestBody?: never
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "items": [
           *         {
           *           "id": "01a249a2-1873-7c68-b027-9877cc03bf12",
           *           "version": 1,
           *           "status": "referred",
           *           "referralType": "pre_filing",
           *           "courtCode": "京0105",
           *           "caseNumber": "（2026）京0105民诉前调33934号",
           *           "disputeType": "neighbor",
           *           "claimSummary": "请求被申请人停止漏水侵害并赔偿损失",
           *           "parties": [
           *             {
           *               "role": "applicant",
           *               "kind": "natural_person",
           *               "name": "张三",
           *               "idType": "resident_id",
           *               "idNumber": "11010519491231002X",
           *               "phone": "13800138000"
           *             },
           *             {
           *               "role": "respondent",
           *               "kind": "natural_person",
           *               "name": "李四",
           *               "idType": "resident_id",
           *               "idNumber": "440524196001010014"
           *             }
           *           ],
           *           "consent": [
           *             {
           *               "method": "written",
           *               "partyIndex": 0,
           *               "consentedAt": "2026-12-03T09:00:00+08:00"
           *             },
           *             {
           *               "method": "online",
           *               "partyIndex": 1,
           *               "consentedAt": "2026-12-03T09:30:00+08:00"
           *             }
           *           ],
           *           "designation": {
           *             "mode": "court_designated",
           *             "organizationId": "bj-cy-blz"
           *           },
           *           "materials": [],
           *           "organizationId": "bj-cy-blz",
           *           "deadlines": {
           *             "acceptanceDueOn": "2026-12-09",
           *             "mediationDueOn": null,
           *             "provisional": false
           *           },
           *           "mediator": null,
           *           "acceptedAt": null,
           *           "decline": null,
           *           "recall": null,
           *           "suspension": null,
           *           "extensions": [],
           *           "agreement": null,
           *           "termination": null,
           *           "materialReturn": null,
           *           "courtFiling": null,
           *           "closure": null,
           *           "performance": null,
           *           "createdAt": "2026-12-06T04:34:49.586Z",
           *           "updatedAt": "2026-12-06T04:34:49.586Z",
           *           "causeOfAction": "相邻关系纠纷",
           *           "claimAmount": "12000.00"
           *         }
           *       ],
           *       "nextCursor": null
           *     }
           */
          'application/json': {
            items: {
              /** @description UUIDv7 */
              id: string
              version: number
              status: string
              referralType: string
              procedure?: string
              courtCode: string
              caseNumber: string
              disputeType: string
              causeOfAction?: string
              claimSummary: string
              claimAmount?: string
              parties: {
                role: string
                kind: string
                name: string
                idType: string
                /** @description 非经办方脱敏：前 3 后 4 / masked for all but the referring court and handling organization */
                idNumber: string
                phone?: string
                address?: string
                agents?: {
                  [key: string]: unknown
                }[]
              }[]
              consent: {
                [key: string]: unknown
              }[]
              designation: {
                [key: string]: unknown
              }
              materials: {
                [key: string]: unknown
              }[]
              organizationId: string
              deadlines: {
                acceptanceDueOn: string | null
                mediationDueOn: string | null
                provisional: boolean
              }
              mediator: {
                [key: string]: unknown
              } | null
              acceptedAt: string | null
              decline: {
                [key: string]: unknown
              } | null
              recall: {
                [key: string]: unknown
              } | null
              suspension: {
                [key: string]: unknown
              } | null
              extensions: {
                [key: string]: unknown
              }[]
              agreement: {
                [key: string]: unknown
              } | null
              termination: {
                [key: string]: unknown
              } | null
              materialReturn: {
                [key: string]: unknown
              } | null
              courtFiling: {
                [key: string]: unknown
              } | null
              closure: {
                [key: string]: unknown
              } | null
              performance: {
                [key: string]: unknown
              } | null
              /**
               * Format: date-time
               * @description RFC 3339 with offset
               */
              createdAt: string
              /**
               * Format: date-time
               * @description RFC 3339 with offset
               */
              updatedAt: string
            }[]
            nextCursor: string | null
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_cursor` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  postV1Referrals: {
    parameters: {
      query?: never
      header: {
        /** @description 幂等键（1–255 个可见 ASCII 字符），同一调用方内唯一；保存至少 24 小时。重放返回所存状态与应答体，其中个人信息按调用方重放时的权限显示（完整显示时记入访问记录）。Idempotency key, scoped to the calling client. A replay answers the stored status and body, with personal data as the caller may see it at the replay (recorded in the access log when shown in full). */
        'idempotency-key': string
      }
      path?: never
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "referralType": "pre_filing",
         *       "courtCode": "京0105",
         *       "caseNumber": "（2026）京0105民诉前调1024号",
         *       "disputeType": "neighbor",
         *       "causeOfAction": "相邻关系纠纷",
         *       "claimSummary": "请求被申请人停止漏水侵害并赔偿损失",
         *       "claimAmount": "12000.00",
         *       "parties": [
         *         {
         *           "role": "applicant",
         *           "kind": "natural_person",
         *           "name": "张三",
         *           "idType": "resident_id",
         *           "idNumber": "11010519491231002X",
         *           "phone": "13800138000"
         *         },
         *         {
         *           "role": "respondent",
         *           "kind": "natural_person",
         *           "name": "李四",
         *           "idType": "resident_id",
         *           "idNumber": "440524196001010014"
         *         }
         *       ],
         *       "consent": [
         *         {
         *           "partyIndex": 0,
         *           "consentedAt": "2026-11-28T09:00:00+08:00",
         *           "method": "written"
         *         },
         *         {
         *           "partyIndex": 1,
         *           "consentedAt": "2026-11-28T09:30:00+08:00",
         *           "method": "online"
         *         }
         *       ],
         *       "designation": {
         *         "mode": "court_designated",
         *         "organizationId": "bj-cy-blz"
         *       },
         *       "materials": []
         *     }
         */
        'application/json': {
          /**
           * @description pre_filing 诉前委派 / in_litigation 诉中委托
           * @enum {string}
           */
          referralType: 'pre_filing' | 'in_litigation'
          /**
           * @description 仅诉中委托：普通/简易程序 / in_litigation only
           * @enum {string}
           */
          procedure?: 'ordinary' | 'summary'
          /** @description 法院代字，须为调用方所属 / one of the caller’s court codes */
          courtCode: string
          /** @description 案号；诉前委派为 民诉前调，诉中委托为 民初；半角括号将存为全角 */
          caseNumber: string
          /** @enum {string} */
          disputeType:
            | 'marriage_family'
            | 'neighbor'
            | 'housing_homestead'
            | 'contract'
            | 'production_business'
            | 'damage_compensation'
            | 'land_forest'
            | 'land_acquisition'
            | 'environment'
            | 'labor'
            | 'consumer'
            | 'medical'
            | 'traffic'
            | 'property_management'
            | 'tourism'
            | 'finance'
            | 'insurance'
            | 'intellectual_property'
            | 'new_employment'
            | 'other'
          /** @description 案由 / cause of action */
          causeOfAction?: string
          /** @description 诉求摘要 1–4000 字 / claim summary */
          claimSummary: string
          /** @description 金额（元），十进制字符串，至多两位小数 / CNY decimal string */
          claimAmount?: string
          parties: {
            /** @enum {string} */
            role: 'applicant' | 'respondent' | 'third_party'
            /** @enum {string} */
            kind: 'natural_person' | 'legal_person' | 'other_org'
            /** @description 姓名或名称（按 Unicode 码点计长，须含可见字符）/ name, code points, at least one visible */
            name: string
            /** @enum {string} */
            idType: 'resident_id' | 'uscc' | 'passport' | 'hk_macao_permit' | 'taiwan_permit' | 'foreign_permanent_id'
            /** @description 证件号码；居民身份证与统一社会信用代码校验校验位 / checksum-validated for resident_id and uscc */
            idNumber: string
            /** @description 电话：可选 +，以数字开头，其后 5–19 个数字、空格或连字符 / phone: optional +, a digit, then 5–19 digits, spaces or hyphens */
            phone?: string
            address?: string
            /** @description 代理人至多 2 人（民诉法 61）/ at most 2 agents */
            agents?: {
              /** @description 姓名或名称（按 Unicode 码点计长，须含可见字符）/ name, code points, at least one visible */
              name: string
              /** @enum {string} */
              kind?: 'lawyer' | 'legal_worker' | 'relative' | 'employee' | 'other'
              /** @enum {string} */
              idType?: 'resident_id' | 'uscc' | 'passport' | 'hk_macao_permit' | 'taiwan_permit' | 'foreign_permanent_id'
              /** @description 须同时给出 idType，按其校验 / requires idType, checked by it */
              idNumber?: string
              /** @description 电话：可选 +，以数字开头，其后 5–19 个数字、空格或连字符 / phone: optional +, a digit, then 5–19 digits, spaces or hyphens */
              phone?: string
              /** @description 执业证号 / licence number */
              licenseNumber?: string
            }[]
          }[]
          /** @description 每位当事人一条同意记录（意见 三(二)）/ one per party */
          consent: {
            partyIndex: number
            /**
             * Format: date-time
             * @description RFC 3339，含时区；不早于 1900 年，不晚于当前时间（容许 5 分钟时钟偏差）/ RFC 3339 with offset, 1900 … now + 5 min
             */
            consentedAt: string
            /** @enum {string} */
            method: 'written' | 'oral' | 'online'
          }[]
          designation: {
            /** @enum {string} */
            mode: 'party_selected' | 'court_designated'
            organizationId: string
          }
          materials?: {
            materialId: string
          }[]
        }
      }
    }
    responses: {
      /** @description Default Response */
      201: {
        headers: {
          /** @description 签名回执：JWS 紧凑序列化，载荷 { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }，eventHash 为该事件在案件哈希链中的哈希；用 GET /v1/service-keys 公布的密钥（按 kid）验证；幂等重放返回同一回执。Signed receipt: a JWS (compact serialization) whose payload is { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }, eventHash being the event’s hash in the case’s chain; verify it with the key of its `kid` from GET /v1/service-keys (alg EdDSA: Ed25519; alg SM2SM3: SM2 over SM3 with user id 1234567812345678, signature r‖s of 32 bytes each). A replay carries the same receipt. See docs/receipts.md. */
          Receipt?: string
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "id": "01a249a2-1873-7c68-b027-9877cc03bf12",
           *       "version": 1,
           *       "status": "referred",
           *       "referralType": "pre_filing",
           *       "courtCode": "京0105",
           *       "caseNumber": "（2026）京0105民诉前调33934号",
           *       "disputeType": "neighbor",
           *       "causeOfAction": "相邻关系纠纷",
           *       "claimSummary": "请求被申请人停止漏水侵害并赔偿损失",
           *       "claimAmount": "12000.00",
           *       "parties": [
           *         {
           *           "role": "applicant",
           *           "kind": "natural_person",
           *           "name": "张三",
           *           "idType": "resident_id",
           *           "idNumber": "11010519491231002X",
           *           "phone": "13800138000"
           *         },
           *         {
           *           "role": "respondent",
           *           "kind": "natural_person",
           *           "name": "李四",
           *           "idType": "resident_id",
           *           "idNumber": "440524196001010014"
           *         }
           *       ],
           *       "consent": [
           *         {
           *           "partyIndex": 0,
           *           "consentedAt": "2026-12-03T09:00:00+08:00",
           *           "method": "written"
           *         },
           *         {
           *           "partyIndex": 1,
           *           "consentedAt": "2026-12-03T09:30:00+08:00",
           *           "method": "online"
           *         }
           *       ],
           *       "designation": {
           *         "mode": "court_designated",
           *         "organizationId": "bj-cy-blz"
           *       },
           *       "materials": [],
           *       "organizationId": "bj-cy-blz",
           *       "deadlines": {
           *         "acceptanceDueOn": "2026-12-09",
           *         "mediationDueOn": null,
           *         "provisional": false
           *       },
           *       "mediator": null,
           *       "acceptedAt": null,
           *       "decline": null,
           *       "recall": null,
           *       "suspension": null,
           *       "extensions": [],
           *       "agreement": null,
           *       "termination": null,
           *       "materialReturn": null,
           *       "courtFiling": null,
           *       "closure": null,
           *       "performance": null,
           *       "createdAt": "2026-12-06T04:34:49.586Z",
           *       "updatedAt": "2026-12-06T04:34:49.586Z"
           *     }
           */
          'application/json': {
            /** @description UUIDv7 */
            id: string
            version: number
            status: string
            referralType: string
            procedure?: string
            courtCode: string
            caseNumber: string
            disputeType: string
            causeOfAction?: string
            claimSummary: string
            claimAmount?: string
            parties: {
              role: string
              kind: string
              name: string
              idType: string
              /** @description 非经办方脱敏：前 3 后 4 / masked for all but the referring court and handling organization */
              idNumber: string
              phone?: string
              address?: string
              agents?: {
                [key: string]: unknown
              }[]
            }[]
            consent: {
              [key: string]: unknown
            }[]
            designation: {
              [key: string]: unknown
            }
            materials: {
              [key: string]: unknown
            }[]
            organizationId: string
            deadlines: {
              acceptanceDueOn: string | null
              mediationDueOn: string | null
              provisional: boolean
            }
            mediator: {
              [key: string]: unknown
            } | null
            acceptedAt: string | null
            decline: {
              [key: string]: unknown
            } | null
            recall: {
              [key: string]: unknown
            } | null
            suspension: {
              [key: string]: unknown
            } | null
            extensions: {
              [key: string]: unknown
            }[]
            agreement: {
              [key: string]: unknown
            } | null
            termination: {
              [key: string]: unknown
            } | null
            materialReturn: {
              [key: string]: unknown
            } | null
            courtFiling: {
              [key: string]: unknown
            } | null
            closure: {
              [key: string]: unknown
            } | null
            performance: {
              [key: string]: unknown
            } | null
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            createdAt: string
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            updatedAt: string
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_json`, `idempotency_key_required` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 冲突 / conflict: `idempotency_key_in_use`, `duplicate_referral` */
      409: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求体过大 / body too large: `payload_too_large` */
      413: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不支持的内容类型 / unsupported media type: `unsupported_media_type` */
      415: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 违反业务规则 / business rule violated: `idempotency_key_reused`, `consent_required`, `court_code_not_allowed`, `not_on_roster`, `organization_inactive`, `timestamp_in_future`, `unknown_material` */
      422: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  postV1ReferralsBatch: {
    parameters: {
      query?: never
      header: {
        /** @description 幂等键（1–255 个可见 ASCII 字符），同一调用方内唯一；保存至少 24 小时。重放返回所存状态与应答体，其中个人信息按调用方重放时的权限显示（完整显示时记入访问记录）。Idempotency key, scoped to the calling client. A replay answers the stored status and body, with personal data as the caller may see it at the replay (recorded in the access log when shown in full). */
        'idempotency-key': string
      }
      path?: never
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "items": [
         *         {
         *           "idempotencyKey": "jc0105-2026-1024",
         *           "referral": {
         *             "referralType": "pre_filing",
         *             "courtCode": "京0105",
         *             "caseNumber": "（2026）京0105民诉前调1024号",
         *             "disputeType": "neighbor",
         *             "causeOfAction": "相邻关系纠纷",
         *             "claimSummary": "请求被申请人停止漏水侵害并赔偿损失",
         *             "claimAmount": "12000.00",
         *             "parties": [
         *               {
         *                 "role": "applicant",
         *                 "kind": "natural_person",
         *                 "name": "张三",
         *                 "idType": "resident_id",
         *                 "idNumber": "11010519491231002X",
         *                 "phone": "13800138000"
         *               },
         *               {
         *                 "role": "respondent",
         *                 "kind": "natural_person",
         *                 "name": "李四",
         *                 "idType": "resident_id",
         *                 "idNumber": "440524196001010014"
         *               }
         *             ],
         *             "consent": [
         *               {
         *                 "partyIndex": 0,
         *                 "consentedAt": "2026-11-27T09:00:00+08:00",
         *                 "method": "written"
         *               },
         *               {
         *                 "partyIndex": 1,
         *                 "consentedAt": "2026-11-27T09:30:00+08:00",
         *                 "method": "online"
         *               }
         *             ],
         *             "designation": {
         *               "mode": "court_designated",
         *               "organizationId": "bj-cy-blz"
         *             },
         *             "materials": []
         *           }
         *         }
         *       ]
         *     }
         */
        'application/json': {
          items: {
            /** @description 该条目的幂等键，等同于单条 POST /v1/referrals 的 Idempotency-Key / the item’s own Idempotency-Key */
            idempotencyKey: string
            /**
             * @example {
             *       "referralType": "pre_filing",
             *       "courtCode": "京0105",
             *       "caseNumber": "（2026）京0105民诉前调1024号",
             *       "disputeType": "neighbor",
             *       "causeOfAction": "相邻关系纠纷",
             *       "claimSummary": "请求被申请人停止漏水侵害并赔偿损失",
             *       "claimAmount": "12000.00",
             *       "parties": [
             *         {
             *           "role": "applicant",
             *           "kind": "natural_person",
             *           "name": "张三",
             *           "idType": "resident_id",
             *           "idNumber": "11010519491231002X",
             *           "phone": "13800138000"
             *         },
             *         {
             *           "role": "respondent",
             *           "kind": "natural_person",
             *           "name": "李四",
             *           "idType": "resident_id",
             *           "idNumber": "440524196001010014"
             *         }
             *       ],
             *       "consent": [
             *         {
             *           "partyIndex": 0,
             *           "consentedAt": "2026-11-27T09:00:00+08:00",
             *           "method": "written"
             *         },
             *         {
             *           "partyIndex": 1,
             *           "consentedAt": "2026-11-27T09:30:00+08:00",
             *           "method": "online"
             *         }
             *       ],
             *       "designation": {
             *         "mode": "court_designated",
             *         "organizationId": "bj-cy-blz"
             *       },
             *       "materials": []
             *     }
             */
            referral: {
              /**
               * @description pre_filing 诉前委派 / in_litigation 诉中委托
               * @enum {string}
               */
              referralType: 'pre_filing' | 'in_litigation'
              /**
               * @description 仅诉中委托：普通/简易程序 / in_litigation only
               * @enum {string}
               */
              procedure?: 'ordinary' | 'summary'
              /** @description 法院代字，须为调用方所属 / one of the caller’s court codes */
              courtCode: string
              /** @description 案号；诉前委派为 民诉前调，诉中委托为 民初；半角括号将存为全角 */
              caseNumber: string
              /** @enum {string} */
              disputeType:
                | 'marriage_family'
                | 'neighbor'
                | 'housing_homestead'
                | 'contract'
                | 'production_business'
                | 'damage_compensation'
                | 'land_forest'
                | 'land_acquisition'
                | 'environment'
                | 'labor'
                | 'consumer'
                | 'medical'
                | 'traffic'
                | 'property_management'
                | 'tourism'
                | 'finance'
                | 'insurance'
                | 'intellectual_property'
                | 'new_employment'
                | 'other'
              /** @description 案由 / cause of action */
              causeOfAction?: string
              /** @description 诉求摘要 1–4000 字 / claim summary */
              claimSummary: string
              /** @description 金额（元），十进制字符串，至多两位小数 / CNY decimal string */
              claimAmount?: string
              parties: {
                /** @enum {string} */
                role: 'applicant' | 'respondent' | 'third_party'
                /** @enum {string} */
                kind: 'natural_person' | 'legal_person' | 'other_org'
                /** @description 姓名或名称（按 Unicode 码点计长，须含可见字符）/ name, code points, at least one visible */
                name: string
                /** @enum {string} */
                idType: 'resident_id' | 'uscc' | 'passport' | 'hk_macao_permit' | 'taiwan_permit' | 'foreign_permanent_id'
                /** @description 证件号码；居民身份证与统一社会信用代码校验校验位 / checksum-validated for resident_id and uscc */
                idNumber: string
                /** @description 电话：可选 +，以数字开头，其后 5–19 个数字、空格或连字符 / phone: optional +, a digit, then 5–19 digits, spaces or hyphens */
                phone?: string
                address?: string
                /** @description 代理人至多 2 人（民诉法 61）/ at most 2 agents */
                agents?: {
                  /** @description 姓名或名称（按 Unicode 码点计长，须含可见字符）/ name, code points, at least one visible */
                  name: string
                  /** @enum {string} */
                  kind?: 'lawyer' | 'legal_worker' | 'relative' | 'employee' | 'other'
                  /** @enum {string} */
                  idType?: 'resident_id' | 'uscc' | 'passport' | 'hk_macao_permit' | 'taiwan_permit' | 'foreign_permanent_id'
                  /** @description 须同时给出 idType，按其校验 / requires idType, checked by it */
                  idNumber?: string
                  /** @description 电话：可选 +，以数字开头，其后 5–19 个数字、空格或连字符 / phone: optional +, a digit, then 5–19 digits, spaces or hyphens */
                  phone?: string
                  /** @description 执业证号 / licence number */
                  licenseNumber?: string
                }[]
              }[]
              /** @description 每位当事人一条同意记录（意见 三(二)）/ one per party */
              consent: {
                partyIndex: number
                /**
                 * Format: date-time
                 * @description RFC 3339，含时区；不早于 1900 年，不晚于当前时间（容许 5 分钟时钟偏差）/ RFC 3339 with offset, 1900 … now + 5 min
                 */
                consentedAt: string
                /** @enum {string} */
                method: 'written' | 'oral' | 'online'
              }[]
              designation: {
                /** @enum {string} */
                mode: 'party_selected' | 'court_designated'
                organizationId: string
              }
              materials?: {
                materialId: string
              }[]
            }
          }[]
        }
      }
    }
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "items": [
           *         {
           *           "index": 0,
           *           "status": 201,
           *           "referral": {
           *             "id": "01a249a2-1cbe-7547-bc35-b6ab94e2ecdd",
           *             "version": 1,
           *             "status": "referred",
           *             "referralType": "pre_filing",
           *             "courtCode": "京0105",
           *             "caseNumber": "（2026）京0105民诉前调33943号",
           *             "disputeType": "neighbor",
           *             "causeOfAction": "相邻关系纠纷",
           *             "claimSummary": "请求被申请人停止漏水侵害并赔偿损失",
           *             "claimAmount": "12000.00",
           *             "parties": [
           *               {
           *                 "role": "applicant",
           *                 "kind": "natural_person",
           *                 "name": "张三",
           *                 "idType": "resident_id",
           *                 "idNumber": "11010519491231002X",
           *                 "phone": "13800138000"
           *               },
           *               {
           *                 "role": "respondent",
           *                 "kind": "natural_person",
           *                 "name": "李四",
           *                 "idType": "resident_id",
           *                 "idNumber": "440524196001010014"
           *               }
           *             ],
           *             "consent": [
           *               {
           *                 "partyIndex": 0,
           *                 "consentedAt": "2026-12-02T09:00:00+08:00",
           *                 "method": "written"
           *               },
           *               {
           *                 "partyIndex": 1,
           *                 "consentedAt": "2026-12-02T09:30:00+08:00",
           *                 "method": "online"
           *               }
           *             ],
           *             "designation": {
           *               "mode": "court_designated",
           *               "organizationId": "bj-cy-blz"
           *             },
           *             "materials": [],
           *             "organizationId": "bj-cy-blz",
           *             "deadlines": {
           *               "acceptanceDueOn": "2026-12-09",
           *               "mediationDueOn": null,
           *               "provisional": false
           *             },
           *             "mediator": null,
           *             "acceptedAt": null,
           *             "decline": null,
           *             "recall": null,
           *             "suspension": null,
           *             "extensions": [],
           *             "agreement": null,
           *             "termination": null,
           *             "materialReturn": null,
           *             "courtFiling": null,
           *             "closure": null,
           *             "performance": null,
           *             "createdAt": "2026-12-06T04:34:50.684Z",
           *             "updatedAt": "2026-12-06T04:34:50.684Z"
           *           },
           *           "receipt": "eyJhbGciOiJFZERTQSIsImtpZCI6InIyMDI2MTIwNi00ZGE1MjcifQ.eyJzdWJqZWN0Ijp7ImtpbmQiOiJyZWZlcnJhbCIsImlkIjoiMDFhMjQ5YTItMWNiZS03NTQ3LWJjMzUtYjZhYjk0ZTJlY2RkIn0sInNlcXVlbmNlIjoxLCJldmVudElkIjoiMDFhMjQ5YTItMWNiZS03NTQ3LWJjMzUtYjZhYzFlODFhZTlmIiwiZXZlbnRIYXNoIjoiZGNlOTc0ODc3MGUyYmVkZjlhMDU1N2U3MDY0ZjEyNWJlODk0ZDA5M2E3MjM5ODUxNGVjMjE1MTE1MWViMzc1ZCIsImNhc2VWZXJzaW9uIjoxLCJpc3N1ZWRBdCI6IjIwMjYtMTItMDZUMDQ6MzQ6NTAuNjg2WiJ9.KWfXFcuhbJSznxkPTdIuQg9byCQj4wZ1V6XHE3sq-1h1duuZjC6H7djl8wUo0MoPuKJQ11ztpSS8_jgWV3LIDA"
           *         }
           *       ]
           *     }
           */
          'application/json': {
            items: {
              /** @description 条目在请求中的位置（从 0 起）/ the item’s position in the request */
              index: number
              /** @description 单条 POST /v1/referrals 将给出的状态码：201 或 4xx / the status the single route would answer */
              status: number
              referral?: {
                /** @description UUIDv7 */
                id: string
                version: number
                status: string
                referralType: string
                procedure?: string
                courtCode: string
                caseNumber: string
                disputeType: string
                causeOfAction?: string
                claimSummary: string
                claimAmount?: string
                parties: {
                  role: string
                  kind: string
                  name: string
                  idType: string
                  /** @description 非经办方脱敏：前 3 后 4 / masked for all but the referring court and handling organization */
                  idNumber: string
                  phone?: string
                  address?: string
                  agents?: {
                    [key: string]: unknown
                  }[]
                }[]
                consent: {
                  [key: string]: unknown
                }[]
                designation: {
                  [key: string]: unknown
                }
                materials: {
                  [key: string]: unknown
                }[]
                organizationId: string
                deadlines: {
                  acceptanceDueOn: string | null
                  mediationDueOn: string | null
                  provisional: boolean
                }
                mediator: {
                  [key: string]: unknown
                } | null
                acceptedAt: string | null
                decline: {
                  [key: string]: unknown
                } | null
                recall: {
                  [key: string]: unknown
                } | null
                suspension: {
                  [key: string]: unknown
                } | null
                extensions: {
                  [key: string]: unknown
                }[]
                agreement: {
                  [key: string]: unknown
                } | null
                termination: {
                  [key: string]: unknown
                } | null
                materialReturn: {
                  [key: string]: unknown
                } | null
                courtFiling: {
                  [key: string]: unknown
                } | null
                closure: {
                  [key: string]: unknown
                } | null
                performance: {
                  [key: string]: unknown
                } | null
                /**
                 * Format: date-time
                 * @description RFC 3339 with offset
                 */
                createdAt: string
                /**
                 * Format: date-time
                 * @description RFC 3339 with offset
                 */
                updatedAt: string
              }
              problem?: components['schemas']['Problem']
              /** @description 该条目的幂等键已有存储的应答，此为重放（单条请求的 Idempotent-Replayed: true）/ a stored answer given again */
              replayed?: boolean
              /** @description 签名回执（JWS，合同 §4）/ the signed receipt of the item’s event (JWS) */
              receipt?: string
            }[]
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_json`, `idempotency_key_required` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 冲突 / conflict: `idempotency_key_in_use` */
      409: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求体过大 / body too large: `payload_too_large` */
      413: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不支持的内容类型 / unsupported media type: `unsupported_media_type` */
      415: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 违反业务规则 / business rule violated: `idempotency_key_reused` */
      422: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  getV1ReferralsId: {
    parameters: {
      query?: never
      header?: never
      path: {
        /** @description 资源标识 / resource id */
        id: string
      }
      cookie?: never
    }
    requestBody?: never
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "id": "01a249a2-1873-7c68-b027-9877cc03bf12",
           *       "version": 1,
           *       "status": "referred",
           *       "referralType": "pre_filing",
           *       "courtCode": "京0105",
           *       "caseNumber": "（2026）京0105民诉前调33934号",
           *       "disputeType": "neighbor",
           *       "claimSummary": "请求被申请人停止漏水侵害并赔偿损失",
           *       "parties": [
           *         {
           *           "role": "applicant",
           *           "kind": "natural_person",
           *           "name": "张三",
           *           "idType": "resident_id",
           *           "idNumber": "11010519491231002X",
           *           "phone": "13800138000"
           *         },
           *         {
           *           "role": "respondent",
           *           "kind": "natural_person",
           *           "name": "李四",
           *           "idType": "resident_id",
           *           "idNumber": "440524196001010014"
           *         }
           *       ],
           *       "consent": [
           *         {
           *           "method": "written",
           *           "partyIndex": 0,
           *           "consentedAt": "2026-12-03T09:00:00+08:00"
           *         },
           *         {
           *           "method": "online",
           *           "partyIndex": 1,
           *           "consentedAt": "2026-12-03T09:30:00+08:00"
           *         }
           *       ],
           *       "designation": {
           *         "mode": "court_designated",
           *         "organizationId": "bj-cy-blz"
           *       },
           *       "materials": [],
           *       "organizationId": "bj-cy-blz",
           *       "deadlines": {
           *         "acceptanceDueOn": "2026-12-09",
           *         "mediationDueOn": null,
           *         "provisional": false
           *       },
           *       "mediator": null,
           *       "acceptedAt": null,
           *       "decline": null,
           *       "recall": null,
           *       "suspension": null,
           *       "extensions": [],
           *       "agreement": null,
           *       "termination": null,
           *       "materialReturn": null,
           *       "courtFiling": null,
           *       "closure": null,
           *       "performance": null,
           *       "createdAt": "2026-12-06T04:34:49.586Z",
           *       "updatedAt": "2026-12-06T04:34:49.586Z",
           *       "causeOfAction": "相邻关系纠纷",
           *       "claimAmount": "12000.00"
           *     }
           */
          'application/json': {
            /** @description UUIDv7 */
            id: string
            version: number
            status: string
            referralType: string
            procedure?: string
            courtCode: string
            caseNumber: string
            disputeType: string
            causeOfAction?: string
            claimSummary: string
            claimAmount?: string
            parties: {
              role: string
              kind: string
              name: string
              idType: string
              /** @description 非经办方脱敏：前 3 后 4 / masked for all but the referring court and handling organization */
              idNumber: string
              phone?: string
              address?: string
              agents?: {
                [key: string]: unknown
              }[]
            }[]
            consent: {
              [key: string]: unknown
            }[]
            designation: {
              [key: string]: unknown
            }
            materials: {
              [key: string]: unknown
            }[]
            organizationId: string
            deadlines: {
              acceptanceDueOn: string | null
              mediationDueOn: string | null
              provisional: boolean
            }
            mediator: {
              [key: string]: unknown
            } | null
            acceptedAt: string | null
            decline: {
              [key: string]: unknown
            } | null
            recall: {
              [key: string]: unknown
            } | null
            suspension: {
              [key: string]: unknown
            } | null
            extensions: {
              [key: string]: unknown
            }[]
            agreement: {
              [key: string]: unknown
            } | null
            termination: {
              [key: string]: unknown
            } | null
            materialReturn: {
              [key: string]: unknown
            } | null
            courtFiling: {
              [key: string]: unknown
            } | null
            closure: {
              [key: string]: unknown
            } | null
            performance: {
              [key: string]: unknown
            } | null
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            createdAt: string
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            updatedAt: string
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  getV1ReferralsIdEvents: {
    parameters: {
      query?: {
        /** @description 每页条数 1–200 / page size */
        limit?: number
        /** @description 不透明游标 / opaque cursor from nextCursor */
        cursor?: string
      }
      header?: never
      path: {
        /** @description 资源标识 / resource id */
        id: string
      }
      cookie?: never
    }
    requestBody?: never
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "items": [
           *         {
           *           "id": "01a249a2-1873-7c68-b027-987894a6fee1",
           *           "type": "referral.created",
           *           "occurredAt": "2026-12-06T04:34:49.586Z",
           *           "sequence": 1,
           *           "subject": {
           *             "kind": "referral",
           *             "id": "01a249a2-1873-7c68-b027-9877cc03bf12"
           *           },
           *           "caseVersion": 1,
           *           "actor": {
           *             "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d",
           *             "role": "court"
           *           },
           *           "data": {
           *             "referral": {
           *               "id": "01a249a2-1873-7c68-b027-9877cc03bf12",
           *               "recall": null,
           *               "status": "referred",
           *               "closure": null,
           *               "consent": [
           *                 {
           *                   "method": "written",
           *                   "partyIndex": 0,
           *                   "consentedAt": "2026-12-03T09:00:00+08:00"
           *                 },
           *                 {
           *                   "method": "online",
           *                   "partyIndex": 1,
           *                   "consentedAt": "2026-12-03T09:30:00+08:00"
           *                 }
           *               ],
           *               "decline": null,
           *               "parties": [
           *                 {
           *                   "kind": "natural_person",
           *                   "name": "张三",
           *                   "role": "applicant",
           *                   "phone": "138****8000",
           *                   "idType": "resident_id",
           *                   "idNumber": "110***********002X"
           *                 },
           *                 {
           *                   "kind": "natural_person",
           *                   "name": "李四",
           *                   "role": "respondent",
           *                   "idType": "resident_id",
           *                   "idNumber": "440***********0014"
           *                 }
           *               ],
           *               "version": 1,
           *               "mediator": null,
           *               "agreement": null,
           *               "courtCode": "京0105",
           *               "createdAt": "2026-12-06T04:34:49.586Z",
           *               "deadlines": {
           *                 "provisional": false,
           *                 "mediationDueOn": null,
           *                 "acceptanceDueOn": "2026-12-09"
           *               },
           *               "materials": [],
           *               "updatedAt": "2026-12-06T04:34:49.586Z",
           *               "acceptedAt": null,
           *               "caseNumber": "（2026）京0105民诉前调33934号",
           *               "extensions": [],
           *               "suspension": null,
           *               "claimAmount": "12000.00",
           *               "courtFiling": null,
           *               "designation": {
           *                 "mode": "court_designated",
           *                 "organizationId": "bj-cy-blz"
           *               },
           *               "disputeType": "neighbor",
           *               "performance": null,
           *               "termination": null,
           *               "claimSummary": "请求被申请人停止漏水侵害并赔偿损失",
           *               "referralType": "pre_filing",
           *               "causeOfAction": "相邻关系纠纷",
           *               "materialReturn": null,
           *               "organizationId": "bj-cy-blz"
           *             }
           *           }
           *         },
           *         {
           *           "id": "01a249a2-18d4-7d2e-8bec-7610ab730844",
           *           "type": "referral.accepted",
           *           "occurredAt": "2026-12-06T04:34:49.673Z",
           *           "sequence": 2,
           *           "subject": {
           *             "kind": "referral",
           *             "id": "01a249a2-1873-7c68-b027-9877cc03bf12"
           *           },
           *           "caseVersion": 2,
           *           "actor": {
           *             "clientId": "01a249a2-1788-7338-836c-f1a07c0b9973",
           *             "role": "mediation"
           *           },
           *           "data": {
           *             "referral": {
           *               "id": "01a249a2-1873-7c68-b027-9877cc03bf12",
           *               "recall": null,
           *               "status": "mediating",
           *               "closure": null,
           *               "consent": [
           *                 {
           *                   "method": "written",
           *                   "partyIndex": 0,
           *                   "consentedAt": "2026-12-03T09:00:00+08:00"
           *                 },
           *                 {
           *                   "method": "online",
           *                   "partyIndex": 1,
           *                   "consentedAt": "2026-12-03T09:30:00+08:00"
           *                 }
           *               ],
           *               "decline": null,
           *               "parties": [
           *                 {
           *                   "kind": "natural_person",
           *                   "name": "张三",
           *                   "role": "applicant",
           *                   "phone": "138****8000",
           *                   "idType": "resident_id",
           *                   "idNumber": "110***********002X"
           *                 },
           *                 {
           *                   "kind": "natural_person",
           *                   "name": "李四",
           *                   "role": "respondent",
           *                   "idType": "resident_id",
           *                   "idNumber": "440***********0014"
           *                 }
           *               ],
           *               "version": 2,
           *               "mediator": {
           *                 "id": "M-001",
           *                 "name": "王调解"
           *               },
           *               "agreement": null,
           *               "courtCode": "京0105",
           *               "createdAt": "2026-12-06T04:34:49.586Z",
           *               "deadlines": {
           *                 "provisional": true,
           *                 "mediationDueOn": "2027-01-05",
           *                 "acceptanceDueOn": "2026-12-09"
           *               },
           *               "materials": [],
           *               "updatedAt": "2026-12-06T04:34:49.673Z",
           *               "acceptedAt": "2026-12-06T04:34:49.664Z",
           *               "caseNumber": "（2026）京0105民诉前调33934号",
           *               "extensions": [],
           *               "suspension": null,
           *               "claimAmount": "12000.00",
           *               "courtFiling": null,
           *               "designation": {
           *                 "mode": "court_designated",
           *                 "organizationId": "bj-cy-blz"
           *               },
           *               "disputeType": "neighbor",
           *               "performance": null,
           *               "termination": null,
           *               "claimSummary": "请求被申请人停止漏水侵害并赔偿损失",
           *               "referralType": "pre_filing",
           *               "causeOfAction": "相邻关系纠纷",
           *               "materialReturn": null,
           *               "organizationId": "bj-cy-blz"
           *             }
           *           }
           *         },
           *         {
           *           "id": "01a249a2-18e6-7657-9a50-ba535fcd70ff",
           *           "type": "referral.suspended",
           *           "occurredAt": "2026-12-06T04:34:49.699Z",
           *           "sequence": 3,
           *           "subject": {
           *             "kind": "referral",
           *             "id": "01a249a2-1873-7c68-b027-9877cc03bf12"
           *           },
           *           "caseVersion": 3,
           *           "actor": {
           *             "clientId": "01a249a2-1788-7338-836c-f1a07c0b9973",
           *             "role": "mediation"
           *           },
           *           "data": {
           *             "referral": {
           *               "id": "01a249a2-1873-7c68-b027-9877cc03bf12",
           *               "recall": null,
           *               "status": "suspended",
           *               "closure": null,
           *               "consent": [
           *                 {
           *                   "method": "written",
           *                   "partyIndex": 0,
           *                   "consentedAt": "2026-12-03T09:00:00+08:00"
           *                 },
           *                 {
           *                   "method": "online",
           *                   "partyIndex": 1,
           *                   "consentedAt": "2026-12-03T09:30:00+08:00"
           *                 }
           *               ],
           *               "decline": null,
           *               "parties": [
           *                 {
           *                   "kind": "natural_person",
           *                   "name": "张三",
           *                   "role": "applicant",
           *                   "phone": "138****8000",
           *                   "idType": "resident_id",
           *                   "idNumber": "110***********002X"
           *                 },
           *                 {
           *                   "kind": "natural_person",
           *                   "name": "李四",
           *                   "role": "respondent",
           *                   "idType": "resident_id",
           *                   "idNumber": "440***********0014"
           *                 }
           *               ],
           *               "version": 3,
           *               "mediator": {
           *                 "id": "M-001",
           *                 "name": "王调解"
           *               },
           *               "agreement": null,
           *               "courtCode": "京0105",
           *               "createdAt": "2026-12-06T04:34:49.586Z",
           *               "deadlines": {
           *                 "provisional": true,
           *                 "mediationDueOn": "2027-01-05",
           *                 "acceptanceDueOn": "2026-12-09"
           *               },
           *               "materials": [],
           *               "updatedAt": "2026-12-06T04:34:49.699Z",
           *               "acceptedAt": "2026-12-06T04:34:49.664Z",
           *               "caseNumber": "（2026）京0105民诉前调33934号",
           *               "extensions": [],
           *               "suspension": {
           *                 "note": "委托房屋漏水原因鉴定",
           *                 "reason": "appraisal",
           *                 "suspendedAt": "2026-12-06T04:34:49.699Z",
           *                 "suspendedOn": "2026-12-06"
           *               },
           *               "claimAmount": "12000.00",
           *               "courtFiling": null,
           *               "designation": {
           *                 "mode": "court_designated",
           *                 "organizationId": "bj-cy-blz"
           *               },
           *               "disputeType": "neighbor",
           *               "performance": null,
           *               "termination": null,
           *               "claimSummary": "请求被申请人停止漏水侵害并赔偿损失",
           *               "referralType": "pre_filing",
           *               "causeOfAction": "相邻关系纠纷",
           *               "materialReturn": null,
           *               "organizationId": "bj-cy-blz"
           *             }
           *           }
           *         }
           *       ],
           *       "nextCursor": null
           *     }
           */
          'application/json': {
            items: components['schemas']['Event'][]
            nextCursor: string | null
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_cursor` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  postV1ReferralsIdAcceptance: {
    parameters: {
      query?: never
      header: {
        /** @description 幂等键（1–255 个可见 ASCII 字符），同一调用方内唯一；保存至少 24 小时。重放返回所存状态与应答体，其中个人信息按调用方重放时的权限显示（完整显示时记入访问记录）。Idempotency key, scoped to the calling client. A replay answers the stored status and body, with personal data as the caller may see it at the replay (recorded in the access log when shown in full). */
        'idempotency-key': string
        /** @description 乐观并发控制：期望的版本号，如 "3"（GET 应答的 ETag）；不一致 → 412 version_mismatch。Optimistic concurrency: the expected version (the ETag of GET); stale → 412 version_mismatch. */
        'if-match'?: string
      }
      path: {
        /** @description 资源标识 / resource id */
        id: string
      }
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "decision": "accepted",
         *       "mediator": {
         *         "name": "王调解",
         *         "id": "M-001"
         *       },
         *       "acceptedAt": "2026-12-01T10:00:00+08:00"
         *     }
         */
        'application/json': {
          /** @enum {string} */
          decision: 'accepted' | 'declined'
          mediator?: {
            /** @description 姓名或名称（按 Unicode 码点计长，须含可见字符）/ name, code points, at least one visible */
            name: string
            id?: string
          }
          /**
           * Format: date-time
           * @description RFC 3339，含时区；不早于 1900 年，不晚于当前时间（容许 5 分钟时钟偏差）/ RFC 3339 with offset, 1900 … now + 5 min
           */
          acceptedAt?: string
          /** @description 不予接受的理由 / reason for declining */
          reason?: string
        }
      }
    }
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          /** @description 签名回执：JWS 紧凑序列化，载荷 { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }，eventHash 为该事件在案件哈希链中的哈希；用 GET /v1/service-keys 公布的密钥（按 kid）验证；幂等重放返回同一回执。Signed receipt: a JWS (compact serialization) whose payload is { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }, eventHash being the event’s hash in the case’s chain; verify it with the key of its `kid` from GET /v1/service-keys (alg EdDSA: Ed25519; alg SM2SM3: SM2 over SM3 with user id 1234567812345678, signature r‖s of 32 bytes each). A replay carries the same receipt. See docs/receipts.md. */
          Receipt?: string
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "id": "01a249a2-1873-7c68-b027-9877cc03bf12",
           *       "version": 2,
           *       "status": "mediating",
           *       "referralType": "pre_filing",
           *       "courtCode": "京0105",
           *       "caseNumber": "（2026）京0105民诉前调33934号",
           *       "disputeType": "neighbor",
           *       "causeOfAction": "相邻关系纠纷",
           *       "claimSummary": "请求被申请人停止漏水侵害并赔偿损失",
           *       "claimAmount": "12000.00",
           *       "parties": [
           *         {
           *           "role": "applicant",
           *           "kind": "natural_person",
           *           "name": "张三",
           *           "idType": "resident_id",
           *           "idNumber": "11010519491231002X",
           *           "phone": "13800138000"
           *         },
           *         {
           *           "role": "respondent",
           *           "kind": "natural_person",
           *           "name": "李四",
           *           "idType": "resident_id",
           *           "idNumber": "440524196001010014"
           *         }
           *       ],
           *       "consent": [
           *         {
           *           "method": "written",
           *           "partyIndex": 0,
           *           "consentedAt": "2026-12-03T09:00:00+08:00"
           *         },
           *         {
           *           "method": "online",
           *           "partyIndex": 1,
           *           "consentedAt": "2026-12-03T09:30:00+08:00"
           *         }
           *       ],
           *       "designation": {
           *         "mode": "court_designated",
           *         "organizationId": "bj-cy-blz"
           *       },
           *       "materials": [],
           *       "organizationId": "bj-cy-blz",
           *       "deadlines": {
           *         "acceptanceDueOn": "2026-12-09",
           *         "mediationDueOn": "2027-01-05",
           *         "provisional": true
           *       },
           *       "mediator": {
           *         "name": "王调解",
           *         "id": "M-001"
           *       },
           *       "acceptedAt": "2026-12-06T04:34:49.664Z",
           *       "decline": null,
           *       "recall": null,
           *       "suspension": null,
           *       "extensions": [],
           *       "agreement": null,
           *       "termination": null,
           *       "materialReturn": null,
           *       "courtFiling": null,
           *       "closure": null,
           *       "performance": null,
           *       "createdAt": "2026-12-06T04:34:49.586Z",
           *       "updatedAt": "2026-12-06T04:34:49.673Z"
           *     }
           */
          'application/json': {
            /** @description UUIDv7 */
            id: string
            version: number
            status: string
            referralType: string
            procedure?: string
            courtCode: string
            caseNumber: string
            disputeType: string
            causeOfAction?: string
            claimSummary: string
            claimAmount?: string
            parties: {
              role: string
              kind: string
              name: string
              idType: string
              /** @description 非经办方脱敏：前 3 后 4 / masked for all but the referring court and handling organization */
              idNumber: string
              phone?: string
              address?: string
              agents?: {
                [key: string]: unknown
              }[]
            }[]
            consent: {
              [key: string]: unknown
            }[]
            designation: {
              [key: string]: unknown
            }
            materials: {
              [key: string]: unknown
            }[]
            organizationId: string
            deadlines: {
              acceptanceDueOn: string | null
              mediationDueOn: string | null
              provisional: boolean
            }
            mediator: {
              [key: string]: unknown
            } | null
            acceptedAt: string | null
            decline: {
              [key: string]: unknown
            } | null
            recall: {
              [key: string]: unknown
            } | null
            suspension: {
              [key: string]: unknown
            } | null
            extensions: {
              [key: string]: unknown
            }[]
            agreement: {
              [key: string]: unknown
            } | null
            termination: {
              [key: string]: unknown
            } | null
            materialReturn: {
              [key: string]: unknown
            } | null
            courtFiling: {
              [key: string]: unknown
            } | null
            closure: {
              [key: string]: unknown
            } | null
            performance: {
              [key: string]: unknown
            } | null
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            createdAt: string
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            updatedAt: string
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_json`, `idempotency_key_required` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 冲突 / conflict: `idempotency_key_in_use`, `illegal_transition` */
      409: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 版本号不一致 / If-Match is stale: `version_mismatch` */
      412: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求体过大 / body too large: `payload_too_large` */
      413: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不支持的内容类型 / unsupported media type: `unsupported_media_type` */
      415: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 违反业务规则 / business rule violated: `idempotency_key_reused`, `timestamp_in_future`, `timestamp_before_referral` */
      422: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  postV1ReferralsIdRedesignation: {
    parameters: {
      query?: never
      header: {
        /** @description 幂等键（1–255 个可见 ASCII 字符），同一调用方内唯一；保存至少 24 小时。重放返回所存状态与应答体，其中个人信息按调用方重放时的权限显示（完整显示时记入访问记录）。Idempotency key, scoped to the calling client. A replay answers the stored status and body, with personal data as the caller may see it at the replay (recorded in the access log when shown in full). */
        'idempotency-key': string
        /** @description 乐观并发控制：期望的版本号，如 "3"（GET 应答的 ETag）；不一致 → 412 version_mismatch。Optimistic concurrency: the expected version (the ETag of GET); stale → 412 version_mismatch. */
        'if-match'?: string
      }
      path: {
        /** @description 资源标识 / resource id */
        id: string
      }
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "designation": {
         *         "mode": "court_designated",
         *         "organizationId": "bj-cy-blz"
         *       }
         *     }
         */
        'application/json': {
          designation: {
            /** @enum {string} */
            mode: 'party_selected' | 'court_designated'
            organizationId: string
          }
        }
      }
    }
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          /** @description 签名回执：JWS 紧凑序列化，载荷 { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }，eventHash 为该事件在案件哈希链中的哈希；用 GET /v1/service-keys 公布的密钥（按 kid）验证；幂等重放返回同一回执。Signed receipt: a JWS (compact serialization) whose payload is { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }, eventHash being the event’s hash in the case’s chain; verify it with the key of its `kid` from GET /v1/service-keys (alg EdDSA: Ed25519; alg SM2SM3: SM2 over SM3 with user id 1234567812345678, signature r‖s of 32 bytes each). A replay carries the same receipt. See docs/receipts.md. */
          Receipt?: string
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "id": "01a249a2-197a-7833-9d6c-f2e436eeba5c",
           *       "version": 3,
           *       "status": "referred",
           *       "referralType": "pre_filing",
           *       "courtCode": "京0105",
           *       "caseNumber": "（2026）京0105民诉前调33935号",
           *       "disputeType": "neighbor",
           *       "claimSummary": "请求被申请人停止漏水侵害并赔偿损失",
           *       "claimAmount": "12000.00",
           *       "parties": [
           *         {
           *           "role": "applicant",
           *           "kind": "natural_person",
           *           "name": "张三",
           *           "idType": "resident_id",
           *           "idNumber": "110105198001010016",
           *           "phone": "13800138000",
           *           "address": "北京市朝阳区八里庄街道1号"
           *         },
           *         {
           *           "role": "respondent",
           *           "kind": "natural_person",
           *           "name": "李四",
           *           "idType": "resident_id",
           *           "idNumber": "440524198001010021"
           *         }
           *       ],
           *       "consent": [
           *         {
           *           "method": "written",
           *           "partyIndex": 0,
           *           "consentedAt": "2026-11-27T09:00:00+08:00"
           *         },
           *         {
           *           "method": "online",
           *           "partyIndex": 1,
           *           "consentedAt": "2026-11-27T09:30:00+08:00"
           *         }
           *       ],
           *       "designation": {
           *         "mode": "court_designated",
           *         "organizationId": "bj-cy-blz"
           *       },
           *       "materials": [],
           *       "organizationId": "bj-cy-blz",
           *       "deadlines": {
           *         "acceptanceDueOn": "2026-12-09",
           *         "mediationDueOn": null,
           *         "provisional": false
           *       },
           *       "mediator": null,
           *       "acceptedAt": null,
           *       "decline": null,
           *       "recall": null,
           *       "suspension": null,
           *       "extensions": [],
           *       "agreement": null,
           *       "termination": null,
           *       "materialReturn": null,
           *       "courtFiling": null,
           *       "closure": null,
           *       "performance": null,
           *       "createdAt": "2026-12-06T04:34:49.850Z",
           *       "updatedAt": "2026-12-06T04:34:49.882Z"
           *     }
           */
          'application/json': {
            /** @description UUIDv7 */
            id: string
            version: number
            status: string
            referralType: string
            procedure?: string
            courtCode: string
            caseNumber: string
            disputeType: string
            causeOfAction?: string
            claimSummary: string
            claimAmount?: string
            parties: {
              role: string
              kind: string
              name: string
              idType: string
              /** @description 非经办方脱敏：前 3 后 4 / masked for all but the referring court and handling organization */
              idNumber: string
              phone?: string
              address?: string
              agents?: {
                [key: string]: unknown
              }[]
            }[]
            consent: {
              [key: string]: unknown
            }[]
            designation: {
              [key: string]: unknown
            }
            materials: {
              [key: string]: unknown
            }[]
            organizationId: string
            deadlines: {
              acceptanceDueOn: string | null
              mediationDueOn: string | null
              provisional: boolean
            }
            mediator: {
              [key: string]: unknown
            } | null
            acceptedAt: string | null
            decline: {
              [key: string]: unknown
            } | null
            recall: {
              [key: string]: unknown
            } | null
            suspension: {
              [key: string]: unknown
            } | null
            extensions: {
              [key: string]: unknown
            }[]
            agreement: {
              [key: string]: unknown
            } | null
            termination: {
              [key: string]: unknown
            } | null
            materialReturn: {
              [key: string]: unknown
            } | null
            courtFiling: {
              [key: string]: unknown
            } | null
            closure: {
              [key: string]: unknown
            } | null
            performance: {
              [key: string]: unknown
            } | null
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            createdAt: string
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            updatedAt: string
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_json`, `idempotency_key_required` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 冲突 / conflict: `idempotency_key_in_use`, `illegal_transition` */
      409: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 版本号不一致 / If-Match is stale: `version_mismatch` */
      412: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求体过大 / body too large: `payload_too_large` */
      413: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不支持的内容类型 / unsupported media type: `unsupported_media_type` */
      415: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 违反业务规则 / business rule violated: `idempotency_key_reused`, `not_on_roster`, `organization_inactive` */
      422: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  postV1ReferralsIdRecall: {
    parameters: {
      query?: never
      header: {
        /** @description 幂等键（1–255 个可见 ASCII 字符），同一调用方内唯一；保存至少 24 小时。重放返回所存状态与应答体，其中个人信息按调用方重放时的权限显示（完整显示时记入访问记录）。Idempotency key, scoped to the calling client. A replay answers the stored status and body, with personal data as the caller may see it at the replay (recorded in the access log when shown in full). */
        'idempotency-key': string
        /** @description 乐观并发控制：期望的版本号，如 "3"（GET 应答的 ETag）；不一致 → 412 version_mismatch。Optimistic concurrency: the expected version (the ETag of GET); stale → 412 version_mismatch. */
        'if-match'?: string
      }
      path: {
        /** @description 资源标识 / resource id */
        id: string
      }
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "reason": "party_insists_on_litigation",
         *       "note": "申请人明确表示不同意调解，坚持起诉"
         *     }
         */
        'application/json': {
          /**
           * @description party_withdrew_consent 当事人撤回同意 / party_insists_on_litigation 当事人坚持诉讼 / court_decision 法院决定 (意见 三(一)(三), 特邀调解规定 12, 21)
           * @enum {string}
           */
          reason: 'party_withdrew_consent' | 'party_insists_on_litigation' | 'court_decision'
          /** @description 说明 / note */
          note?: string
        }
      }
    }
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          /** @description 签名回执：JWS 紧凑序列化，载荷 { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }，eventHash 为该事件在案件哈希链中的哈希；用 GET /v1/service-keys 公布的密钥（按 kid）验证；幂等重放返回同一回执。Signed receipt: a JWS (compact serialization) whose payload is { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }, eventHash being the event’s hash in the case’s chain; verify it with the key of its `kid` from GET /v1/service-keys (alg EdDSA: Ed25519; alg SM2SM3: SM2 over SM3 with user id 1234567812345678, signature r‖s of 32 bytes each). A replay carries the same receipt. See docs/receipts.md. */
          Receipt?: string
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "id": "01a249a2-197a-7833-9d6c-f2e436eeba5c",
           *       "version": 4,
           *       "status": "recalled",
           *       "referralType": "pre_filing",
           *       "courtCode": "京0105",
           *       "caseNumber": "（2026）京0105民诉前调33935号",
           *       "disputeType": "neighbor",
           *       "claimSummary": "请求被申请人停止漏水侵害并赔偿损失",
           *       "claimAmount": "12000.00",
           *       "parties": [
           *         {
           *           "role": "applicant",
           *           "kind": "natural_person",
           *           "name": "张三",
           *           "idType": "resident_id",
           *           "idNumber": "110105198001010016",
           *           "phone": "13800138000",
           *           "address": "北京市朝阳区八里庄街道1号"
           *         },
           *         {
           *           "role": "respondent",
           *           "kind": "natural_person",
           *           "name": "李四",
           *           "idType": "resident_id",
           *           "idNumber": "440524198001010021"
           *         }
           *       ],
           *       "consent": [
           *         {
           *           "method": "written",
           *           "partyIndex": 0,
           *           "consentedAt": "2026-11-27T09:00:00+08:00"
           *         },
           *         {
           *           "method": "online",
           *           "partyIndex": 1,
           *           "consentedAt": "2026-11-27T09:30:00+08:00"
           *         }
           *       ],
           *       "designation": {
           *         "mode": "court_designated",
           *         "organizationId": "bj-cy-blz"
           *       },
           *       "materials": [],
           *       "organizationId": "bj-cy-blz",
           *       "deadlines": {
           *         "provisional": false,
           *         "mediationDueOn": null,
           *         "acceptanceDueOn": "2026-12-09"
           *       },
           *       "mediator": null,
           *       "acceptedAt": null,
           *       "decline": null,
           *       "recall": {
           *         "reason": "party_insists_on_litigation",
           *         "note": "申请人明确表示不同意调解，坚持起诉",
           *         "recalledAt": "2026-12-06T04:34:49.911Z"
           *       },
           *       "suspension": null,
           *       "extensions": [],
           *       "agreement": null,
           *       "termination": null,
           *       "materialReturn": null,
           *       "courtFiling": null,
           *       "closure": null,
           *       "performance": null,
           *       "createdAt": "2026-12-06T04:34:49.850Z",
           *       "updatedAt": "2026-12-06T04:34:49.911Z"
           *     }
           */
          'application/json': {
            /** @description UUIDv7 */
            id: string
            version: number
            status: string
            referralType: string
            procedure?: string
            courtCode: string
            caseNumber: string
            disputeType: string
            causeOfAction?: string
            claimSummary: string
            claimAmount?: string
            parties: {
              role: string
              kind: string
              name: string
              idType: string
              /** @description 非经办方脱敏：前 3 后 4 / masked for all but the referring court and handling organization */
              idNumber: string
              phone?: string
              address?: string
              agents?: {
                [key: string]: unknown
              }[]
            }[]
            consent: {
              [key: string]: unknown
            }[]
            designation: {
              [key: string]: unknown
            }
            materials: {
              [key: string]: unknown
            }[]
            organizationId: string
            deadlines: {
              acceptanceDueOn: string | null
              mediationDueOn: string | null
              provisional: boolean
            }
            mediator: {
              [key: string]: unknown
            } | null
            acceptedAt: string | null
            decline: {
              [key: string]: unknown
            } | null
            recall: {
              [key: string]: unknown
            } | null
            suspension: {
              [key: string]: unknown
            } | null
            extensions: {
              [key: string]: unknown
            }[]
            agreement: {
              [key: string]: unknown
            } | null
            termination: {
              [key: string]: unknown
            } | null
            materialReturn: {
              [key: string]: unknown
            } | null
            courtFiling: {
              [key: string]: unknown
            } | null
            closure: {
              [key: string]: unknown
            } | null
            performance: {
              [key: string]: unknown
            } | null
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            createdAt: string
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            updatedAt: string
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_json`, `idempotency_key_required` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 冲突 / conflict: `idempotency_key_in_use`, `illegal_transition` */
      409: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 版本号不一致 / If-Match is stale: `version_mismatch` */
      412: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求体过大 / body too large: `payload_too_large` */
      413: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不支持的内容类型 / unsupported media type: `unsupported_media_type` */
      415: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 违反业务规则 / business rule violated: `idempotency_key_reused` */
      422: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  postV1ReferralsIdAssignment: {
    parameters: {
      query?: never
      header: {
        /** @description 幂等键（1–255 个可见 ASCII 字符），同一调用方内唯一；保存至少 24 小时。重放返回所存状态与应答体，其中个人信息按调用方重放时的权限显示（完整显示时记入访问记录）。Idempotency key, scoped to the calling client. A replay answers the stored status and body, with personal data as the caller may see it at the replay (recorded in the access log when shown in full). */
        'idempotency-key': string
        /** @description 乐观并发控制：期望的版本号，如 "3"（GET 应答的 ETag）；不一致 → 412 version_mismatch。Optimistic concurrency: the expected version (the ETag of GET); stale → 412 version_mismatch. */
        'if-match'?: string
      }
      path: {
        /** @description 资源标识 / resource id */
        id: string
      }
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "organizationId": "bj-cy-blz"
         *     }
         */
        'application/json': {
          organizationId: string
        }
      }
    }
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          /** @description 签名回执：JWS 紧凑序列化，载荷 { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }，eventHash 为该事件在案件哈希链中的哈希；用 GET /v1/service-keys 公布的密钥（按 kid）验证；幂等重放返回同一回执。Signed receipt: a JWS (compact serialization) whose payload is { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }, eventHash being the event’s hash in the case’s chain; verify it with the key of its `kid` from GET /v1/service-keys (alg EdDSA: Ed25519; alg SM2SM3: SM2 over SM3 with user id 1234567812345678, signature r‖s of 32 bytes each). A replay carries the same receipt. See docs/receipts.md. */
          Receipt?: string
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "id": "01a249a2-1a41-7b7b-9b56-1aaacf32223d",
           *       "version": 2,
           *       "status": "referred",
           *       "referralType": "pre_filing",
           *       "courtCode": "京0105",
           *       "caseNumber": "（2026）京0105民诉前调33938号",
           *       "disputeType": "neighbor",
           *       "claimSummary": "请求被申请人停止漏水侵害并赔偿损失",
           *       "claimAmount": "12000.00",
           *       "parties": [
           *         {
           *           "role": "applicant",
           *           "kind": "natural_person",
           *           "name": "张三",
           *           "idType": "resident_id",
           *           "idNumber": "110105198001010059",
           *           "phone": "13800138000",
           *           "address": "北京市朝阳区八里庄街道1号"
           *         },
           *         {
           *           "role": "respondent",
           *           "kind": "natural_person",
           *           "name": "李四",
           *           "idType": "resident_id",
           *           "idNumber": "440524198001010064"
           *         }
           *       ],
           *       "consent": [
           *         {
           *           "method": "written",
           *           "partyIndex": 0,
           *           "consentedAt": "2026-11-27T09:00:00+08:00"
           *         },
           *         {
           *           "method": "online",
           *           "partyIndex": 1,
           *           "consentedAt": "2026-11-27T09:30:00+08:00"
           *         }
           *       ],
           *       "designation": {
           *         "mode": "court_designated",
           *         "organizationId": "bj-cy-centre"
           *       },
           *       "materials": [],
           *       "organizationId": "bj-cy-blz",
           *       "deadlines": {
           *         "provisional": false,
           *         "mediationDueOn": null,
           *         "acceptanceDueOn": "2026-12-09"
           *       },
           *       "mediator": null,
           *       "acceptedAt": null,
           *       "decline": null,
           *       "recall": null,
           *       "suspension": null,
           *       "extensions": [],
           *       "agreement": null,
           *       "termination": null,
           *       "materialReturn": null,
           *       "courtFiling": null,
           *       "closure": null,
           *       "performance": null,
           *       "createdAt": "2026-12-06T04:34:50.048Z",
           *       "updatedAt": "2026-12-06T04:34:50.080Z"
           *     }
           */
          'application/json': {
            /** @description UUIDv7 */
            id: string
            version: number
            status: string
            referralType: string
            procedure?: string
            courtCode: string
            caseNumber: string
            disputeType: string
            causeOfAction?: string
            claimSummary: string
            claimAmount?: string
            parties: {
              role: string
              kind: string
              name: string
              idType: string
              /** @description 非经办方脱敏：前 3 后 4 / masked for all but the referring court and handling organization */
              idNumber: string
              phone?: string
              address?: string
              agents?: {
                [key: string]: unknown
              }[]
            }[]
            consent: {
              [key: string]: unknown
            }[]
            designation: {
              [key: string]: unknown
            }
            materials: {
              [key: string]: unknown
            }[]
            organizationId: string
            deadlines: {
              acceptanceDueOn: string | null
              mediationDueOn: string | null
              provisional: boolean
            }
            mediator: {
              [key: string]: unknown
            } | null
            acceptedAt: string | null
            decline: {
              [key: string]: unknown
            } | null
            recall: {
              [key: string]: unknown
            } | null
            suspension: {
              [key: string]: unknown
            } | null
            extensions: {
              [key: string]: unknown
            }[]
            agreement: {
              [key: string]: unknown
            } | null
            termination: {
              [key: string]: unknown
            } | null
            materialReturn: {
              [key: string]: unknown
            } | null
            courtFiling: {
              [key: string]: unknown
            } | null
            closure: {
              [key: string]: unknown
            } | null
            performance: {
              [key: string]: unknown
            } | null
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            createdAt: string
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            updatedAt: string
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_json`, `idempotency_key_required` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 冲突 / conflict: `idempotency_key_in_use`, `illegal_transition` */
      409: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 版本号不一致 / If-Match is stale: `version_mismatch` */
      412: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求体过大 / body too large: `payload_too_large` */
      413: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不支持的内容类型 / unsupported media type: `unsupported_media_type` */
      415: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 违反业务规则 / business rule violated: `idempotency_key_reused`, `not_a_centre`, `outside_centre_region`, `not_on_roster`, `organization_inactive` */
      422: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  postV1ReferralsIdSuspension: {
    parameters: {
      query?: never
      header: {
        /** @description 幂等键（1–255 个可见 ASCII 字符），同一调用方内唯一；保存至少 24 小时。重放返回所存状态与应答体，其中个人信息按调用方重放时的权限显示（完整显示时记入访问记录）。Idempotency key, scoped to the calling client. A replay answers the stored status and body, with personal data as the caller may see it at the replay (recorded in the access log when shown in full). */
        'idempotency-key': string
        /** @description 乐观并发控制：期望的版本号，如 "3"（GET 应答的 ETag）；不一致 → 412 version_mismatch。Optimistic concurrency: the expected version (the ETag of GET); stale → 412 version_mismatch. */
        'if-match'?: string
      }
      path: {
        /** @description 资源标识 / resource id */
        id: string
      }
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "reason": "appraisal",
         *       "note": "委托房屋漏水原因鉴定"
         *     }
         */
        'application/json': {
          /** @enum {string} */
          reason: 'appraisal' | 'suspected_false_mediation' | 'other'
          note?: string
        }
      }
    }
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          /** @description 签名回执：JWS 紧凑序列化，载荷 { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }，eventHash 为该事件在案件哈希链中的哈希；用 GET /v1/service-keys 公布的密钥（按 kid）验证；幂等重放返回同一回执。Signed receipt: a JWS (compact serialization) whose payload is { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }, eventHash being the event’s hash in the case’s chain; verify it with the key of its `kid` from GET /v1/service-keys (alg EdDSA: Ed25519; alg SM2SM3: SM2 over SM3 with user id 1234567812345678, signature r‖s of 32 bytes each). A replay carries the same receipt. See docs/receipts.md. */
          Receipt?: string
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "id": "01a249a2-1873-7c68-b027-9877cc03bf12",
           *       "version": 3,
           *       "status": "suspended",
           *       "referralType": "pre_filing",
           *       "courtCode": "京0105",
           *       "caseNumber": "（2026）京0105民诉前调33934号",
           *       "disputeType": "neighbor",
           *       "causeOfAction": "相邻关系纠纷",
           *       "claimSummary": "请求被申请人停止漏水侵害并赔偿损失",
           *       "claimAmount": "12000.00",
           *       "parties": [
           *         {
           *           "role": "applicant",
           *           "kind": "natural_person",
           *           "name": "张三",
           *           "idType": "resident_id",
           *           "idNumber": "11010519491231002X",
           *           "phone": "13800138000"
           *         },
           *         {
           *           "role": "respondent",
           *           "kind": "natural_person",
           *           "name": "李四",
           *           "idType": "resident_id",
           *           "idNumber": "440524196001010014"
           *         }
           *       ],
           *       "consent": [
           *         {
           *           "method": "written",
           *           "partyIndex": 0,
           *           "consentedAt": "2026-12-03T09:00:00+08:00"
           *         },
           *         {
           *           "method": "online",
           *           "partyIndex": 1,
           *           "consentedAt": "2026-12-03T09:30:00+08:00"
           *         }
           *       ],
           *       "designation": {
           *         "mode": "court_designated",
           *         "organizationId": "bj-cy-blz"
           *       },
           *       "materials": [],
           *       "organizationId": "bj-cy-blz",
           *       "deadlines": {
           *         "provisional": true,
           *         "mediationDueOn": "2027-01-05",
           *         "acceptanceDueOn": "2026-12-09"
           *       },
           *       "mediator": {
           *         "id": "M-001",
           *         "name": "王调解"
           *       },
           *       "acceptedAt": "2026-12-06T04:34:49.664Z",
           *       "decline": null,
           *       "recall": null,
           *       "suspension": {
           *         "reason": "appraisal",
           *         "note": "委托房屋漏水原因鉴定",
           *         "suspendedOn": "2026-12-06",
           *         "suspendedAt": "2026-12-06T04:34:49.699Z"
           *       },
           *       "extensions": [],
           *       "agreement": null,
           *       "termination": null,
           *       "materialReturn": null,
           *       "courtFiling": null,
           *       "closure": null,
           *       "performance": null,
           *       "createdAt": "2026-12-06T04:34:49.586Z",
           *       "updatedAt": "2026-12-06T04:34:49.699Z"
           *     }
           */
          'application/json': {
            /** @description UUIDv7 */
            id: string
            version: number
            status: string
            referralType: string
            procedure?: string
            courtCode: string
            caseNumber: string
            disputeType: string
            causeOfAction?: string
            claimSummary: string
            claimAmount?: string
            parties: {
              role: string
              kind: string
              name: string
              idType: string
              /** @description 非经办方脱敏：前 3 后 4 / masked for all but the referring court and handling organization */
              idNumber: string
              phone?: string
              address?: string
              agents?: {
                [key: string]: unknown
              }[]
            }[]
            consent: {
              [key: string]: unknown
            }[]
            designation: {
              [key: string]: unknown
            }
            materials: {
              [key: string]: unknown
            }[]
            organizationId: string
            deadlines: {
              acceptanceDueOn: string | null
              mediationDueOn: string | null
              provisional: boolean
            }
            mediator: {
              [key: string]: unknown
            } | null
            acceptedAt: string | null
            decline: {
              [key: string]: unknown
            } | null
            recall: {
              [key: string]: unknown
            } | null
            suspension: {
              [key: string]: unknown
            } | null
            extensions: {
              [key: string]: unknown
            }[]
            agreement: {
              [key: string]: unknown
            } | null
            termination: {
              [key: string]: unknown
            } | null
            materialReturn: {
              [key: string]: unknown
            } | null
            courtFiling: {
              [key: string]: unknown
            } | null
            closure: {
              [key: string]: unknown
            } | null
            performance: {
              [key: string]: unknown
            } | null
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            createdAt: string
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            updatedAt: string
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_json`, `idempotency_key_required` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 冲突 / conflict: `idempotency_key_in_use`, `illegal_transition` */
      409: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 版本号不一致 / If-Match is stale: `version_mismatch` */
      412: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求体过大 / body too large: `payload_too_large` */
      413: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不支持的内容类型 / unsupported media type: `unsupported_media_type` */
      415: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 违反业务规则 / business rule violated: `idempotency_key_reused` */
      422: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  postV1ReferralsIdResumption: {
    parameters: {
      query?: never
      header: {
        /** @description 幂等键（1–255 个可见 ASCII 字符），同一调用方内唯一；保存至少 24 小时。重放返回所存状态与应答体，其中个人信息按调用方重放时的权限显示（完整显示时记入访问记录）。Idempotency key, scoped to the calling client. A replay answers the stored status and body, with personal data as the caller may see it at the replay (recorded in the access log when shown in full). */
        'idempotency-key': string
        /** @description 乐观并发控制：期望的版本号，如 "3"（GET 应答的 ETag）；不一致 → 412 version_mismatch。Optimistic concurrency: the expected version (the ETag of GET); stale → 412 version_mismatch. */
        'if-match'?: string
      }
      path: {
        /** @description 资源标识 / resource id */
        id: string
      }
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "note": "鉴定意见已出具"
         *     }
         */
        'application/json': {
          note?: string
        }
      }
    }
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          /** @description 签名回执：JWS 紧凑序列化，载荷 { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }，eventHash 为该事件在案件哈希链中的哈希；用 GET /v1/service-keys 公布的密钥（按 kid）验证；幂等重放返回同一回执。Signed receipt: a JWS (compact serialization) whose payload is { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }, eventHash being the event’s hash in the case’s chain; verify it with the key of its `kid` from GET /v1/service-keys (alg EdDSA: Ed25519; alg SM2SM3: SM2 over SM3 with user id 1234567812345678, signature r‖s of 32 bytes each). A replay carries the same receipt. See docs/receipts.md. */
          Receipt?: string
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "id": "01a249a2-1873-7c68-b027-9877cc03bf12",
           *       "version": 4,
           *       "status": "mediating",
           *       "referralType": "pre_filing",
           *       "courtCode": "京0105",
           *       "caseNumber": "（2026）京0105民诉前调33934号",
           *       "disputeType": "neighbor",
           *       "causeOfAction": "相邻关系纠纷",
           *       "claimSummary": "请求被申请人停止漏水侵害并赔偿损失",
           *       "claimAmount": "12000.00",
           *       "parties": [
           *         {
           *           "role": "applicant",
           *           "kind": "natural_person",
           *           "name": "张三",
           *           "idType": "resident_id",
           *           "idNumber": "11010519491231002X",
           *           "phone": "13800138000"
           *         },
           *         {
           *           "role": "respondent",
           *           "kind": "natural_person",
           *           "name": "李四",
           *           "idType": "resident_id",
           *           "idNumber": "440524196001010014"
           *         }
           *       ],
           *       "consent": [
           *         {
           *           "method": "written",
           *           "partyIndex": 0,
           *           "consentedAt": "2026-12-03T09:00:00+08:00"
           *         },
           *         {
           *           "method": "online",
           *           "partyIndex": 1,
           *           "consentedAt": "2026-12-03T09:30:00+08:00"
           *         }
           *       ],
           *       "designation": {
           *         "mode": "court_designated",
           *         "organizationId": "bj-cy-blz"
           *       },
           *       "materials": [],
           *       "organizationId": "bj-cy-blz",
           *       "deadlines": {
           *         "provisional": true,
           *         "mediationDueOn": "2027-01-05",
           *         "acceptanceDueOn": "2026-12-09"
           *       },
           *       "mediator": {
           *         "id": "M-001",
           *         "name": "王调解"
           *       },
           *       "acceptedAt": "2026-12-06T04:34:49.664Z",
           *       "decline": null,
           *       "recall": null,
           *       "suspension": null,
           *       "extensions": [],
           *       "agreement": null,
           *       "termination": null,
           *       "materialReturn": null,
           *       "courtFiling": null,
           *       "closure": null,
           *       "performance": null,
           *       "createdAt": "2026-12-06T04:34:49.586Z",
           *       "updatedAt": "2026-12-06T04:34:49.718Z"
           *     }
           */
          'application/json': {
            /** @description UUIDv7 */
            id: string
            version: number
            status: string
            referralType: string
            procedure?: string
            courtCode: string
            caseNumber: string
            disputeType: string
            causeOfAction?: string
            claimSummary: string
            claimAmount?: string
            parties: {
              role: string
              kind: string
              name: string
              idType: string
              /** @description 非经办方脱敏：前 3 后 4 / masked for all but the referring court and handling organization */
              idNumber: string
              phone?: string
              address?: string
              agents?: {
                [key: string]: unknown
              }[]
            }[]
            consent: {
              [key: string]: unknown
            }[]
            designation: {
              [key: string]: unknown
            }
            materials: {
              [key: string]: unknown
            }[]
            organizationId: string
            deadlines: {
              acceptanceDueOn: string | null
              mediationDueOn: string | null
              provisional: boolean
            }
            mediator: {
              [key: string]: unknown
            } | null
            acceptedAt: string | null
            decline: {
              [key: string]: unknown
            } | null
            recall: {
              [key: string]: unknown
            } | null
            suspension: {
              [key: string]: unknown
            } | null
            extensions: {
              [key: string]: unknown
            }[]
            agreement: {
              [key: string]: unknown
            } | null
            termination: {
              [key: string]: unknown
            } | null
            materialReturn: {
              [key: string]: unknown
            } | null
            courtFiling: {
              [key: string]: unknown
            } | null
            closure: {
              [key: string]: unknown
            } | null
            performance: {
              [key: string]: unknown
            } | null
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            createdAt: string
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            updatedAt: string
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_json`, `idempotency_key_required` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 冲突 / conflict: `idempotency_key_in_use`, `illegal_transition` */
      409: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 版本号不一致 / If-Match is stale: `version_mismatch` */
      412: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求体过大 / body too large: `payload_too_large` */
      413: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不支持的内容类型 / unsupported media type: `unsupported_media_type` */
      415: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 违反业务规则 / business rule violated: `idempotency_key_reused` */
      422: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  postV1ReferralsIdExtension: {
    parameters: {
      query?: never
      header: {
        /** @description 幂等键（1–255 个可见 ASCII 字符），同一调用方内唯一；保存至少 24 小时。重放返回所存状态与应答体，其中个人信息按调用方重放时的权限显示（完整显示时记入访问记录）。Idempotency key, scoped to the calling client. A replay answers the stored status and body, with personal data as the caller may see it at the replay (recorded in the access log when shown in full). */
        'idempotency-key': string
        /** @description 乐观并发控制：期望的版本号，如 "3"（GET 应答的 ETag）；不一致 → 412 version_mismatch。Optimistic concurrency: the expected version (the ETag of GET); stale → 412 version_mismatch. */
        'if-match'?: string
      }
      path: {
        /** @description 资源标识 / resource id */
        id: string
      }
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "newDueOn": "2027-01-15",
         *       "consent": [
         *         {
         *           "partyIndex": 0,
         *           "consentedAt": "2026-12-01T10:00:00+08:00",
         *           "method": "written"
         *         },
         *         {
         *           "partyIndex": 1,
         *           "consentedAt": "2026-12-01T10:00:00+08:00",
         *           "method": "written"
         *         }
         *       ]
         *     }
         */
        'application/json': {
          /** @description YYYY-MM-DD */
          newDueOn: string
          consent: {
            partyIndex: number
            /**
             * Format: date-time
             * @description RFC 3339，含时区；不早于 1900 年，不晚于当前时间（容许 5 分钟时钟偏差）/ RFC 3339 with offset, 1900 … now + 5 min
             */
            consentedAt: string
            /** @enum {string} */
            method: 'written' | 'oral' | 'online'
          }[]
        }
      }
    }
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          /** @description 签名回执：JWS 紧凑序列化，载荷 { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }，eventHash 为该事件在案件哈希链中的哈希；用 GET /v1/service-keys 公布的密钥（按 kid）验证；幂等重放返回同一回执。Signed receipt: a JWS (compact serialization) whose payload is { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }, eventHash being the event’s hash in the case’s chain; verify it with the key of its `kid` from GET /v1/service-keys (alg EdDSA: Ed25519; alg SM2SM3: SM2 over SM3 with user id 1234567812345678, signature r‖s of 32 bytes each). A replay carries the same receipt. See docs/receipts.md. */
          Receipt?: string
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "id": "01a249a2-1873-7c68-b027-9877cc03bf12",
           *       "version": 5,
           *       "status": "mediating",
           *       "referralType": "pre_filing",
           *       "courtCode": "京0105",
           *       "caseNumber": "（2026）京0105民诉前调33934号",
           *       "disputeType": "neighbor",
           *       "causeOfAction": "相邻关系纠纷",
           *       "claimSummary": "请求被申请人停止漏水侵害并赔偿损失",
           *       "claimAmount": "12000.00",
           *       "parties": [
           *         {
           *           "role": "applicant",
           *           "kind": "natural_person",
           *           "name": "张三",
           *           "idType": "resident_id",
           *           "idNumber": "11010519491231002X",
           *           "phone": "13800138000"
           *         },
           *         {
           *           "role": "respondent",
           *           "kind": "natural_person",
           *           "name": "李四",
           *           "idType": "resident_id",
           *           "idNumber": "440524196001010014"
           *         }
           *       ],
           *       "consent": [
           *         {
           *           "method": "written",
           *           "partyIndex": 0,
           *           "consentedAt": "2026-12-03T09:00:00+08:00"
           *         },
           *         {
           *           "method": "online",
           *           "partyIndex": 1,
           *           "consentedAt": "2026-12-03T09:30:00+08:00"
           *         }
           *       ],
           *       "designation": {
           *         "mode": "court_designated",
           *         "organizationId": "bj-cy-blz"
           *       },
           *       "materials": [],
           *       "organizationId": "bj-cy-blz",
           *       "deadlines": {
           *         "provisional": true,
           *         "mediationDueOn": "2027-01-20",
           *         "acceptanceDueOn": "2026-12-09"
           *       },
           *       "mediator": {
           *         "id": "M-001",
           *         "name": "王调解"
           *       },
           *       "acceptedAt": "2026-12-06T04:34:49.664Z",
           *       "decline": null,
           *       "recall": null,
           *       "suspension": null,
           *       "extensions": [
           *         {
           *           "previousDueOn": "2027-01-05",
           *           "newDueOn": "2027-01-20",
           *           "consent": [
           *             {
           *               "partyIndex": 0,
           *               "consentedAt": "2026-12-06T12:34:49.732+08:00",
           *               "method": "written"
           *             },
           *             {
           *               "partyIndex": 1,
           *               "consentedAt": "2026-12-06T12:34:49.732+08:00",
           *               "method": "written"
           *             }
           *           ],
           *           "extendedAt": "2026-12-06T04:34:49.741Z"
           *         }
           *       ],
           *       "agreement": null,
           *       "termination": null,
           *       "materialReturn": null,
           *       "courtFiling": null,
           *       "closure": null,
           *       "performance": null,
           *       "createdAt": "2026-12-06T04:34:49.586Z",
           *       "updatedAt": "2026-12-06T04:34:49.741Z"
           *     }
           */
          'application/json': {
            /** @description UUIDv7 */
            id: string
            version: number
            status: string
            referralType: string
            procedure?: string
            courtCode: string
            caseNumber: string
            disputeType: string
            causeOfAction?: string
            claimSummary: string
            claimAmount?: string
            parties: {
              role: string
              kind: string
              name: string
              idType: string
              /** @description 非经办方脱敏：前 3 后 4 / masked for all but the referring court and handling organization */
              idNumber: string
              phone?: string
              address?: string
              agents?: {
                [key: string]: unknown
              }[]
            }[]
            consent: {
              [key: string]: unknown
            }[]
            designation: {
              [key: string]: unknown
            }
            materials: {
              [key: string]: unknown
            }[]
            organizationId: string
            deadlines: {
              acceptanceDueOn: string | null
              mediationDueOn: string | null
              provisional: boolean
            }
            mediator: {
              [key: string]: unknown
            } | null
            acceptedAt: string | null
            decline: {
              [key: string]: unknown
            } | null
            recall: {
              [key: string]: unknown
            } | null
            suspension: {
              [key: string]: unknown
            } | null
            extensions: {
              [key: string]: unknown
            }[]
            agreement: {
              [key: string]: unknown
            } | null
            termination: {
              [key: string]: unknown
            } | null
            materialReturn: {
              [key: string]: unknown
            } | null
            courtFiling: {
              [key: string]: unknown
            } | null
            closure: {
              [key: string]: unknown
            } | null
            performance: {
              [key: string]: unknown
            } | null
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            createdAt: string
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            updatedAt: string
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_json`, `idempotency_key_required` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 冲突 / conflict: `idempotency_key_in_use`, `illegal_transition` */
      409: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 版本号不一致 / If-Match is stale: `version_mismatch` */
      412: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求体过大 / body too large: `payload_too_large` */
      413: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不支持的内容类型 / unsupported media type: `unsupported_media_type` */
      415: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 违反业务规则 / business rule violated: `idempotency_key_reused`, `consent_required`, `due_date_not_later`, `timestamp_in_future` */
      422: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  postV1ReferralsIdAgreement: {
    parameters: {
      query?: never
      header: {
        /** @description 幂等键（1–255 个可见 ASCII 字符），同一调用方内唯一；保存至少 24 小时。重放返回所存状态与应答体，其中个人信息按调用方重放时的权限显示（完整显示时记入访问记录）。Idempotency key, scoped to the calling client. A replay answers the stored status and body, with personal data as the caller may see it at the replay (recorded in the access log when shown in full). */
        'idempotency-key': string
        /** @description 乐观并发控制：期望的版本号，如 "3"（GET 应答的 ETag）；不一致 → 412 version_mismatch。Optimistic concurrency: the expected version (the ETag of GET); stale → 412 version_mismatch. */
        'if-match'?: string
      }
      path: {
        /** @description 资源标识 / resource id */
        id: string
      }
      cookie?: never
    }
    /** @description 书面、电子协议：全体当事人签署，且有调解员签名（mediatorSignedAt）和调解组织印章或电子印章（sealedAt），否则 422 signatures_incomplete；自其中最晚者生效（人民调解法 29，在线调解规则 19）。口头协议：须 reachedAt，签名可为空，自达成时生效（人民调解法 30）。effectiveAt 可省略（由服务计算）；给出而不一致 → 422 effective_at_mismatch。Written/electronic: every party, the mediator and the seal; effective at the latest. Oral: effective at reachedAt. effectiveAt is computed; a different one given → 422 effective_at_mismatch. */
    requestBody: {
      content: {
        /**
         * @example {
         *       "agreementNumber": "朝八调〔2026〕17号",
         *       "form": "written",
         *       "terms": "李四于本协议生效后三十日内赔偿张三5000元。",
         *       "amount": "5000.00",
         *       "signatures": [
         *         {
         *           "partyIndex": 0,
         *           "signedAt": "2026-12-01T10:00:00+08:00"
         *         },
         *         {
         *           "partyIndex": 1,
         *           "signedAt": "2026-12-01T10:00:00+08:00"
         *         }
         *       ],
         *       "mediatorSignedAt": "2026-12-01T10:00:00+08:00",
         *       "sealedAt": "2026-12-01T10:00:00+08:00",
         *       "effectiveAt": "2026-12-01T10:00:00+08:00",
         *       "performance": {
         *         "method": "deferred",
         *         "dueOn": "2026-12-31"
         *       }
         *     }
         */
        'application/json': {
          agreementNumber?: string
          /** @enum {string} */
          form: 'written' | 'oral' | 'electronic'
          /** @description 协议条款 / terms */
          terms: string
          /** @description 金额（元），十进制字符串，至多两位小数 / CNY decimal string */
          amount?: string
          /** @description 当事人签名；书面与电子协议须全体当事人签署，口头协议可为空 / party signatures: every party for written and electronic, may be empty for oral */
          signatures: {
            partyIndex: number
            /**
             * Format: date-time
             * @description RFC 3339，含时区；不早于 1900 年，不晚于当前时间（容许 5 分钟时钟偏差）/ RFC 3339 with offset, 1900 … now + 5 min
             */
            signedAt: string
          }[]
          /**
           * Format: date-time
           * @description RFC 3339，含时区；不早于 1900 年，不晚于当前时间（容许 5 分钟时钟偏差）/ RFC 3339 with offset, 1900 … now + 5 min
           */
          mediatorSignedAt?: string
          /**
           * Format: date-time
           * @description RFC 3339，含时区；不早于 1900 年，不晚于当前时间（容许 5 分钟时钟偏差）/ RFC 3339 with offset, 1900 … now + 5 min
           */
          sealedAt?: string
          /**
           * Format: date-time
           * @description RFC 3339，含时区；不早于 1900 年，不晚于当前时间（容许 5 分钟时钟偏差）/ RFC 3339 with offset, 1900 … now + 5 min
           */
          reachedAt?: string
          /** @description 已签署协议文件的材料标识，协议显示其 documentSha256 / the signed agreement file, a material */
          documentMaterialId?: string
          /**
           * Format: date-time
           * @description RFC 3339，含时区；不早于 1900 年，不晚于当前时间（容许 5 分钟时钟偏差）/ RFC 3339 with offset, 1900 … now + 5 min
           */
          effectiveAt?: string
          performance: {
            /** @enum {string} */
            method: 'immediate' | 'installments' | 'deferred'
            dueOn?: string
          }
        }
      }
    }
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          /** @description 签名回执：JWS 紧凑序列化，载荷 { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }，eventHash 为该事件在案件哈希链中的哈希；用 GET /v1/service-keys 公布的密钥（按 kid）验证；幂等重放返回同一回执。Signed receipt: a JWS (compact serialization) whose payload is { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }, eventHash being the event’s hash in the case’s chain; verify it with the key of its `kid` from GET /v1/service-keys (alg EdDSA: Ed25519; alg SM2SM3: SM2 over SM3 with user id 1234567812345678, signature r‖s of 32 bytes each). A replay carries the same receipt. See docs/receipts.md. */
          Receipt?: string
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "id": "01a249a2-1873-7c68-b027-9877cc03bf12",
           *       "version": 6,
           *       "status": "agreed",
           *       "referralType": "pre_filing",
           *       "courtCode": "京0105",
           *       "caseNumber": "（2026）京0105民诉前调33934号",
           *       "disputeType": "neighbor",
           *       "causeOfAction": "相邻关系纠纷",
           *       "claimSummary": "请求被申请人停止漏水侵害并赔偿损失",
           *       "claimAmount": "12000.00",
           *       "parties": [
           *         {
           *           "role": "applicant",
           *           "kind": "natural_person",
           *           "name": "张三",
           *           "idType": "resident_id",
           *           "idNumber": "11010519491231002X",
           *           "phone": "13800138000"
           *         },
           *         {
           *           "role": "respondent",
           *           "kind": "natural_person",
           *           "name": "李四",
           *           "idType": "resident_id",
           *           "idNumber": "440524196001010014"
           *         }
           *       ],
           *       "consent": [
           *         {
           *           "method": "written",
           *           "partyIndex": 0,
           *           "consentedAt": "2026-12-03T09:00:00+08:00"
           *         },
           *         {
           *           "method": "online",
           *           "partyIndex": 1,
           *           "consentedAt": "2026-12-03T09:30:00+08:00"
           *         }
           *       ],
           *       "designation": {
           *         "mode": "court_designated",
           *         "organizationId": "bj-cy-blz"
           *       },
           *       "materials": [],
           *       "organizationId": "bj-cy-blz",
           *       "deadlines": {
           *         "provisional": true,
           *         "mediationDueOn": "2027-01-20",
           *         "acceptanceDueOn": "2026-12-09"
           *       },
           *       "mediator": {
           *         "id": "M-001",
           *         "name": "王调解"
           *       },
           *       "acceptedAt": "2026-12-06T04:34:49.664Z",
           *       "decline": null,
           *       "recall": null,
           *       "suspension": null,
           *       "extensions": [
           *         {
           *           "consent": [
           *             {
           *               "method": "written",
           *               "partyIndex": 0,
           *               "consentedAt": "2026-12-06T12:34:49.732+08:00"
           *             },
           *             {
           *               "method": "written",
           *               "partyIndex": 1,
           *               "consentedAt": "2026-12-06T12:34:49.732+08:00"
           *             }
           *           ],
           *           "newDueOn": "2027-01-20",
           *           "extendedAt": "2026-12-06T04:34:49.741Z",
           *           "previousDueOn": "2027-01-05"
           *         }
           *       ],
           *       "agreement": {
           *         "agreementNumber": "朝八调〔2026〕17号",
           *         "form": "written",
           *         "terms": "李四于本协议生效后三十日内赔偿张三5000元。",
           *         "amount": "5000.00",
           *         "signatures": [
           *           {
           *             "partyIndex": 0,
           *             "signedAt": "2026-12-06T12:34:49.754+08:00"
           *           },
           *           {
           *             "partyIndex": 1,
           *             "signedAt": "2026-12-06T12:34:49.754+08:00"
           *           }
           *         ],
           *         "mediatorSignedAt": "2026-12-06T12:34:49.754+08:00",
           *         "sealedAt": "2026-12-06T12:34:49.754+08:00",
           *         "effectiveAt": "2026-12-06T04:34:49.754Z",
           *         "performance": {
           *           "method": "deferred",
           *           "dueOn": "2027-01-05"
           *         },
           *         "sha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
           *         "recordedAt": "2026-12-06T04:34:49.760Z"
           *       },
           *       "termination": null,
           *       "materialReturn": null,
           *       "courtFiling": null,
           *       "closure": null,
           *       "performance": null,
           *       "createdAt": "2026-12-06T04:34:49.586Z",
           *       "updatedAt": "2026-12-06T04:34:49.760Z"
           *     }
           */
          'application/json': {
            /** @description UUIDv7 */
            id: string
            version: number
            status: string
            referralType: string
            procedure?: string
            courtCode: string
            caseNumber: string
            disputeType: string
            causeOfAction?: string
            claimSummary: string
            claimAmount?: string
            parties: {
              role: string
              kind: string
              name: string
              idType: string
              /** @description 非经办方脱敏：前 3 后 4 / masked for all but the referring court and handling organization */
              idNumber: string
              phone?: string
              address?: string
              agents?: {
                [key: string]: unknown
              }[]
            }[]
            consent: {
              [key: string]: unknown
            }[]
            designation: {
              [key: string]: unknown
            }
            materials: {
              [key: string]: unknown
            }[]
            organizationId: string
            deadlines: {
              acceptanceDueOn: string | null
              mediationDueOn: string | null
              provisional: boolean
            }
            mediator: {
              [key: string]: unknown
            } | null
            acceptedAt: string | null
            decline: {
              [key: string]: unknown
            } | null
            recall: {
              [key: string]: unknown
            } | null
            suspension: {
              [key: string]: unknown
            } | null
            extensions: {
              [key: string]: unknown
            }[]
            agreement: {
              [key: string]: unknown
            } | null
            termination: {
              [key: string]: unknown
            } | null
            materialReturn: {
              [key: string]: unknown
            } | null
            courtFiling: {
              [key: string]: unknown
            } | null
            closure: {
              [key: string]: unknown
            } | null
            performance: {
              [key: string]: unknown
            } | null
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            createdAt: string
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            updatedAt: string
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_json`, `idempotency_key_required` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 冲突 / conflict: `idempotency_key_in_use`, `illegal_transition` */
      409: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 版本号不一致 / If-Match is stale: `version_mismatch` */
      412: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求体过大 / body too large: `payload_too_large` */
      413: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不支持的内容类型 / unsupported media type: `unsupported_media_type` */
      415: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 违反业务规则 / business rule violated: `idempotency_key_reused`, `signatures_incomplete`, `effective_at_mismatch`, `timestamp_in_future`, `timestamp_before_referral`, `unknown_material` */
      422: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  postV1ReferralsIdTermination: {
    parameters: {
      query?: never
      header: {
        /** @description 幂等键（1–255 个可见 ASCII 字符），同一调用方内唯一；保存至少 24 小时。重放返回所存状态与应答体，其中个人信息按调用方重放时的权限显示（完整显示时记入访问记录）。Idempotency key, scoped to the calling client. A replay answers the stored status and body, with personal data as the caller may see it at the replay (recorded in the access log when shown in full). */
        'idempotency-key': string
        /** @description 乐观并发控制：期望的版本号，如 "3"（GET 应答的 ETag）；不一致 → 412 version_mismatch。Optimistic concurrency: the expected version (the ETag of GET); stale → 412 version_mismatch. */
        'if-match'?: string
      }
      path: {
        /** @description 资源标识 / resource id */
        id: string
      }
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "reason": "gap_too_large",
         *       "report": "双方对赔偿数额分歧过大，调解不成。",
         *       "undisputedFacts": [
         *         {
         *           "statement": "漏水源自被申请人住宅卫生间",
         *           "confirmedBy": [
         *             0,
         *             1
         *           ]
         *         }
         *       ]
         *     }
         */
        'application/json': {
          /** @enum {string} */
          reason: 'settled_and_withdrawn' | 'party_unreachable' | 'party_refused' | 'gap_too_large' | 'refused_to_sign' | 'other'
          /** @description 调解终结报告 / termination report */
          report: string
          /** @description 无争议事实，须经全体当事人确认 / confirmed by every party */
          undisputedFacts?: {
            statement: string
            confirmedBy: number[]
          }[]
        }
      }
    }
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          /** @description 签名回执：JWS 紧凑序列化，载荷 { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }，eventHash 为该事件在案件哈希链中的哈希；用 GET /v1/service-keys 公布的密钥（按 kid）验证；幂等重放返回同一回执。Signed receipt: a JWS (compact serialization) whose payload is { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }, eventHash being the event’s hash in the case’s chain; verify it with the key of its `kid` from GET /v1/service-keys (alg EdDSA: Ed25519; alg SM2SM3: SM2 over SM3 with user id 1234567812345678, signature r‖s of 32 bytes each). A replay carries the same receipt. See docs/receipts.md. */
          Receipt?: string
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "id": "01a249a2-19e0-75b7-89ed-463b299b3ebb",
           *       "version": 3,
           *       "status": "terminated",
           *       "referralType": "pre_filing",
           *       "courtCode": "京0105",
           *       "caseNumber": "（2026）京0105民诉前调33937号",
           *       "disputeType": "neighbor",
           *       "claimSummary": "请求被申请人停止漏水侵害并赔偿损失",
           *       "claimAmount": "12000.00",
           *       "parties": [
           *         {
           *           "role": "applicant",
           *           "kind": "natural_person",
           *           "name": "张三",
           *           "idType": "resident_id",
           *           "idNumber": "110105198001010032",
           *           "phone": "13800138000",
           *           "address": "北京市朝阳区八里庄街道1号"
           *         },
           *         {
           *           "role": "respondent",
           *           "kind": "natural_person",
           *           "name": "李四",
           *           "idType": "resident_id",
           *           "idNumber": "440524198001010048"
           *         }
           *       ],
           *       "consent": [
           *         {
           *           "method": "written",
           *           "partyIndex": 0,
           *           "consentedAt": "2026-11-27T09:00:00+08:00"
           *         },
           *         {
           *           "method": "online",
           *           "partyIndex": 1,
           *           "consentedAt": "2026-11-27T09:30:00+08:00"
           *         }
           *       ],
           *       "designation": {
           *         "mode": "court_designated",
           *         "organizationId": "bj-cy-blz"
           *       },
           *       "materials": [],
           *       "organizationId": "bj-cy-blz",
           *       "deadlines": {
           *         "provisional": true,
           *         "mediationDueOn": "2027-01-05",
           *         "acceptanceDueOn": "2026-12-09"
           *       },
           *       "mediator": {
           *         "name": "王调解"
           *       },
           *       "acceptedAt": "2026-12-06T04:34:49.964Z",
           *       "decline": null,
           *       "recall": null,
           *       "suspension": null,
           *       "extensions": [],
           *       "agreement": null,
           *       "termination": {
           *         "reason": "gap_too_large",
           *         "report": "双方对赔偿数额分歧过大，调解不成。",
           *         "undisputedFacts": [
           *           {
           *             "statement": "漏水源自被申请人住宅卫生间",
           *             "confirmedBy": [
           *               0,
           *               1
           *             ]
           *           }
           *         ],
           *         "terminatedAt": "2026-12-06T04:34:49.990Z",
           *         "by": "organization"
           *       },
           *       "materialReturn": null,
           *       "courtFiling": null,
           *       "closure": null,
           *       "performance": null,
           *       "createdAt": "2026-12-06T04:34:49.952Z",
           *       "updatedAt": "2026-12-06T04:34:49.990Z"
           *     }
           */
          'application/json': {
            /** @description UUIDv7 */
            id: string
            version: number
            status: string
            referralType: string
            procedure?: string
            courtCode: string
            caseNumber: string
            disputeType: string
            causeOfAction?: string
            claimSummary: string
            claimAmount?: string
            parties: {
              role: string
              kind: string
              name: string
              idType: string
              /** @description 非经办方脱敏：前 3 后 4 / masked for all but the referring court and handling organization */
              idNumber: string
              phone?: string
              address?: string
              agents?: {
                [key: string]: unknown
              }[]
            }[]
            consent: {
              [key: string]: unknown
            }[]
            designation: {
              [key: string]: unknown
            }
            materials: {
              [key: string]: unknown
            }[]
            organizationId: string
            deadlines: {
              acceptanceDueOn: string | null
              mediationDueOn: string | null
              provisional: boolean
            }
            mediator: {
              [key: string]: unknown
            } | null
            acceptedAt: string | null
            decline: {
              [key: string]: unknown
            } | null
            recall: {
              [key: string]: unknown
            } | null
            suspension: {
              [key: string]: unknown
            } | null
            extensions: {
              [key: string]: unknown
            }[]
            agreement: {
              [key: string]: unknown
            } | null
            termination: {
              [key: string]: unknown
            } | null
            materialReturn: {
              [key: string]: unknown
            } | null
            courtFiling: {
              [key: string]: unknown
            } | null
            closure: {
              [key: string]: unknown
            } | null
            performance: {
              [key: string]: unknown
            } | null
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            createdAt: string
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            updatedAt: string
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_json`, `idempotency_key_required` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 冲突 / conflict: `idempotency_key_in_use`, `illegal_transition` */
      409: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 版本号不一致 / If-Match is stale: `version_mismatch` */
      412: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求体过大 / body too large: `payload_too_large` */
      413: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不支持的内容类型 / unsupported media type: `unsupported_media_type` */
      415: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 违反业务规则 / business rule violated: `idempotency_key_reused`, `signatures_incomplete`, `timestamp_in_future` */
      422: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  postV1ReferralsIdMaterialReturn: {
    parameters: {
      query?: never
      header: {
        /** @description 幂等键（1–255 个可见 ASCII 字符），同一调用方内唯一；保存至少 24 小时。重放返回所存状态与应答体，其中个人信息按调用方重放时的权限显示（完整显示时记入访问记录）。Idempotency key, scoped to the calling client. A replay answers the stored status and body, with personal data as the caller may see it at the replay (recorded in the access log when shown in full). */
        'idempotency-key': string
        /** @description 乐观并发控制：期望的版本号，如 "3"（GET 应答的 ETag）；不一致 → 412 version_mismatch。Optimistic concurrency: the expected version (the ETag of GET); stale → 412 version_mismatch. */
        'if-match'?: string
      }
      path: {
        /** @description 资源标识 / resource id */
        id: string
      }
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "materials": [],
         *       "report": "调解终结报告：双方分歧过大。纸质卷宗另行移送。",
         *       "returnedAt": "2026-12-01T10:00:00+08:00"
         *     }
         */
        'application/json': {
          materials: {
            materialId: string
          }[]
          /** @description 书面终结报告（必填）/ written report, required */
          report: string
          /**
           * Format: date-time
           * @description RFC 3339，含时区；不早于 1900 年，不晚于当前时间（容许 5 分钟时钟偏差）/ RFC 3339 with offset, 1900 … now + 5 min
           */
          returnedAt: string
        }
      }
    }
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          /** @description 签名回执：JWS 紧凑序列化，载荷 { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }，eventHash 为该事件在案件哈希链中的哈希；用 GET /v1/service-keys 公布的密钥（按 kid）验证；幂等重放返回同一回执。Signed receipt: a JWS (compact serialization) whose payload is { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }, eventHash being the event’s hash in the case’s chain; verify it with the key of its `kid` from GET /v1/service-keys (alg EdDSA: Ed25519; alg SM2SM3: SM2 over SM3 with user id 1234567812345678, signature r‖s of 32 bytes each). A replay carries the same receipt. See docs/receipts.md. */
          Receipt?: string
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "id": "01a249a2-19e0-75b7-89ed-463b299b3ebb",
           *       "version": 4,
           *       "status": "materials_returned",
           *       "referralType": "pre_filing",
           *       "courtCode": "京0105",
           *       "caseNumber": "（2026）京0105民诉前调33937号",
           *       "disputeType": "neighbor",
           *       "claimSummary": "请求被申请人停止漏水侵害并赔偿损失",
           *       "claimAmount": "12000.00",
           *       "parties": [
           *         {
           *           "role": "applicant",
           *           "kind": "natural_person",
           *           "name": "张三",
           *           "idType": "resident_id",
           *           "idNumber": "110105198001010032",
           *           "phone": "13800138000",
           *           "address": "北京市朝阳区八里庄街道1号"
           *         },
           *         {
           *           "role": "respondent",
           *           "kind": "natural_person",
           *           "name": "李四",
           *           "idType": "resident_id",
           *           "idNumber": "440524198001010048"
           *         }
           *       ],
           *       "consent": [
           *         {
           *           "method": "written",
           *           "partyIndex": 0,
           *           "consentedAt": "2026-11-27T09:00:00+08:00"
           *         },
           *         {
           *           "method": "online",
           *           "partyIndex": 1,
           *           "consentedAt": "2026-11-27T09:30:00+08:00"
           *         }
           *       ],
           *       "designation": {
           *         "mode": "court_designated",
           *         "organizationId": "bj-cy-blz"
           *       },
           *       "materials": [],
           *       "organizationId": "bj-cy-blz",
           *       "deadlines": {
           *         "provisional": true,
           *         "mediationDueOn": "2027-01-05",
           *         "acceptanceDueOn": "2026-12-09"
           *       },
           *       "mediator": {
           *         "name": "王调解"
           *       },
           *       "acceptedAt": "2026-12-06T04:34:49.964Z",
           *       "decline": null,
           *       "recall": null,
           *       "suspension": null,
           *       "extensions": [],
           *       "agreement": null,
           *       "termination": {
           *         "by": "organization",
           *         "reason": "gap_too_large",
           *         "report": "双方对赔偿数额分歧过大，调解不成。",
           *         "terminatedAt": "2026-12-06T04:34:49.990Z",
           *         "undisputedFacts": [
           *           {
           *             "statement": "漏水源自被申请人住宅卫生间",
           *             "confirmedBy": [
           *               0,
           *               1
           *             ]
           *           }
           *         ]
           *       },
           *       "materialReturn": {
           *         "materials": [],
           *         "report": "调解终结报告：双方分歧过大。纸质卷宗另行移送。",
           *         "returnedAt": "2026-12-06T04:34:50.020Z"
           *       },
           *       "courtFiling": null,
           *       "closure": null,
           *       "performance": null,
           *       "createdAt": "2026-12-06T04:34:49.952Z",
           *       "updatedAt": "2026-12-06T04:34:50.025Z"
           *     }
           */
          'application/json': {
            /** @description UUIDv7 */
            id: string
            version: number
            status: string
            referralType: string
            procedure?: string
            courtCode: string
            caseNumber: string
            disputeType: string
            causeOfAction?: string
            claimSummary: string
            claimAmount?: string
            parties: {
              role: string
              kind: string
              name: string
              idType: string
              /** @description 非经办方脱敏：前 3 后 4 / masked for all but the referring court and handling organization */
              idNumber: string
              phone?: string
              address?: string
              agents?: {
                [key: string]: unknown
              }[]
            }[]
            consent: {
              [key: string]: unknown
            }[]
            designation: {
              [key: string]: unknown
            }
            materials: {
              [key: string]: unknown
            }[]
            organizationId: string
            deadlines: {
              acceptanceDueOn: string | null
              mediationDueOn: string | null
              provisional: boolean
            }
            mediator: {
              [key: string]: unknown
            } | null
            acceptedAt: string | null
            decline: {
              [key: string]: unknown
            } | null
            recall: {
              [key: string]: unknown
            } | null
            suspension: {
              [key: string]: unknown
            } | null
            extensions: {
              [key: string]: unknown
            }[]
            agreement: {
              [key: string]: unknown
            } | null
            termination: {
              [key: string]: unknown
            } | null
            materialReturn: {
              [key: string]: unknown
            } | null
            courtFiling: {
              [key: string]: unknown
            } | null
            closure: {
              [key: string]: unknown
            } | null
            performance: {
              [key: string]: unknown
            } | null
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            createdAt: string
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            updatedAt: string
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_json`, `idempotency_key_required` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 冲突 / conflict: `idempotency_key_in_use`, `illegal_transition` */
      409: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 版本号不一致 / If-Match is stale: `version_mismatch` */
      412: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求体过大 / body too large: `payload_too_large` */
      413: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不支持的内容类型 / unsupported media type: `unsupported_media_type` */
      415: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 违反业务规则 / business rule violated: `idempotency_key_reused`, `unknown_material`, `timestamp_in_future` */
      422: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  postV1ReferralsIdCourtFiling: {
    parameters: {
      query?: never
      header: {
        /** @description 幂等键（1–255 个可见 ASCII 字符），同一调用方内唯一；保存至少 24 小时。重放返回所存状态与应答体，其中个人信息按调用方重放时的权限显示（完整显示时记入访问记录）。Idempotency key, scoped to the calling client. A replay answers the stored status and body, with personal data as the caller may see it at the replay (recorded in the access log when shown in full). */
        'idempotency-key': string
        /** @description 乐观并发控制：期望的版本号，如 "3"（GET 应答的 ETag）；不一致 → 412 version_mismatch。Optimistic concurrency: the expected version (the ETag of GET); stale → 412 version_mismatch. */
        'if-match'?: string
      }
      path: {
        /** @description 资源标识 / resource id */
        id: string
      }
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "action": "case_registered",
         *       "caseNumber": "（2026）京0105民初23456号",
         *       "filedOn": "2026-12-01"
         *     }
         */
        'application/json': {
          /** @enum {string} */
          action: 'case_registered' | 'trial_resumed'
          /** @description case_registered：新的 民初 案号 */
          caseNumber?: string
          filedOn?: string
          resumedOn?: string
        }
      }
    }
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          /** @description 签名回执：JWS 紧凑序列化，载荷 { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }，eventHash 为该事件在案件哈希链中的哈希；用 GET /v1/service-keys 公布的密钥（按 kid）验证；幂等重放返回同一回执。Signed receipt: a JWS (compact serialization) whose payload is { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }, eventHash being the event’s hash in the case’s chain; verify it with the key of its `kid` from GET /v1/service-keys (alg EdDSA: Ed25519; alg SM2SM3: SM2 over SM3 with user id 1234567812345678, signature r‖s of 32 bytes each). A replay carries the same receipt. See docs/receipts.md. */
          Receipt?: string
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "id": "01a249a2-197a-7833-9d6c-f2e436eeba5c",
           *       "version": 5,
           *       "status": "case_registered",
           *       "referralType": "pre_filing",
           *       "courtCode": "京0105",
           *       "caseNumber": "（2026）京0105民诉前调33935号",
           *       "disputeType": "neighbor",
           *       "claimSummary": "请求被申请人停止漏水侵害并赔偿损失",
           *       "claimAmount": "12000.00",
           *       "parties": [
           *         {
           *           "role": "applicant",
           *           "kind": "natural_person",
           *           "name": "张三",
           *           "idType": "resident_id",
           *           "idNumber": "110105198001010016",
           *           "phone": "13800138000",
           *           "address": "北京市朝阳区八里庄街道1号"
           *         },
           *         {
           *           "role": "respondent",
           *           "kind": "natural_person",
           *           "name": "李四",
           *           "idType": "resident_id",
           *           "idNumber": "440524198001010021"
           *         }
           *       ],
           *       "consent": [
           *         {
           *           "method": "written",
           *           "partyIndex": 0,
           *           "consentedAt": "2026-11-27T09:00:00+08:00"
           *         },
           *         {
           *           "method": "online",
           *           "partyIndex": 1,
           *           "consentedAt": "2026-11-27T09:30:00+08:00"
           *         }
           *       ],
           *       "designation": {
           *         "mode": "court_designated",
           *         "organizationId": "bj-cy-blz"
           *       },
           *       "materials": [],
           *       "organizationId": "bj-cy-blz",
           *       "deadlines": {
           *         "provisional": false,
           *         "mediationDueOn": null,
           *         "acceptanceDueOn": "2026-12-09"
           *       },
           *       "mediator": null,
           *       "acceptedAt": null,
           *       "decline": null,
           *       "recall": {
           *         "note": "申请人明确表示不同意调解，坚持起诉",
           *         "reason": "party_insists_on_litigation",
           *         "recalledAt": "2026-12-06T04:34:49.911Z"
           *       },
           *       "suspension": null,
           *       "extensions": [],
           *       "agreement": null,
           *       "termination": null,
           *       "materialReturn": null,
           *       "courtFiling": {
           *         "action": "case_registered",
           *         "caseNumber": "（2026）京0105民初33936号",
           *         "filedOn": "2026-12-06"
           *       },
           *       "closure": null,
           *       "performance": null,
           *       "createdAt": "2026-12-06T04:34:49.850Z",
           *       "updatedAt": "2026-12-06T04:34:49.934Z"
           *     }
           */
          'application/json': {
            /** @description UUIDv7 */
            id: string
            version: number
            status: string
            referralType: string
            procedure?: string
            courtCode: string
            caseNumber: string
            disputeType: string
            causeOfAction?: string
            claimSummary: string
            claimAmount?: string
            parties: {
              role: string
              kind: string
              name: string
              idType: string
              /** @description 非经办方脱敏：前 3 后 4 / masked for all but the referring court and handling organization */
              idNumber: string
              phone?: string
              address?: string
              agents?: {
                [key: string]: unknown
              }[]
            }[]
            consent: {
              [key: string]: unknown
            }[]
            designation: {
              [key: string]: unknown
            }
            materials: {
              [key: string]: unknown
            }[]
            organizationId: string
            deadlines: {
              acceptanceDueOn: string | null
              mediationDueOn: string | null
              provisional: boolean
            }
            mediator: {
              [key: string]: unknown
            } | null
            acceptedAt: string | null
            decline: {
              [key: string]: unknown
            } | null
            recall: {
              [key: string]: unknown
            } | null
            suspension: {
              [key: string]: unknown
            } | null
            extensions: {
              [key: string]: unknown
            }[]
            agreement: {
              [key: string]: unknown
            } | null
            termination: {
              [key: string]: unknown
            } | null
            materialReturn: {
              [key: string]: unknown
            } | null
            courtFiling: {
              [key: string]: unknown
            } | null
            closure: {
              [key: string]: unknown
            } | null
            performance: {
              [key: string]: unknown
            } | null
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            createdAt: string
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            updatedAt: string
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_json`, `idempotency_key_required` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 冲突 / conflict: `idempotency_key_in_use`, `illegal_transition` */
      409: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 版本号不一致 / If-Match is stale: `version_mismatch` */
      412: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求体过大 / body too large: `payload_too_large` */
      413: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不支持的内容类型 / unsupported media type: `unsupported_media_type` */
      415: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 违反业务规则 / business rule violated: `idempotency_key_reused` */
      422: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  postV1ReferralsIdClosure: {
    parameters: {
      query?: never
      header: {
        /** @description 幂等键（1–255 个可见 ASCII 字符），同一调用方内唯一；保存至少 24 小时。重放返回所存状态与应答体，其中个人信息按调用方重放时的权限显示（完整显示时记入访问记录）。Idempotency key, scoped to the calling client. A replay answers the stored status and body, with personal data as the caller may see it at the replay (recorded in the access log when shown in full). */
        'idempotency-key': string
        /** @description 乐观并发控制：期望的版本号，如 "3"（GET 应答的 ETag）；不一致 → 412 version_mismatch。Optimistic concurrency: the expected version (the ETag of GET); stale → 412 version_mismatch. */
        'if-match'?: string
      }
      path: {
        /** @description 资源标识 / resource id */
        id: string
      }
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "disposition": "agreement_filed"
         *     }
         */
        'application/json': {
          /** @enum {string} */
          disposition: 'agreement_filed' | 'mediation_document_issued' | 'suit_withdrawn'
          documentNumber?: string
        }
      }
    }
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          /** @description 签名回执：JWS 紧凑序列化，载荷 { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }，eventHash 为该事件在案件哈希链中的哈希；用 GET /v1/service-keys 公布的密钥（按 kid）验证；幂等重放返回同一回执。Signed receipt: a JWS (compact serialization) whose payload is { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }, eventHash being the event’s hash in the case’s chain; verify it with the key of its `kid` from GET /v1/service-keys (alg EdDSA: Ed25519; alg SM2SM3: SM2 over SM3 with user id 1234567812345678, signature r‖s of 32 bytes each). A replay carries the same receipt. See docs/receipts.md. */
          Receipt?: string
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "id": "01a249a2-1873-7c68-b027-9877cc03bf12",
           *       "version": 8,
           *       "status": "closed",
           *       "referralType": "pre_filing",
           *       "courtCode": "京0105",
           *       "caseNumber": "（2026）京0105民诉前调33934号",
           *       "disputeType": "neighbor",
           *       "causeOfAction": "相邻关系纠纷",
           *       "claimSummary": "请求被申请人停止漏水侵害并赔偿损失",
           *       "claimAmount": "12000.00",
           *       "parties": [
           *         {
           *           "role": "applicant",
           *           "kind": "natural_person",
           *           "name": "张三",
           *           "idType": "resident_id",
           *           "idNumber": "11010519491231002X",
           *           "phone": "13800138000"
           *         },
           *         {
           *           "role": "respondent",
           *           "kind": "natural_person",
           *           "name": "李四",
           *           "idType": "resident_id",
           *           "idNumber": "440524196001010014"
           *         }
           *       ],
           *       "consent": [
           *         {
           *           "method": "written",
           *           "partyIndex": 0,
           *           "consentedAt": "2026-12-03T09:00:00+08:00"
           *         },
           *         {
           *           "method": "online",
           *           "partyIndex": 1,
           *           "consentedAt": "2026-12-03T09:30:00+08:00"
           *         }
           *       ],
           *       "designation": {
           *         "mode": "court_designated",
           *         "organizationId": "bj-cy-blz"
           *       },
           *       "materials": [],
           *       "organizationId": "bj-cy-blz",
           *       "deadlines": {
           *         "provisional": true,
           *         "mediationDueOn": "2027-01-20",
           *         "acceptanceDueOn": "2026-12-09"
           *       },
           *       "mediator": {
           *         "id": "M-001",
           *         "name": "王调解"
           *       },
           *       "acceptedAt": "2026-12-06T04:34:49.664Z",
           *       "decline": null,
           *       "recall": null,
           *       "suspension": null,
           *       "extensions": [
           *         {
           *           "consent": [
           *             {
           *               "method": "written",
           *               "partyIndex": 0,
           *               "consentedAt": "2026-12-06T12:34:49.732+08:00"
           *             },
           *             {
           *               "method": "written",
           *               "partyIndex": 1,
           *               "consentedAt": "2026-12-06T12:34:49.732+08:00"
           *             }
           *           ],
           *           "newDueOn": "2027-01-20",
           *           "extendedAt": "2026-12-06T04:34:49.741Z",
           *           "previousDueOn": "2027-01-05"
           *         }
           *       ],
           *       "agreement": {
           *         "form": "written",
           *         "terms": "李四于本协议生效后三十日内赔偿张三5000元。",
           *         "amount": "5000.00",
           *         "sha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
           *         "sealedAt": "2026-12-06T12:34:49.754+08:00",
           *         "recordedAt": "2026-12-06T04:34:49.760Z",
           *         "signatures": [
           *           {
           *             "signedAt": "2026-12-06T12:34:49.754+08:00",
           *             "partyIndex": 0
           *           },
           *           {
           *             "signedAt": "2026-12-06T12:34:49.754+08:00",
           *             "partyIndex": 1
           *           }
           *         ],
           *         "effectiveAt": "2026-12-06T04:34:49.754Z",
           *         "performance": {
           *           "dueOn": "2027-01-05",
           *           "method": "deferred"
           *         },
           *         "agreementNumber": "朝八调〔2026〕17号",
           *         "mediatorSignedAt": "2026-12-06T12:34:49.754+08:00"
           *       },
           *       "termination": null,
           *       "materialReturn": null,
           *       "courtFiling": null,
           *       "closure": {
           *         "disposition": "agreement_filed",
           *         "closedAt": "2026-12-06T04:34:49.806Z"
           *       },
           *       "performance": {
           *         "note": "回访确认已全额履行",
           *         "status": "performed",
           *         "reportedAt": "2026-12-06T04:34:49.788Z",
           *         "reportedOn": "2026-12-06"
           *       },
           *       "createdAt": "2026-12-06T04:34:49.586Z",
           *       "updatedAt": "2026-12-06T04:34:49.806Z"
           *     }
           */
          'application/json': {
            /** @description UUIDv7 */
            id: string
            version: number
            status: string
            referralType: string
            procedure?: string
            courtCode: string
            caseNumber: string
            disputeType: string
            causeOfAction?: string
            claimSummary: string
            claimAmount?: string
            parties: {
              role: string
              kind: string
              name: string
              idType: string
              /** @description 非经办方脱敏：前 3 后 4 / masked for all but the referring court and handling organization */
              idNumber: string
              phone?: string
              address?: string
              agents?: {
                [key: string]: unknown
              }[]
            }[]
            consent: {
              [key: string]: unknown
            }[]
            designation: {
              [key: string]: unknown
            }
            materials: {
              [key: string]: unknown
            }[]
            organizationId: string
            deadlines: {
              acceptanceDueOn: string | null
              mediationDueOn: string | null
              provisional: boolean
            }
            mediator: {
              [key: string]: unknown
            } | null
            acceptedAt: string | null
            decline: {
              [key: string]: unknown
            } | null
            recall: {
              [key: string]: unknown
            } | null
            suspension: {
              [key: string]: unknown
            } | null
            extensions: {
              [key: string]: unknown
            }[]
            agreement: {
              [key: string]: unknown
            } | null
            termination: {
              [key: string]: unknown
            } | null
            materialReturn: {
              [key: string]: unknown
            } | null
            courtFiling: {
              [key: string]: unknown
            } | null
            closure: {
              [key: string]: unknown
            } | null
            performance: {
              [key: string]: unknown
            } | null
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            createdAt: string
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            updatedAt: string
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_json`, `idempotency_key_required` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 冲突 / conflict: `idempotency_key_in_use`, `illegal_transition` */
      409: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 版本号不一致 / If-Match is stale: `version_mismatch` */
      412: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求体过大 / body too large: `payload_too_large` */
      413: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不支持的内容类型 / unsupported media type: `unsupported_media_type` */
      415: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 违反业务规则 / business rule violated: `idempotency_key_reused` */
      422: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  postV1ReferralsIdPerformance: {
    parameters: {
      query?: never
      header: {
        /** @description 幂等键（1–255 个可见 ASCII 字符），同一调用方内唯一；保存至少 24 小时。重放返回所存状态与应答体，其中个人信息按调用方重放时的权限显示（完整显示时记入访问记录）。Idempotency key, scoped to the calling client. A replay answers the stored status and body, with personal data as the caller may see it at the replay (recorded in the access log when shown in full). */
        'idempotency-key': string
        /** @description 乐观并发控制：期望的版本号，如 "3"（GET 应答的 ETag）；不一致 → 412 version_mismatch。Optimistic concurrency: the expected version (the ETag of GET); stale → 412 version_mismatch. */
        'if-match'?: string
      }
      path: {
        /** @description 资源标识 / resource id */
        id: string
      }
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "status": "performed",
         *       "reportedOn": "2026-12-01",
         *       "note": "回访确认已全额履行"
         *     }
         */
        'application/json': {
          /** @enum {string} */
          status: 'performed' | 'partially_performed' | 'not_performed'
          reportedOn: string
          note?: string
        }
      }
    }
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          /** @description 签名回执：JWS 紧凑序列化，载荷 { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }，eventHash 为该事件在案件哈希链中的哈希；用 GET /v1/service-keys 公布的密钥（按 kid）验证；幂等重放返回同一回执。Signed receipt: a JWS (compact serialization) whose payload is { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }, eventHash being the event’s hash in the case’s chain; verify it with the key of its `kid` from GET /v1/service-keys (alg EdDSA: Ed25519; alg SM2SM3: SM2 over SM3 with user id 1234567812345678, signature r‖s of 32 bytes each). A replay carries the same receipt. See docs/receipts.md. */
          Receipt?: string
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "id": "01a249a2-1873-7c68-b027-9877cc03bf12",
           *       "version": 7,
           *       "status": "agreed",
           *       "referralType": "pre_filing",
           *       "courtCode": "京0105",
           *       "caseNumber": "（2026）京0105民诉前调33934号",
           *       "disputeType": "neighbor",
           *       "causeOfAction": "相邻关系纠纷",
           *       "claimSummary": "请求被申请人停止漏水侵害并赔偿损失",
           *       "claimAmount": "12000.00",
           *       "parties": [
           *         {
           *           "role": "applicant",
           *           "kind": "natural_person",
           *           "name": "张三",
           *           "idType": "resident_id",
           *           "idNumber": "11010519491231002X",
           *           "phone": "13800138000"
           *         },
           *         {
           *           "role": "respondent",
           *           "kind": "natural_person",
           *           "name": "李四",
           *           "idType": "resident_id",
           *           "idNumber": "440524196001010014"
           *         }
           *       ],
           *       "consent": [
           *         {
           *           "method": "written",
           *           "partyIndex": 0,
           *           "consentedAt": "2026-12-03T09:00:00+08:00"
           *         },
           *         {
           *           "method": "online",
           *           "partyIndex": 1,
           *           "consentedAt": "2026-12-03T09:30:00+08:00"
           *         }
           *       ],
           *       "designation": {
           *         "mode": "court_designated",
           *         "organizationId": "bj-cy-blz"
           *       },
           *       "materials": [],
           *       "organizationId": "bj-cy-blz",
           *       "deadlines": {
           *         "provisional": true,
           *         "mediationDueOn": "2027-01-20",
           *         "acceptanceDueOn": "2026-12-09"
           *       },
           *       "mediator": {
           *         "id": "M-001",
           *         "name": "王调解"
           *       },
           *       "acceptedAt": "2026-12-06T04:34:49.664Z",
           *       "decline": null,
           *       "recall": null,
           *       "suspension": null,
           *       "extensions": [
           *         {
           *           "consent": [
           *             {
           *               "method": "written",
           *               "partyIndex": 0,
           *               "consentedAt": "2026-12-06T12:34:49.732+08:00"
           *             },
           *             {
           *               "method": "written",
           *               "partyIndex": 1,
           *               "consentedAt": "2026-12-06T12:34:49.732+08:00"
           *             }
           *           ],
           *           "newDueOn": "2027-01-20",
           *           "extendedAt": "2026-12-06T04:34:49.741Z",
           *           "previousDueOn": "2027-01-05"
           *         }
           *       ],
           *       "agreement": {
           *         "form": "written",
           *         "terms": "李四于本协议生效后三十日内赔偿张三5000元。",
           *         "amount": "5000.00",
           *         "sha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
           *         "sealedAt": "2026-12-06T12:34:49.754+08:00",
           *         "recordedAt": "2026-12-06T04:34:49.760Z",
           *         "signatures": [
           *           {
           *             "signedAt": "2026-12-06T12:34:49.754+08:00",
           *             "partyIndex": 0
           *           },
           *           {
           *             "signedAt": "2026-12-06T12:34:49.754+08:00",
           *             "partyIndex": 1
           *           }
           *         ],
           *         "effectiveAt": "2026-12-06T04:34:49.754Z",
           *         "performance": {
           *           "dueOn": "2027-01-05",
           *           "method": "deferred"
           *         },
           *         "agreementNumber": "朝八调〔2026〕17号",
           *         "mediatorSignedAt": "2026-12-06T12:34:49.754+08:00"
           *       },
           *       "termination": null,
           *       "materialReturn": null,
           *       "courtFiling": null,
           *       "closure": null,
           *       "performance": {
           *         "status": "performed",
           *         "reportedOn": "2026-12-06",
           *         "note": "回访确认已全额履行",
           *         "reportedAt": "2026-12-06T04:34:49.788Z"
           *       },
           *       "createdAt": "2026-12-06T04:34:49.586Z",
           *       "updatedAt": "2026-12-06T04:34:49.788Z"
           *     }
           */
          'application/json': {
            /** @description UUIDv7 */
            id: string
            version: number
            status: string
            referralType: string
            procedure?: string
            courtCode: string
            caseNumber: string
            disputeType: string
            causeOfAction?: string
            claimSummary: string
            claimAmount?: string
            parties: {
              role: string
              kind: string
              name: string
              idType: string
              /** @description 非经办方脱敏：前 3 后 4 / masked for all but the referring court and handling organization */
              idNumber: string
              phone?: string
              address?: string
              agents?: {
                [key: string]: unknown
              }[]
            }[]
            consent: {
              [key: string]: unknown
            }[]
            designation: {
              [key: string]: unknown
            }
            materials: {
              [key: string]: unknown
            }[]
            organizationId: string
            deadlines: {
              acceptanceDueOn: string | null
              mediationDueOn: string | null
              provisional: boolean
            }
            mediator: {
              [key: string]: unknown
            } | null
            acceptedAt: string | null
            decline: {
              [key: string]: unknown
            } | null
            recall: {
              [key: string]: unknown
            } | null
            suspension: {
              [key: string]: unknown
            } | null
            extensions: {
              [key: string]: unknown
            }[]
            agreement: {
              [key: string]: unknown
            } | null
            termination: {
              [key: string]: unknown
            } | null
            materialReturn: {
              [key: string]: unknown
            } | null
            courtFiling: {
              [key: string]: unknown
            } | null
            closure: {
              [key: string]: unknown
            } | null
            performance: {
              [key: string]: unknown
            } | null
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            createdAt: string
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            updatedAt: string
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_json`, `idempotency_key_required` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 冲突 / conflict: `idempotency_key_in_use`, `illegal_transition` */
      409: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 版本号不一致 / If-Match is stale: `version_mismatch` */
      412: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求体过大 / body too large: `payload_too_large` */
      413: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不支持的内容类型 / unsupported media type: `unsupported_media_type` */
      415: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 违反业务规则 / business rule violated: `idempotency_key_reused` */
      422: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  getV1ReferralsIdIntegrity: {
    parameters: {
      query?: never
      header?: never
      path: {
        /** @description 资源标识 / resource id */
        id: string
      }
      cookie?: never
    }
    requestBody?: never
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "valid": true,
           *       "length": 8,
           *       "head": "5146eb22aacda673b889bd121bcaef480b8bdda3512c0e657c8551bda2bbc31c"
           *     }
           */
          'application/json': {
            valid: boolean
            /** @description 链上事件数 / events in the chain */
            length?: number
            /** @description 链头哈希 / hash of the last event */
            head?: string
            /** @description 首个校验失败的序号 / first sequence that fails */
            brokenAtSequence?: number
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  getV1JudicialConfirmationsIdIntegrity: {
    parameters: {
      query?: never
      header?: never
      path: {
        /** @description 资源标识 / resource id */
        id: string
      }
      cookie?: never
    }
    requestBody?: never
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "valid": true,
           *       "length": 8,
           *       "head": "e44955ef561c01b07339214ecf24ea44e697703f2d31adf42787712b6856d9c0"
           *     }
           */
          'application/json': {
            valid: boolean
            /** @description 链上事件数 / events in the chain */
            length?: number
            /** @description 链头哈希 / hash of the last event */
            head?: string
            /** @description 首个校验失败的序号 / first sequence that fails */
            brokenAtSequence?: number
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  getV1AccessLog: {
    parameters: {
      query?: {
        subjectId?: string
        clientId?: string
        /** @description RFC 3339 with offset */
        since?: string
        /** @description RFC 3339 with offset */
        until?: string
        /** @description 每页条数 1–200 / page size */
        limit?: number
        /** @description 不透明游标 / opaque cursor from nextCursor */
        cursor?: string
      }
      header?: never
      path?: never
      cookie?: never
    }
    requestBody?: never
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "items": [
           *         {
           *           "at": "2026-12-06T04:34:49.584Z",
           *           "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d",
           *           "subjectId": "01a249a2-1873-7c68-b027-9877cc03bf12",
           *           "fields": [
           *             "idNumber",
           *             "phone"
           *           ],
           *           "requestId": "a2220580-1b4a-4edd-86da-60037815715f"
           *         },
           *         {
           *           "at": "2026-12-06T04:34:49.670Z",
           *           "clientId": "01a249a2-1788-7338-836c-f1a07c0b9973",
           *           "subjectId": "01a249a2-1873-7c68-b027-9877cc03bf12",
           *           "fields": [
           *             "idNumber",
           *             "phone"
           *           ],
           *           "requestId": "3bcff51e-0d04-4110-9519-5b4ffc4fb4cd"
           *         },
           *         {
           *           "at": "2026-12-06T04:34:49.702Z",
           *           "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d",
           *           "subjectId": "01a249a2-1873-7c68-b027-9877cc03bf12",
           *           "fields": [
           *             "idNumber",
           *             "phone"
           *           ],
           *           "requestId": "6f315913-8cc9-4b42-85a1-5f7f41901f83"
           *         }
           *       ],
           *       "nextCursor": null
           *     }
           */
          'application/json': {
            items: {
              /**
               * Format: date-time
               * @description RFC 3339 with offset
               */
              at: string
              clientId: string
              subjectId: string
              fields: string[]
              requestId: string
            }[]
            nextCursor: string | null
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_cursor` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  getV1JudicialConfirmations: {
    parameters: {
      query?: {
        /** @description applied 已申请 / under_review 审查中 / materials_requested 责令补充材料（民诉法解释 354）/ not_accepted 不予受理 / withdrawn 撤回 / deemed_withdrawn 按撤回申请处理（民诉法解释 357）/ ruled_valid 裁定有效 / ruled_rejected 驳回申请 / objection_filed 已提出异议（民诉法解释 372）/ ruling_revoked 裁定已撤销 */
        status?:
          | 'applied'
          | 'under_review'
          | 'materials_requested'
          | 'not_accepted'
          | 'withdrawn'
          | 'deemed_withdrawn'
          | 'ruled_valid'
          | 'ruled_rejected'
          | 'objection_filed'
          | 'ruling_revoked'
        courtCode?: string
        organizationId?: string
        referralId?: string
        /** @description 司法确认案号，精确匹配 / exact 案号 */
        caseNumber?: string
        overdue?: boolean
        /** @description 每页条数 1–200 / page size */
        limit?: number
        /** @description 不透明游标 / opaque cursor from nextCursor */
        cursor?: string
      }
      header?: never
      path?: never
      cookie?: never
    }
    requestBody?: never
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "items": [
           *         {
           *           "id": "01a249a2-1a8b-70f3-a7e4-6bb4bc85f4a8",
           *           "version": 1,
           *           "status": "applied",
           *           "late": false,
           *           "lateReason": null,
           *           "applicationDueOn": "2027-01-05",
           *           "reviewDueOn": null,
           *           "reviewTargetOn": null,
           *           "reviewExtensions": [],
           *           "overdue": false,
           *           "requestedMaterials": null,
           *           "materialRequests": [],
           *           "deemedWithdrawal": null,
           *           "objectionDueOn": null,
           *           "objections": [],
           *           "provisional": true,
           *           "referralId": "01a249a2-1873-7c68-b027-9877cc03bf12",
           *           "courtCode": "京0105",
           *           "organizationId": "bj-cy-blz",
           *           "subject": "ordinary",
           *           "applicants": [
           *             0,
           *             1
           *           ],
           *           "appliedAt": "2026-12-06T04:34:50.103Z",
           *           "agreement": {
           *             "form": "written",
           *             "terms": "李四于本协议生效后三十日内赔偿张三5000元。",
           *             "amount": "5000.00",
           *             "sha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
           *             "sealedAt": "2026-12-06T12:34:49.754+08:00",
           *             "recordedAt": "2026-12-06T04:34:49.760Z",
           *             "signatures": [
           *               {
           *                 "signedAt": "2026-12-06T12:34:49.754+08:00",
           *                 "partyIndex": 0
           *               },
           *               {
           *                 "signedAt": "2026-12-06T12:34:49.754+08:00",
           *                 "partyIndex": 1
           *               }
           *             ],
           *             "effectiveAt": "2026-12-06T04:34:49.754Z",
           *             "performance": {
           *               "dueOn": "2027-01-05",
           *               "method": "deferred"
           *             },
           *             "agreementNumber": "朝八调〔2026〕17号",
           *             "mediatorSignedAt": "2026-12-06T12:34:49.754+08:00"
           *           },
           *           "agreementSha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
           *           "parties": [
           *             {
           *               "role": "applicant",
           *               "kind": "natural_person",
           *               "name": "张三",
           *               "idType": "resident_id",
           *               "idNumber": "11010519491231002X",
           *               "phone": "13800138000"
           *             },
           *             {
           *               "role": "respondent",
           *               "kind": "natural_person",
           *               "name": "李四",
           *               "idType": "resident_id",
           *               "idNumber": "440524196001010014"
           *             }
           *           ],
           *           "materials": [],
           *           "venue": null,
           *           "caseNumber": null,
           *           "acceptance": null,
           *           "notAccepted": null,
           *           "withdrawal": null,
           *           "ruling": null,
           *           "createdAt": "2026-12-06T04:34:50.116Z",
           *           "updatedAt": "2026-12-06T04:34:50.116Z"
           *         }
           *       ],
           *       "nextCursor": null
           *     }
           */
          'application/json': {
            items: {
              /** @description UUIDv7 */
              id: string
              version: number
              /**
               * @description applied 已申请 / under_review 审查中 / materials_requested 责令补充材料（民诉法解释 354）/ not_accepted 不予受理 / withdrawn 撤回 / deemed_withdrawn 按撤回申请处理（民诉法解释 357）/ ruled_valid 裁定有效 / ruled_rejected 驳回申请 / objection_filed 已提出异议（民诉法解释 372）/ ruling_revoked 裁定已撤销
               * @enum {string}
               */
              status:
                | 'applied'
                | 'under_review'
                | 'materials_requested'
                | 'not_accepted'
                | 'withdrawn'
                | 'deemed_withdrawn'
                | 'ruled_valid'
                | 'ruled_rejected'
                | 'objection_filed'
                | 'ruling_revoked'
              /** @description 逾期申请（附理由），由法院决定 / applied after the deadline with a reason */
              late: boolean
              lateReason: string | null
              /**
               * Format: date
               * @description YYYY-MM-DD (Asia/Shanghai)
               */
              applicationDueOn: string
              reviewDueOn: string | null
              reviewTargetOn: string | null
              /** @description 审查期限的延长（民事诉讼法 187）/ extensions of the review period */
              reviewExtensions: {
                [key: string]: unknown
              }[]
              /** @description 审查中且已过 reviewDueOn / under review past reviewDueOn */
              overdue: boolean
              requestedMaterials: {
                items: string[]
                /**
                 * Format: date
                 * @description YYYY-MM-DD (Asia/Shanghai)
                 */
                dueOn: string
              } | null
              /** @description 历次责令补充材料及补充情况 / every order to supply materials and what was supplied */
              materialRequests: {
                [key: string]: unknown
              }[]
              deemedWithdrawal: {
                [key: string]: unknown
              } | null
              objectionDueOn: string | null
              /** @description 对裁定提出的异议及其处理（民诉法解释 372）/ objections and the rulings on them */
              objections: {
                [key: string]: unknown
              }[]
              /** @description 期限所依据的年度放假安排尚未公布 / a date depends on an unpublished year */
              provisional: boolean
              referralId: string | null
              courtCode: string
              organizationId: string
              subject: string
              applicants: number[]
              /**
               * Format: date-time
               * @description RFC 3339 with offset
               */
              appliedAt: string
              agreement: {
                [key: string]: unknown
              }
              /** @description 调解协议条款的 SHA-256 / SHA-256 of the agreement terms */
              agreementSha256: string
              parties: {
                role: string
                kind: string
                name: string
                idType: string
                /** @description 非经办方脱敏：前 3 后 4 / masked for all but the court concerned and the handling organization */
                idNumber: string
                phone?: string
                address?: string
                agents?: {
                  [key: string]: unknown
                }[]
              }[]
              materials: {
                [key: string]: unknown
              }[]
              venue: {
                [key: string]: unknown
              } | null
              caseNumber: string | null
              acceptance: {
                [key: string]: unknown
              } | null
              notAccepted: {
                [key: string]: unknown
              } | null
              withdrawal: {
                [key: string]: unknown
              } | null
              ruling: {
                [key: string]: unknown
              } | null
              /**
               * Format: date-time
               * @description RFC 3339 with offset
               */
              createdAt: string
              /**
               * Format: date-time
               * @description RFC 3339 with offset
               */
              updatedAt: string
            }[]
            nextCursor: string | null
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_cursor` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  postV1JudicialConfirmations: {
    parameters: {
      query?: never
      header: {
        /** @description 幂等键（1–255 个可见 ASCII 字符），同一调用方内唯一；保存至少 24 小时。重放返回所存状态与应答体，其中个人信息按调用方重放时的权限显示（完整显示时记入访问记录）。Idempotency key, scoped to the calling client. A replay answers the stored status and body, with personal data as the caller may see it at the replay (recorded in the access log when shown in full). */
        'idempotency-key': string
      }
      path?: never
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "referralId": "0193a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b",
         *       "courtCode": "京0105",
         *       "agreementSha256": "3b0c0e9f1f0d1a6c2b7f5e3c1d9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a",
         *       "applicants": [
         *         0,
         *         1
         *       ],
         *       "appliedAt": "2026-12-01T10:00:00+08:00",
         *       "materials": []
         *     }
         */
        'application/json': {
          /** @description 委派案件标识；不填为自行调解的独立申请 / the referral; absent for a standalone application */
          referralId?: string
          /** @description 受理法院代字 / the court applied to */
          courtCode: string
          /**
           * @description 书面、电子协议：全体当事人签署，且有调解员签名（mediatorSignedAt）和调解组织印章或电子印章（sealedAt），否则 422 signatures_incomplete；自其中最晚者生效（人民调解法 29，在线调解规则 19）。口头协议：须 reachedAt，签名可为空，自达成时生效（人民调解法 30）。effectiveAt 可省略（由服务计算）；给出而不一致 → 422 effective_at_mismatch。Written/electronic: every party, the mediator and the seal; effective at the latest. Oral: effective at reachedAt. effectiveAt is computed; a different one given → 422 effective_at_mismatch.
           * @example {
           *       "agreementNumber": "朝八调〔2026〕17号",
           *       "form": "written",
           *       "terms": "李四于2026年12月31日前赔偿张三5000元。",
           *       "amount": "5000.00",
           *       "signatures": [
           *         {
           *           "partyIndex": 0,
           *           "signedAt": "2026-12-10T15:00:00+08:00"
           *         },
           *         {
           *           "partyIndex": 1,
           *           "signedAt": "2026-12-10T15:05:00+08:00"
           *         }
           *       ],
           *       "mediatorSignedAt": "2026-12-10T15:10:00+08:00",
           *       "sealedAt": "2026-12-10T15:20:00+08:00",
           *       "effectiveAt": "2026-12-10T15:20:00+08:00",
           *       "performance": {
           *         "method": "deferred",
           *         "dueOn": "2026-12-31"
           *       }
           *     }
           */
          agreement?: {
            agreementNumber?: string
            /** @enum {string} */
            form: 'written' | 'oral' | 'electronic'
            /** @description 协议条款 / terms */
            terms: string
            /** @description 金额（元），十进制字符串，至多两位小数 / CNY decimal string */
            amount?: string
            /** @description 当事人签名；书面与电子协议须全体当事人签署，口头协议可为空 / party signatures: every party for written and electronic, may be empty for oral */
            signatures: {
              partyIndex: number
              /**
               * Format: date-time
               * @description RFC 3339，含时区；不早于 1900 年，不晚于当前时间（容许 5 分钟时钟偏差）/ RFC 3339 with offset, 1900 … now + 5 min
               */
              signedAt: string
            }[]
            /**
             * Format: date-time
             * @description RFC 3339，含时区；不早于 1900 年，不晚于当前时间（容许 5 分钟时钟偏差）/ RFC 3339 with offset, 1900 … now + 5 min
             */
            mediatorSignedAt?: string
            /**
             * Format: date-time
             * @description RFC 3339，含时区；不早于 1900 年，不晚于当前时间（容许 5 分钟时钟偏差）/ RFC 3339 with offset, 1900 … now + 5 min
             */
            sealedAt?: string
            /**
             * Format: date-time
             * @description RFC 3339，含时区；不早于 1900 年，不晚于当前时间（容许 5 分钟时钟偏差）/ RFC 3339 with offset, 1900 … now + 5 min
             */
            reachedAt?: string
            /** @description 已签署协议文件的材料标识，协议显示其 documentSha256 / the signed agreement file, a material */
            documentMaterialId?: string
            /**
             * Format: date-time
             * @description RFC 3339，含时区；不早于 1900 年，不晚于当前时间（容许 5 分钟时钟偏差）/ RFC 3339 with offset, 1900 … now + 5 min
             */
            effectiveAt?: string
            performance: {
              /** @enum {string} */
              method: 'immediate' | 'installments' | 'deferred'
              dueOn?: string
            }
          }
          /** @description 调解协议条款的 SHA-256（小写十六进制）；关联委派时必填 / SHA-256 of the terms, required for a referral-linked application */
          agreementSha256?: string
          /** @description 申请人（当事人序号），须为协议全体当事人 / every party of the agreement */
          applicants: number[]
          /**
           * Format: date-time
           * @description RFC 3339，含时区；不早于 1900 年，不晚于当前时间（容许 5 分钟时钟偏差）/ RFC 3339 with offset, 1900 … now + 5 min
           */
          appliedAt: string
          /** @description 材料引用，可为空（民诉法解释 354 材料由法院责令补正）/ may be empty */
          materials?: {
            materialId: string
          }[]
          /**
           * @description 默认 ordinary；身份关系、物权或知识产权确权不予受理（民诉法解释 355）
           * @enum {string}
           */
          subject?: 'ordinary' | 'personal_status' | 'property_title' | 'ip_title'
          /** @description 逾期申请的理由，由法院决定是否受理 / reason for applying late; the court decides */
          lateReason?: string
          /** @description 仅独立申请：当事人（同委派）/ standalone only */
          parties?: {
            /** @enum {string} */
            role: 'applicant' | 'respondent' | 'third_party'
            /** @enum {string} */
            kind: 'natural_person' | 'legal_person' | 'other_org'
            /** @description 姓名或名称（按 Unicode 码点计长，须含可见字符）/ name, code points, at least one visible */
            name: string
            /** @enum {string} */
            idType: 'resident_id' | 'uscc' | 'passport' | 'hk_macao_permit' | 'taiwan_permit' | 'foreign_permanent_id'
            /** @description 证件号码；居民身份证与统一社会信用代码校验校验位 / checksum-validated for resident_id and uscc */
            idNumber: string
            /** @description 电话：可选 +，以数字开头，其后 5–19 个数字、空格或连字符 / phone: optional +, a digit, then 5–19 digits, spaces or hyphens */
            phone?: string
            address?: string
            /** @description 代理人至多 2 人（民诉法 61）/ at most 2 agents */
            agents?: {
              /** @description 姓名或名称（按 Unicode 码点计长，须含可见字符）/ name, code points, at least one visible */
              name: string
              /** @enum {string} */
              kind?: 'lawyer' | 'legal_worker' | 'relative' | 'employee' | 'other'
              /** @enum {string} */
              idType?: 'resident_id' | 'uscc' | 'passport' | 'hk_macao_permit' | 'taiwan_permit' | 'foreign_permanent_id'
              /** @description 须同时给出 idType，按其校验 / requires idType, checked by it */
              idNumber?: string
              /** @description 电话：可选 +，以数字开头，其后 5–19 个数字、空格或连字符 / phone: optional +, a digit, then 5–19 digits, spaces or hyphens */
              phone?: string
              /** @description 执业证号 / licence number */
              licenseNumber?: string
            }[]
          }[]
          /** @description 调解组织标识 / organization id */
          organizationId?: string
          venue?: {
            /**
             * @description 管辖依据（民事诉讼法 205(2)）/ jurisdiction basis
             * @enum {string}
             */
            basis: 'organization_seat' | 'party_domicile' | 'subject_matter'
            /** @description party_domicile / subject_matter 时必填 / required unless organization_seat */
            regionCode?: string
            /** @description 属于中级人民法院管辖的纠纷（民事诉讼法 205(2) 末句）：向该地所在省份的中级人民法院（法院代字 + 2 位数字）申请 / the dispute belongs to an intermediate court: an intermediate court of the same province */
            intermediate?: boolean
          }
        }
      }
    }
    responses: {
      /** @description Default Response */
      201: {
        headers: {
          /** @description 签名回执：JWS 紧凑序列化，载荷 { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }，eventHash 为该事件在案件哈希链中的哈希；用 GET /v1/service-keys 公布的密钥（按 kid）验证；幂等重放返回同一回执。Signed receipt: a JWS (compact serialization) whose payload is { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }, eventHash being the event’s hash in the case’s chain; verify it with the key of its `kid` from GET /v1/service-keys (alg EdDSA: Ed25519; alg SM2SM3: SM2 over SM3 with user id 1234567812345678, signature r‖s of 32 bytes each). A replay carries the same receipt. See docs/receipts.md. */
          Receipt?: string
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "id": "01a249a2-1a8b-70f3-a7e4-6bb4bc85f4a8",
           *       "version": 1,
           *       "status": "applied",
           *       "late": false,
           *       "lateReason": null,
           *       "applicationDueOn": "2027-01-05",
           *       "reviewDueOn": null,
           *       "reviewTargetOn": null,
           *       "reviewExtensions": [],
           *       "overdue": false,
           *       "requestedMaterials": null,
           *       "materialRequests": [],
           *       "deemedWithdrawal": null,
           *       "objectionDueOn": null,
           *       "objections": [],
           *       "provisional": true,
           *       "referralId": "01a249a2-1873-7c68-b027-9877cc03bf12",
           *       "courtCode": "京0105",
           *       "organizationId": "bj-cy-blz",
           *       "subject": "ordinary",
           *       "applicants": [
           *         0,
           *         1
           *       ],
           *       "appliedAt": "2026-12-06T04:34:50.103Z",
           *       "agreement": {
           *         "form": "written",
           *         "terms": "李四于本协议生效后三十日内赔偿张三5000元。",
           *         "amount": "5000.00",
           *         "sha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
           *         "sealedAt": "2026-12-06T12:34:49.754+08:00",
           *         "recordedAt": "2026-12-06T04:34:49.760Z",
           *         "signatures": [
           *           {
           *             "signedAt": "2026-12-06T12:34:49.754+08:00",
           *             "partyIndex": 0
           *           },
           *           {
           *             "signedAt": "2026-12-06T12:34:49.754+08:00",
           *             "partyIndex": 1
           *           }
           *         ],
           *         "effectiveAt": "2026-12-06T04:34:49.754Z",
           *         "performance": {
           *           "dueOn": "2027-01-05",
           *           "method": "deferred"
           *         },
           *         "agreementNumber": "朝八调〔2026〕17号",
           *         "mediatorSignedAt": "2026-12-06T12:34:49.754+08:00"
           *       },
           *       "agreementSha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
           *       "parties": [
           *         {
           *           "role": "applicant",
           *           "kind": "natural_person",
           *           "name": "张三",
           *           "idType": "resident_id",
           *           "idNumber": "11010519491231002X",
           *           "phone": "13800138000"
           *         },
           *         {
           *           "role": "respondent",
           *           "kind": "natural_person",
           *           "name": "李四",
           *           "idType": "resident_id",
           *           "idNumber": "440524196001010014"
           *         }
           *       ],
           *       "materials": [],
           *       "venue": null,
           *       "caseNumber": null,
           *       "acceptance": null,
           *       "notAccepted": null,
           *       "withdrawal": null,
           *       "ruling": null,
           *       "createdAt": "2026-12-06T04:34:50.116Z",
           *       "updatedAt": "2026-12-06T04:34:50.116Z"
           *     }
           */
          'application/json': {
            /** @description UUIDv7 */
            id: string
            version: number
            /**
             * @description applied 已申请 / under_review 审查中 / materials_requested 责令补充材料（民诉法解释 354）/ not_accepted 不予受理 / withdrawn 撤回 / deemed_withdrawn 按撤回申请处理（民诉法解释 357）/ ruled_valid 裁定有效 / ruled_rejected 驳回申请 / objection_filed 已提出异议（民诉法解释 372）/ ruling_revoked 裁定已撤销
             * @enum {string}
             */
            status:
              | 'applied'
              | 'under_review'
              | 'materials_requested'
              | 'not_accepted'
              | 'withdrawn'
              | 'deemed_withdrawn'
              | 'ruled_valid'
              | 'ruled_rejected'
              | 'objection_filed'
              | 'ruling_revoked'
            /** @description 逾期申请（附理由），由法院决定 / applied after the deadline with a reason */
            late: boolean
            lateReason: string | null
            /**
             * Format: date
             * @description YYYY-MM-DD (Asia/Shanghai)
             */
            applicationDueOn: string
            reviewDueOn: string | null
            reviewTargetOn: string | null
            /** @description 审查期限的延长（民事诉讼法 187）/ extensions of the review period */
            reviewExtensions: {
              [key: string]: unknown
            }[]
            /** @description 审查中且已过 reviewDueOn / under review past reviewDueOn */
            overdue: boolean
            requestedMaterials: {
              items: string[]
              /**
               * Format: date
               * @description YYYY-MM-DD (Asia/Shanghai)
               */
              dueOn: string
            } | null
            /** @description 历次责令补充材料及补充情况 / every order to supply materials and what was supplied */
            materialRequests: {
              [key: string]: unknown
            }[]
            deemedWithdrawal: {
              [key: string]: unknown
            } | null
            objectionDueOn: string | null
            /** @description 对裁定提出的异议及其处理（民诉法解释 372）/ objections and the rulings on them */
            objections: {
              [key: string]: unknown
            }[]
            /** @description 期限所依据的年度放假安排尚未公布 / a date depends on an unpublished year */
            provisional: boolean
            referralId: string | null
            courtCode: string
            organizationId: string
            subject: string
            applicants: number[]
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            appliedAt: string
            agreement: {
              [key: string]: unknown
            }
            /** @description 调解协议条款的 SHA-256 / SHA-256 of the agreement terms */
            agreementSha256: string
            parties: {
              role: string
              kind: string
              name: string
              idType: string
              /** @description 非经办方脱敏：前 3 后 4 / masked for all but the court concerned and the handling organization */
              idNumber: string
              phone?: string
              address?: string
              agents?: {
                [key: string]: unknown
              }[]
            }[]
            materials: {
              [key: string]: unknown
            }[]
            venue: {
              [key: string]: unknown
            } | null
            caseNumber: string | null
            acceptance: {
              [key: string]: unknown
            } | null
            notAccepted: {
              [key: string]: unknown
            } | null
            withdrawal: {
              [key: string]: unknown
            } | null
            ruling: {
              [key: string]: unknown
            } | null
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            createdAt: string
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            updatedAt: string
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_json`, `idempotency_key_required` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 冲突 / conflict: `idempotency_key_in_use`, `illegal_transition`, `duplicate_application` */
      409: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求体过大 / body too large: `payload_too_large` */
      413: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不支持的内容类型 / unsupported media type: `unsupported_media_type` */
      415: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 违反业务规则 / business rule violated: `idempotency_key_reused`, `agreement_mismatch`, `confirmation_not_applicable`, `wrong_court`, `excluded_subject`, `joint_application_required`, `confirmation_deadline_passed`, `timestamp_before_agreement`, `timestamp_in_future`, `organization_out_of_scope`, `unknown_material` */
      422: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  getV1JudicialConfirmationsId: {
    parameters: {
      query?: never
      header?: never
      path: {
        /** @description 资源标识 / resource id */
        id: string
      }
      cookie?: never
    }
    requestBody?: never
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "id": "01a249a2-1a8b-70f3-a7e4-6bb4bc85f4a8",
           *       "version": 1,
           *       "status": "applied",
           *       "late": false,
           *       "lateReason": null,
           *       "applicationDueOn": "2027-01-05",
           *       "reviewDueOn": null,
           *       "reviewTargetOn": null,
           *       "reviewExtensions": [],
           *       "overdue": false,
           *       "requestedMaterials": null,
           *       "materialRequests": [],
           *       "deemedWithdrawal": null,
           *       "objectionDueOn": null,
           *       "objections": [],
           *       "provisional": true,
           *       "referralId": "01a249a2-1873-7c68-b027-9877cc03bf12",
           *       "courtCode": "京0105",
           *       "organizationId": "bj-cy-blz",
           *       "subject": "ordinary",
           *       "applicants": [
           *         0,
           *         1
           *       ],
           *       "appliedAt": "2026-12-06T04:34:50.103Z",
           *       "agreement": {
           *         "form": "written",
           *         "terms": "李四于本协议生效后三十日内赔偿张三5000元。",
           *         "amount": "5000.00",
           *         "sha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
           *         "sealedAt": "2026-12-06T12:34:49.754+08:00",
           *         "recordedAt": "2026-12-06T04:34:49.760Z",
           *         "signatures": [
           *           {
           *             "signedAt": "2026-12-06T12:34:49.754+08:00",
           *             "partyIndex": 0
           *           },
           *           {
           *             "signedAt": "2026-12-06T12:34:49.754+08:00",
           *             "partyIndex": 1
           *           }
           *         ],
           *         "effectiveAt": "2026-12-06T04:34:49.754Z",
           *         "performance": {
           *           "dueOn": "2027-01-05",
           *           "method": "deferred"
           *         },
           *         "agreementNumber": "朝八调〔2026〕17号",
           *         "mediatorSignedAt": "2026-12-06T12:34:49.754+08:00"
           *       },
           *       "agreementSha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
           *       "parties": [
           *         {
           *           "role": "applicant",
           *           "kind": "natural_person",
           *           "name": "张三",
           *           "idType": "resident_id",
           *           "idNumber": "11010519491231002X",
           *           "phone": "13800138000"
           *         },
           *         {
           *           "role": "respondent",
           *           "kind": "natural_person",
           *           "name": "李四",
           *           "idType": "resident_id",
           *           "idNumber": "440524196001010014"
           *         }
           *       ],
           *       "materials": [],
           *       "venue": null,
           *       "caseNumber": null,
           *       "acceptance": null,
           *       "notAccepted": null,
           *       "withdrawal": null,
           *       "ruling": null,
           *       "createdAt": "2026-12-06T04:34:50.116Z",
           *       "updatedAt": "2026-12-06T04:34:50.116Z"
           *     }
           */
          'application/json': {
            /** @description UUIDv7 */
            id: string
            version: number
            /**
             * @description applied 已申请 / under_review 审查中 / materials_requested 责令补充材料（民诉法解释 354）/ not_accepted 不予受理 / withdrawn 撤回 / deemed_withdrawn 按撤回申请处理（民诉法解释 357）/ ruled_valid 裁定有效 / ruled_rejected 驳回申请 / objection_filed 已提出异议（民诉法解释 372）/ ruling_revoked 裁定已撤销
             * @enum {string}
             */
            status:
              | 'applied'
              | 'under_review'
              | 'materials_requested'
              | 'not_accepted'
              | 'withdrawn'
              | 'deemed_withdrawn'
              | 'ruled_valid'
              | 'ruled_rejected'
              | 'objection_filed'
              | 'ruling_revoked'
            /** @description 逾期申请（附理由），由法院决定 / applied after the deadline with a reason */
            late: boolean
            lateReason: string | null
            /**
             * Format: date
             * @description YYYY-MM-DD (Asia/Shanghai)
             */
            applicationDueOn: string
            reviewDueOn: string | null
            reviewTargetOn: string | null
            /** @description 审查期限的延长（民事诉讼法 187）/ extensions of the review period */
            reviewExtensions: {
              [key: string]: unknown
            }[]
            /** @description 审查中且已过 reviewDueOn / under review past reviewDueOn */
            overdue: boolean
            requestedMaterials: {
              items: string[]
              /**
               * Format: date
               * @description YYYY-MM-DD (Asia/Shanghai)
               */
              dueOn: string
            } | null
            /** @description 历次责令补充材料及补充情况 / every order to supply materials and what was supplied */
            materialRequests: {
              [key: string]: unknown
            }[]
            deemedWithdrawal: {
              [key: string]: unknown
            } | null
            objectionDueOn: string | null
            /** @description 对裁定提出的异议及其处理（民诉法解释 372）/ objections and the rulings on them */
            objections: {
              [key: string]: unknown
            }[]
            /** @description 期限所依据的年度放假安排尚未公布 / a date depends on an unpublished year */
            provisional: boolean
            referralId: string | null
            courtCode: string
            organizationId: string
            subject: string
            applicants: number[]
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            appliedAt: string
            agreement: {
              [key: string]: unknown
            }
            /** @description 调解协议条款的 SHA-256 / SHA-256 of the agreement terms */
            agreementSha256: string
            parties: {
              role: string
              kind: string
              name: string
              idType: string
              /** @description 非经办方脱敏：前 3 后 4 / masked for all but the court concerned and the handling organization */
              idNumber: string
              phone?: string
              address?: string
              agents?: {
                [key: string]: unknown
              }[]
            }[]
            materials: {
              [key: string]: unknown
            }[]
            venue: {
              [key: string]: unknown
            } | null
            caseNumber: string | null
            acceptance: {
              [key: string]: unknown
            } | null
            notAccepted: {
              [key: string]: unknown
            } | null
            withdrawal: {
              [key: string]: unknown
            } | null
            ruling: {
              [key: string]: unknown
            } | null
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            createdAt: string
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            updatedAt: string
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  getV1JudicialConfirmationsIdEvents: {
    parameters: {
      query?: {
        /** @description 每页条数 1–200 / page size */
        limit?: number
        /** @description 不透明游标 / opaque cursor from nextCursor */
        cursor?: string
      }
      header?: never
      path: {
        /** @description 资源标识 / resource id */
        id: string
      }
      cookie?: never
    }
    requestBody?: never
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "items": [
           *         {
           *           "id": "01a249a2-1a8c-7553-8bcf-1c935f20cadc",
           *           "type": "confirmation.applied",
           *           "occurredAt": "2026-12-06T04:34:50.116Z",
           *           "sequence": 1,
           *           "subject": {
           *             "kind": "judicial_confirmation",
           *             "id": "01a249a2-1a8b-70f3-a7e4-6bb4bc85f4a8"
           *           },
           *           "caseVersion": 1,
           *           "actor": {
           *             "clientId": "01a249a2-1788-7338-836c-f1a07c0b9973",
           *             "role": "mediation"
           *           },
           *           "data": {
           *             "confirmation": {
           *               "id": "01a249a2-1a8b-70f3-a7e4-6bb4bc85f4a8",
           *               "late": false,
           *               "venue": null,
           *               "ruling": null,
           *               "status": "applied",
           *               "overdue": false,
           *               "parties": [
           *                 {
           *                   "kind": "natural_person",
           *                   "name": "张三",
           *                   "role": "applicant",
           *                   "phone": "138****8000",
           *                   "idType": "resident_id",
           *                   "idNumber": "110***********002X"
           *                 },
           *                 {
           *                   "kind": "natural_person",
           *                   "name": "李四",
           *                   "role": "respondent",
           *                   "idType": "resident_id",
           *                   "idNumber": "440***********0014"
           *                 }
           *               ],
           *               "subject": "ordinary",
           *               "version": 1,
           *               "agreement": {
           *                 "form": "written",
           *                 "terms": "李四于本协议生效后三十日内赔偿张三5000元。",
           *                 "amount": "5000.00",
           *                 "sha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
           *                 "sealedAt": "2026-12-06T12:34:49.754+08:00",
           *                 "recordedAt": "2026-12-06T04:34:49.760Z",
           *                 "signatures": [
           *                   {
           *                     "signedAt": "2026-12-06T12:34:49.754+08:00",
           *                     "partyIndex": 0
           *                   },
           *                   {
           *                     "signedAt": "2026-12-06T12:34:49.754+08:00",
           *                     "partyIndex": 1
           *                   }
           *                 ],
           *                 "effectiveAt": "2026-12-06T04:34:49.754Z",
           *                 "performance": {
           *                   "dueOn": "2027-01-05",
           *                   "method": "deferred"
           *                 },
           *                 "agreementNumber": "朝八调〔2026〕17号",
           *                 "mediatorSignedAt": "2026-12-06T12:34:49.754+08:00"
           *               },
           *               "appliedAt": "2026-12-06T04:34:50.103Z",
           *               "courtCode": "京0105",
           *               "createdAt": "2026-12-06T04:34:50.116Z",
           *               "materials": [],
           *               "updatedAt": "2026-12-06T04:34:50.116Z",
           *               "acceptance": null,
           *               "applicants": [
           *                 0,
           *                 1
           *               ],
           *               "caseNumber": null,
           *               "lateReason": null,
           *               "objections": [],
           *               "referralId": "01a249a2-1873-7c68-b027-9877cc03bf12",
           *               "withdrawal": null,
           *               "notAccepted": null,
           *               "provisional": true,
           *               "reviewDueOn": null,
           *               "objectionDueOn": null,
           *               "organizationId": "bj-cy-blz",
           *               "reviewTargetOn": null,
           *               "agreementSha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
           *               "applicationDueOn": "2027-01-05",
           *               "deemedWithdrawal": null,
           *               "materialRequests": [],
           *               "reviewExtensions": [],
           *               "requestedMaterials": null
           *             }
           *           }
           *         },
           *         {
           *           "id": "01a249a2-1b08-7f8d-a2ae-fea8013a1d3d",
           *           "type": "confirmation.accepted",
           *           "occurredAt": "2026-12-06T04:34:50.243Z",
           *           "sequence": 2,
           *           "subject": {
           *             "kind": "judicial_confirmation",
           *             "id": "01a249a2-1a8b-70f3-a7e4-6bb4bc85f4a8"
           *           },
           *           "caseVersion": 2,
           *           "actor": {
           *             "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d",
           *             "role": "court"
           *           },
           *           "data": {
           *             "confirmation": {
           *               "id": "01a249a2-1a8b-70f3-a7e4-6bb4bc85f4a8",
           *               "late": false,
           *               "venue": null,
           *               "ruling": null,
           *               "status": "under_review",
           *               "overdue": false,
           *               "parties": [
           *                 {
           *                   "kind": "natural_person",
           *                   "name": "张三",
           *                   "role": "applicant",
           *                   "phone": "138****8000",
           *                   "idType": "resident_id",
           *                   "idNumber": "110***********002X"
           *                 },
           *                 {
           *                   "kind": "natural_person",
           *                   "name": "李四",
           *                   "role": "respondent",
           *                   "idType": "resident_id",
           *                   "idNumber": "440***********0014"
           *                 }
           *               ],
           *               "subject": "ordinary",
           *               "version": 2,
           *               "agreement": {
           *                 "form": "written",
           *                 "terms": "李四于本协议生效后三十日内赔偿张三5000元。",
           *                 "amount": "5000.00",
           *                 "sha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
           *                 "sealedAt": "2026-12-06T12:34:49.754+08:00",
           *                 "recordedAt": "2026-12-06T04:34:49.760Z",
           *                 "signatures": [
           *                   {
           *                     "signedAt": "2026-12-06T12:34:49.754+08:00",
           *                     "partyIndex": 0
           *                   },
           *                   {
           *                     "signedAt": "2026-12-06T12:34:49.754+08:00",
           *                     "partyIndex": 1
           *                   }
           *                 ],
           *                 "effectiveAt": "2026-12-06T04:34:49.754Z",
           *                 "performance": {
           *                   "dueOn": "2027-01-05",
           *                   "method": "deferred"
           *                 },
           *                 "agreementNumber": "朝八调〔2026〕17号",
           *                 "mediatorSignedAt": "2026-12-06T12:34:49.754+08:00"
           *               },
           *               "appliedAt": "2026-12-06T04:34:50.103Z",
           *               "courtCode": "京0105",
           *               "createdAt": "2026-12-06T04:34:50.116Z",
           *               "materials": [],
           *               "updatedAt": "2026-12-06T04:34:50.243Z",
           *               "acceptance": {
           *                 "acceptedAt": "2026-12-06T04:34:50.243Z",
           *                 "acceptedOn": "2026-12-06",
           *                 "caseNumber": "（2026）京0105诉前调确33939号"
           *               },
           *               "applicants": [
           *                 0,
           *                 1
           *               ],
           *               "caseNumber": "（2026）京0105诉前调确33939号",
           *               "lateReason": null,
           *               "objections": [],
           *               "referralId": "01a249a2-1873-7c68-b027-9877cc03bf12",
           *               "withdrawal": null,
           *               "notAccepted": null,
           *               "provisional": true,
           *               "reviewDueOn": "2027-01-05",
           *               "objectionDueOn": null,
           *               "organizationId": "bj-cy-blz",
           *               "reviewTargetOn": "2026-12-21",
           *               "agreementSha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
           *               "applicationDueOn": "2027-01-05",
           *               "deemedWithdrawal": null,
           *               "materialRequests": [],
           *               "reviewExtensions": [],
           *               "requestedMaterials": null
           *             }
           *           }
           *         },
           *         {
           *           "id": "01a249a2-1b1d-79c2-be27-8153beda77a2",
           *           "type": "confirmation.review_extended",
           *           "occurredAt": "2026-12-06T04:34:50.262Z",
           *           "sequence": 3,
           *           "subject": {
           *             "kind": "judicial_confirmation",
           *             "id": "01a249a2-1a8b-70f3-a7e4-6bb4bc85f4a8"
           *           },
           *           "caseVersion": 3,
           *           "actor": {
           *             "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d",
           *             "role": "court"
           *           },
           *           "data": {
           *             "confirmation": {
           *               "id": "01a249a2-1a8b-70f3-a7e4-6bb4bc85f4a8",
           *               "late": false,
           *               "venue": null,
           *               "ruling": null,
           *               "status": "under_review",
           *               "overdue": false,
           *               "parties": [
           *                 {
           *                   "kind": "natural_person",
           *                   "name": "张三",
           *                   "role": "applicant",
           *                   "phone": "138****8000",
           *                   "idType": "resident_id",
           *                   "idNumber": "110***********002X"
           *                 },
           *                 {
           *                   "kind": "natural_person",
           *                   "name": "李四",
           *                   "role": "respondent",
           *                   "idType": "resident_id",
           *                   "idNumber": "440***********0014"
           *                 }
           *               ],
           *               "subject": "ordinary",
           *               "version": 3,
           *               "agreement": {
           *                 "form": "written",
           *                 "terms": "李四于本协议生效后三十日内赔偿张三5000元。",
           *                 "amount": "5000.00",
           *                 "sha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
           *                 "sealedAt": "2026-12-06T12:34:49.754+08:00",
           *                 "recordedAt": "2026-12-06T04:34:49.760Z",
           *                 "signatures": [
           *                   {
           *                     "signedAt": "2026-12-06T12:34:49.754+08:00",
           *                     "partyIndex": 0
           *                   },
           *                   {
           *                     "signedAt": "2026-12-06T12:34:49.754+08:00",
           *                     "partyIndex": 1
           *                   }
           *                 ],
           *                 "effectiveAt": "2026-12-06T04:34:49.754Z",
           *                 "performance": {
           *                   "dueOn": "2027-01-05",
           *                   "method": "deferred"
           *                 },
           *                 "agreementNumber": "朝八调〔2026〕17号",
           *                 "mediatorSignedAt": "2026-12-06T12:34:49.754+08:00"
           *               },
           *               "appliedAt": "2026-12-06T04:34:50.103Z",
           *               "courtCode": "京0105",
           *               "createdAt": "2026-12-06T04:34:50.116Z",
           *               "materials": [],
           *               "updatedAt": "2026-12-06T04:34:50.262Z",
           *               "acceptance": {
           *                 "acceptedAt": "2026-12-06T04:34:50.243Z",
           *                 "acceptedOn": "2026-12-06",
           *                 "caseNumber": "（2026）京0105诉前调确33939号"
           *               },
           *               "applicants": [
           *                 0,
           *                 1
           *               ],
           *               "caseNumber": "（2026）京0105诉前调确33939号",
           *               "lateReason": null,
           *               "objections": [],
           *               "referralId": "01a249a2-1873-7c68-b027-9877cc03bf12",
           *               "withdrawal": null,
           *               "notAccepted": null,
           *               "provisional": true,
           *               "reviewDueOn": "2027-02-04",
           *               "objectionDueOn": null,
           *               "organizationId": "bj-cy-blz",
           *               "reviewTargetOn": "2026-12-21",
           *               "agreementSha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
           *               "applicationDueOn": "2027-01-05",
           *               "deemedWithdrawal": null,
           *               "materialRequests": [],
           *               "reviewExtensions": [
           *                 {
           *                   "reason": "案情复杂，经院长批准延长",
           *                   "newDueOn": "2027-02-04",
           *                   "extendedAt": "2026-12-06T04:34:50.262Z",
           *                   "previousDueOn": "2027-01-05"
           *                 }
           *               ],
           *               "requestedMaterials": null
           *             }
           *           }
           *         }
           *       ],
           *       "nextCursor": null
           *     }
           */
          'application/json': {
            items: components['schemas']['Event'][]
            nextCursor: string | null
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_cursor` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  postV1JudicialConfirmationsIdAcceptance: {
    parameters: {
      query?: never
      header: {
        /** @description 幂等键（1–255 个可见 ASCII 字符），同一调用方内唯一；保存至少 24 小时。重放返回所存状态与应答体，其中个人信息按调用方重放时的权限显示（完整显示时记入访问记录）。Idempotency key, scoped to the calling client. A replay answers the stored status and body, with personal data as the caller may see it at the replay (recorded in the access log when shown in full). */
        'idempotency-key': string
        /** @description 乐观并发控制：期望的版本号，如 "3"（GET 应答的 ETag）；不一致 → 412 version_mismatch。Optimistic concurrency: the expected version (the ETag of GET); stale → 412 version_mismatch. */
        'if-match'?: string
      }
      path: {
        /** @description 资源标识 / resource id */
        id: string
      }
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "decision": "accepted",
         *       "caseNumber": "（2026）京0105诉前调确88号"
         *     }
         */
        'application/json': {
          /** @enum {string} */
          decision: 'accepted' | 'not_accepted'
          /** @description 受理时必填：诉前调确 或 民特 案号，法院代字须与申请一致 */
          caseNumber?: string
          /** @description 立案日期，默认当日（Asia/Shanghai）/ date of 立案, default today */
          acceptedOn?: string
          /** @description 不予受理的理由（必填）/ reason, required when not accepted */
          reason?: string
        }
      }
    }
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          /** @description 签名回执：JWS 紧凑序列化，载荷 { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }，eventHash 为该事件在案件哈希链中的哈希；用 GET /v1/service-keys 公布的密钥（按 kid）验证；幂等重放返回同一回执。Signed receipt: a JWS (compact serialization) whose payload is { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }, eventHash being the event’s hash in the case’s chain; verify it with the key of its `kid` from GET /v1/service-keys (alg EdDSA: Ed25519; alg SM2SM3: SM2 over SM3 with user id 1234567812345678, signature r‖s of 32 bytes each). A replay carries the same receipt. See docs/receipts.md. */
          Receipt?: string
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "id": "01a249a2-1a8b-70f3-a7e4-6bb4bc85f4a8",
           *       "version": 2,
           *       "status": "under_review",
           *       "late": false,
           *       "lateReason": null,
           *       "applicationDueOn": "2027-01-05",
           *       "reviewDueOn": "2027-01-05",
           *       "reviewTargetOn": "2026-12-21",
           *       "reviewExtensions": [],
           *       "overdue": false,
           *       "requestedMaterials": null,
           *       "materialRequests": [],
           *       "deemedWithdrawal": null,
           *       "objectionDueOn": null,
           *       "objections": [],
           *       "provisional": true,
           *       "referralId": "01a249a2-1873-7c68-b027-9877cc03bf12",
           *       "courtCode": "京0105",
           *       "organizationId": "bj-cy-blz",
           *       "subject": "ordinary",
           *       "applicants": [
           *         0,
           *         1
           *       ],
           *       "appliedAt": "2026-12-06T04:34:50.103Z",
           *       "agreement": {
           *         "form": "written",
           *         "terms": "李四于本协议生效后三十日内赔偿张三5000元。",
           *         "amount": "5000.00",
           *         "sha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
           *         "sealedAt": "2026-12-06T12:34:49.754+08:00",
           *         "recordedAt": "2026-12-06T04:34:49.760Z",
           *         "signatures": [
           *           {
           *             "signedAt": "2026-12-06T12:34:49.754+08:00",
           *             "partyIndex": 0
           *           },
           *           {
           *             "signedAt": "2026-12-06T12:34:49.754+08:00",
           *             "partyIndex": 1
           *           }
           *         ],
           *         "effectiveAt": "2026-12-06T04:34:49.754Z",
           *         "performance": {
           *           "dueOn": "2027-01-05",
           *           "method": "deferred"
           *         },
           *         "agreementNumber": "朝八调〔2026〕17号",
           *         "mediatorSignedAt": "2026-12-06T12:34:49.754+08:00"
           *       },
           *       "agreementSha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
           *       "parties": [
           *         {
           *           "role": "applicant",
           *           "kind": "natural_person",
           *           "name": "张三",
           *           "idType": "resident_id",
           *           "idNumber": "11010519491231002X",
           *           "phone": "13800138000"
           *         },
           *         {
           *           "role": "respondent",
           *           "kind": "natural_person",
           *           "name": "李四",
           *           "idType": "resident_id",
           *           "idNumber": "440524196001010014"
           *         }
           *       ],
           *       "materials": [],
           *       "venue": null,
           *       "caseNumber": "（2026）京0105诉前调确33939号",
           *       "acceptance": {
           *         "caseNumber": "（2026）京0105诉前调确33939号",
           *         "acceptedOn": "2026-12-06",
           *         "acceptedAt": "2026-12-06T04:34:50.243Z"
           *       },
           *       "notAccepted": null,
           *       "withdrawal": null,
           *       "ruling": null,
           *       "createdAt": "2026-12-06T04:34:50.116Z",
           *       "updatedAt": "2026-12-06T04:34:50.243Z"
           *     }
           */
          'application/json': {
            /** @description UUIDv7 */
            id: string
            version: number
            /**
             * @description applied 已申请 / under_review 审查中 / materials_requested 责令补充材料（民诉法解释 354）/ not_accepted 不予受理 / withdrawn 撤回 / deemed_withdrawn 按撤回申请处理（民诉法解释 357）/ ruled_valid 裁定有效 / ruled_rejected 驳回申请 / objection_filed 已提出异议（民诉法解释 372）/ ruling_revoked 裁定已撤销
             * @enum {string}
             */
            status:
              | 'applied'
              | 'under_review'
              | 'materials_requested'
              | 'not_accepted'
              | 'withdrawn'
              | 'deemed_withdrawn'
              | 'ruled_valid'
              | 'ruled_rejected'
              | 'objection_filed'
              | 'ruling_revoked'
            /** @description 逾期申请（附理由），由法院决定 / applied after the deadline with a reason */
            late: boolean
            lateReason: string | null
            /**
             * Format: date
             * @description YYYY-MM-DD (Asia/Shanghai)
             */
            applicationDueOn: string
            reviewDueOn: string | null
            reviewTargetOn: string | null
            /** @description 审查期限的延长（民事诉讼法 187）/ extensions of the review period */
            reviewExtensions: {
              [key: string]: unknown
            }[]
            /** @description 审查中且已过 reviewDueOn / under review past reviewDueOn */
            overdue: boolean
            requestedMaterials: {
              items: string[]
              /**
               * Format: date
               * @description YYYY-MM-DD (Asia/Shanghai)
               */
              dueOn: string
            } | null
            /** @description 历次责令补充材料及补充情况 / every order to supply materials and what was supplied */
            materialRequests: {
              [key: string]: unknown
            }[]
            deemedWithdrawal: {
              [key: string]: unknown
            } | null
            objectionDueOn: string | null
            /** @description 对裁定提出的异议及其处理（民诉法解释 372）/ objections and the rulings on them */
            objections: {
              [key: string]: unknown
            }[]
            /** @description 期限所依据的年度放假安排尚未公布 / a date depends on an unpublished year */
            provisional: boolean
            referralId: string | null
            courtCode: string
            organizationId: string
            subject: string
            applicants: number[]
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            appliedAt: string
            agreement: {
              [key: string]: unknown
            }
            /** @description 调解协议条款的 SHA-256 / SHA-256 of the agreement terms */
            agreementSha256: string
            parties: {
              role: string
              kind: string
              name: string
              idType: string
              /** @description 非经办方脱敏：前 3 后 4 / masked for all but the court concerned and the handling organization */
              idNumber: string
              phone?: string
              address?: string
              agents?: {
                [key: string]: unknown
              }[]
            }[]
            materials: {
              [key: string]: unknown
            }[]
            venue: {
              [key: string]: unknown
            } | null
            caseNumber: string | null
            acceptance: {
              [key: string]: unknown
            } | null
            notAccepted: {
              [key: string]: unknown
            } | null
            withdrawal: {
              [key: string]: unknown
            } | null
            ruling: {
              [key: string]: unknown
            } | null
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            createdAt: string
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            updatedAt: string
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_json`, `idempotency_key_required` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 冲突 / conflict: `idempotency_key_in_use`, `illegal_transition` */
      409: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 版本号不一致 / If-Match is stale: `version_mismatch` */
      412: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求体过大 / body too large: `payload_too_large` */
      413: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不支持的内容类型 / unsupported media type: `unsupported_media_type` */
      415: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 违反业务规则 / business rule violated: `idempotency_key_reused`, `date_in_future`, `date_before_application` */
      422: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  postV1JudicialConfirmationsIdWithdrawal: {
    parameters: {
      query?: never
      header: {
        /** @description 幂等键（1–255 个可见 ASCII 字符），同一调用方内唯一；保存至少 24 小时。重放返回所存状态与应答体，其中个人信息按调用方重放时的权限显示（完整显示时记入访问记录）。Idempotency key, scoped to the calling client. A replay answers the stored status and body, with personal data as the caller may see it at the replay (recorded in the access log when shown in full). */
        'idempotency-key': string
        /** @description 乐观并发控制：期望的版本号，如 "3"（GET 应答的 ETag）；不一致 → 412 version_mismatch。Optimistic concurrency: the expected version (the ETag of GET); stale → 412 version_mismatch. */
        'if-match'?: string
      }
      path: {
        /** @description 资源标识 / resource id */
        id: string
      }
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "reason": "当事人已自动履行完毕"
         *     }
         */
        'application/json': {
          /** @description 撤回理由 / reason */
          reason?: string
        }
      }
    }
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          /** @description 签名回执：JWS 紧凑序列化，载荷 { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }，eventHash 为该事件在案件哈希链中的哈希；用 GET /v1/service-keys 公布的密钥（按 kid）验证；幂等重放返回同一回执。Signed receipt: a JWS (compact serialization) whose payload is { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }, eventHash being the event’s hash in the case’s chain; verify it with the key of its `kid` from GET /v1/service-keys (alg EdDSA: Ed25519; alg SM2SM3: SM2 over SM3 with user id 1234567812345678, signature r‖s of 32 bytes each). A replay carries the same receipt. See docs/receipts.md. */
          Receipt?: string
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "id": "01a249a2-1bfd-7808-af16-29317d838a1f",
           *       "version": 2,
           *       "status": "withdrawn",
           *       "late": false,
           *       "lateReason": null,
           *       "applicationDueOn": "2027-01-05",
           *       "reviewDueOn": null,
           *       "reviewTargetOn": null,
           *       "reviewExtensions": [],
           *       "overdue": false,
           *       "requestedMaterials": null,
           *       "materialRequests": [],
           *       "deemedWithdrawal": null,
           *       "objectionDueOn": null,
           *       "objections": [],
           *       "provisional": true,
           *       "referralId": "01a249a2-1bc3-7a82-bdee-5628601f60c0",
           *       "courtCode": "京0105",
           *       "organizationId": "bj-cy-blz",
           *       "subject": "ordinary",
           *       "applicants": [
           *         0,
           *         1
           *       ],
           *       "appliedAt": "2026-12-06T04:34:50.479Z",
           *       "agreement": {
           *         "form": "written",
           *         "terms": "李四于本协议生效后三十日内赔偿张三5000元。",
           *         "amount": "5000.00",
           *         "sha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
           *         "sealedAt": "2026-12-06T12:34:50.459+08:00",
           *         "recordedAt": "2026-12-06T04:34:50.466Z",
           *         "signatures": [
           *           {
           *             "signedAt": "2026-12-06T12:34:50.459+08:00",
           *             "partyIndex": 0
           *           },
           *           {
           *             "signedAt": "2026-12-06T12:34:50.459+08:00",
           *             "partyIndex": 1
           *           }
           *         ],
           *         "effectiveAt": "2026-12-06T04:34:50.459Z",
           *         "performance": {
           *           "dueOn": "2027-01-05",
           *           "method": "deferred"
           *         },
           *         "agreementNumber": "朝八调〔2026〕17号",
           *         "mediatorSignedAt": "2026-12-06T12:34:50.459+08:00"
           *       },
           *       "agreementSha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
           *       "parties": [
           *         {
           *           "role": "applicant",
           *           "kind": "natural_person",
           *           "name": "张三",
           *           "idType": "resident_id",
           *           "idNumber": "110105198001010075",
           *           "phone": "13800138000",
           *           "address": "北京市朝阳区八里庄街道1号"
           *         },
           *         {
           *           "role": "respondent",
           *           "kind": "natural_person",
           *           "name": "李四",
           *           "idType": "resident_id",
           *           "idNumber": "440524198001010080"
           *         }
           *       ],
           *       "materials": [],
           *       "venue": null,
           *       "caseNumber": null,
           *       "acceptance": null,
           *       "notAccepted": null,
           *       "withdrawal": {
           *         "reason": "当事人已自动履行完毕",
           *         "withdrawnAt": "2026-12-06T04:34:50.504Z"
           *       },
           *       "ruling": null,
           *       "createdAt": "2026-12-06T04:34:50.490Z",
           *       "updatedAt": "2026-12-06T04:34:50.504Z"
           *     }
           */
          'application/json': {
            /** @description UUIDv7 */
            id: string
            version: number
            /**
             * @description applied 已申请 / under_review 审查中 / materials_requested 责令补充材料（民诉法解释 354）/ not_accepted 不予受理 / withdrawn 撤回 / deemed_withdrawn 按撤回申请处理（民诉法解释 357）/ ruled_valid 裁定有效 / ruled_rejected 驳回申请 / objection_filed 已提出异议（民诉法解释 372）/ ruling_revoked 裁定已撤销
             * @enum {string}
             */
            status:
              | 'applied'
              | 'under_review'
              | 'materials_requested'
              | 'not_accepted'
              | 'withdrawn'
              | 'deemed_withdrawn'
              | 'ruled_valid'
              | 'ruled_rejected'
              | 'objection_filed'
              | 'ruling_revoked'
            /** @description 逾期申请（附理由），由法院决定 / applied after the deadline with a reason */
            late: boolean
            lateReason: string | null
            /**
             * Format: date
             * @description YYYY-MM-DD (Asia/Shanghai)
             */
            applicationDueOn: string
            reviewDueOn: string | null
            reviewTargetOn: string | null
            /** @description 审查期限的延长（民事诉讼法 187）/ extensions of the review period */
            reviewExtensions: {
              [key: string]: unknown
            }[]
            /** @description 审查中且已过 reviewDueOn / under review past reviewDueOn */
            overdue: boolean
            requestedMaterials: {
              items: string[]
              /**
               * Format: date
               * @description YYYY-MM-DD (Asia/Shanghai)
               */
              dueOn: string
            } | null
            /** @description 历次责令补充材料及补充情况 / every order to supply materials and what was supplied */
            materialRequests: {
              [key: string]: unknown
            }[]
            deemedWithdrawal: {
              [key: string]: unknown
            } | null
            objectionDueOn: string | null
            /** @description 对裁定提出的异议及其处理（民诉法解释 372）/ objections and the rulings on them */
            objections: {
              [key: string]: unknown
            }[]
            /** @description 期限所依据的年度放假安排尚未公布 / a date depends on an unpublished year */
            provisional: boolean
            referralId: string | null
            courtCode: string
            organizationId: string
            subject: string
            applicants: number[]
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            appliedAt: string
            agreement: {
              [key: string]: unknown
            }
            /** @description 调解协议条款的 SHA-256 / SHA-256 of the agreement terms */
            agreementSha256: string
            parties: {
              role: string
              kind: string
              name: string
              idType: string
              /** @description 非经办方脱敏：前 3 后 4 / masked for all but the court concerned and the handling organization */
              idNumber: string
              phone?: string
              address?: string
              agents?: {
                [key: string]: unknown
              }[]
            }[]
            materials: {
              [key: string]: unknown
            }[]
            venue: {
              [key: string]: unknown
            } | null
            caseNumber: string | null
            acceptance: {
              [key: string]: unknown
            } | null
            notAccepted: {
              [key: string]: unknown
            } | null
            withdrawal: {
              [key: string]: unknown
            } | null
            ruling: {
              [key: string]: unknown
            } | null
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            createdAt: string
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            updatedAt: string
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_json`, `idempotency_key_required` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 冲突 / conflict: `idempotency_key_in_use`, `illegal_transition` */
      409: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 版本号不一致 / If-Match is stale: `version_mismatch` */
      412: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求体过大 / body too large: `payload_too_large` */
      413: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不支持的内容类型 / unsupported media type: `unsupported_media_type` */
      415: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 违反业务规则 / business rule violated: `idempotency_key_reused` */
      422: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  postV1JudicialConfirmationsIdRuling: {
    parameters: {
      query?: never
      header: {
        /** @description 幂等键（1–255 个可见 ASCII 字符），同一调用方内唯一；保存至少 24 小时。重放返回所存状态与应答体，其中个人信息按调用方重放时的权限显示（完整显示时记入访问记录）。Idempotency key, scoped to the calling client. A replay answers the stored status and body, with personal data as the caller may see it at the replay (recorded in the access log when shown in full). */
        'idempotency-key': string
        /** @description 乐观并发控制：期望的版本号，如 "3"（GET 应答的 ETag）；不一致 → 412 version_mismatch。Optimistic concurrency: the expected version (the ETag of GET); stale → 412 version_mismatch. */
        'if-match'?: string
      }
      path: {
        /** @description 资源标识 / resource id */
        id: string
      }
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "result": "valid",
         *       "rulingNumber": "（2026）京0105诉前调确88号",
         *       "ruledOn": "2026-12-01"
         *     }
         */
        'application/json': {
          /**
           * @description valid 裁定调解协议有效 / rejected 裁定驳回申请（民事诉讼法 206）
           * @enum {string}
           */
          result: 'valid' | 'rejected'
          /** @description 裁定书文号 / ruling number */
          rulingNumber: string
          /** @description 裁定日期 / date of the ruling */
          ruledOn: string
          /** @description 驳回理由（民诉法解释 358）/ grounds */
          reason?: string
          /** @description 裁定送达当事人之日，默认 ruledOn；objectionDueOn = servedOn + 15 日，末日遇休息日顺延（民诉法解释 372）/ date served, default ruledOn */
          servedOn?: string
          /** @description 裁定书（已上传的材料）/ the ruling document, an uploaded material */
          documentMaterialId?: string
        }
      }
    }
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          /** @description 签名回执：JWS 紧凑序列化，载荷 { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }，eventHash 为该事件在案件哈希链中的哈希；用 GET /v1/service-keys 公布的密钥（按 kid）验证；幂等重放返回同一回执。Signed receipt: a JWS (compact serialization) whose payload is { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }, eventHash being the event’s hash in the case’s chain; verify it with the key of its `kid` from GET /v1/service-keys (alg EdDSA: Ed25519; alg SM2SM3: SM2 over SM3 with user id 1234567812345678, signature r‖s of 32 bytes each). A replay carries the same receipt. See docs/receipts.md. */
          Receipt?: string
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "id": "01a249a2-1a8b-70f3-a7e4-6bb4bc85f4a8",
           *       "version": 6,
           *       "status": "ruled_valid",
           *       "late": false,
           *       "lateReason": null,
           *       "applicationDueOn": "2027-01-05",
           *       "reviewDueOn": "2027-02-04",
           *       "reviewTargetOn": "2026-12-21",
           *       "reviewExtensions": [
           *         {
           *           "reason": "案情复杂，经院长批准延长",
           *           "newDueOn": "2027-02-04",
           *           "extendedAt": "2026-12-06T04:34:50.262Z",
           *           "previousDueOn": "2027-01-05"
           *         }
           *       ],
           *       "overdue": false,
           *       "requestedMaterials": null,
           *       "materialRequests": [
           *         {
           *           "dueOn": "2026-12-20",
           *           "items": [
           *             "调解组织主持调解的证明",
           *             "申请人身份证明"
           *           ],
           *           "supplied": {
           *             "note": "已补充主持调解证明",
           *             "materials": [
           *               {
           *                 "materialId": "01a249a2-1850-7f07-8c30-ee44d67ef4f9"
           *               }
           *             ],
           *             "suppliedAt": "2026-12-06T04:34:50.307Z"
           *           },
           *           "requestedAt": "2026-12-06T04:34:50.290Z"
           *         }
           *       ],
           *       "deemedWithdrawal": null,
           *       "objectionDueOn": "2026-12-21",
           *       "objections": [],
           *       "provisional": true,
           *       "referralId": "01a249a2-1873-7c68-b027-9877cc03bf12",
           *       "courtCode": "京0105",
           *       "organizationId": "bj-cy-blz",
           *       "subject": "ordinary",
           *       "applicants": [
           *         0,
           *         1
           *       ],
           *       "appliedAt": "2026-12-06T04:34:50.103Z",
           *       "agreement": {
           *         "form": "written",
           *         "terms": "李四于本协议生效后三十日内赔偿张三5000元。",
           *         "amount": "5000.00",
           *         "sha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
           *         "sealedAt": "2026-12-06T12:34:49.754+08:00",
           *         "recordedAt": "2026-12-06T04:34:49.760Z",
           *         "signatures": [
           *           {
           *             "signedAt": "2026-12-06T12:34:49.754+08:00",
           *             "partyIndex": 0
           *           },
           *           {
           *             "signedAt": "2026-12-06T12:34:49.754+08:00",
           *             "partyIndex": 1
           *           }
           *         ],
           *         "effectiveAt": "2026-12-06T04:34:49.754Z",
           *         "performance": {
           *           "dueOn": "2027-01-05",
           *           "method": "deferred"
           *         },
           *         "agreementNumber": "朝八调〔2026〕17号",
           *         "mediatorSignedAt": "2026-12-06T12:34:49.754+08:00"
           *       },
           *       "agreementSha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
           *       "parties": [
           *         {
           *           "role": "applicant",
           *           "kind": "natural_person",
           *           "name": "张三",
           *           "idType": "resident_id",
           *           "idNumber": "11010519491231002X",
           *           "phone": "13800138000"
           *         },
           *         {
           *           "role": "respondent",
           *           "kind": "natural_person",
           *           "name": "李四",
           *           "idType": "resident_id",
           *           "idNumber": "440524196001010014"
           *         }
           *       ],
           *       "materials": [
           *         {
           *           "materialId": "01a249a2-1850-7f07-8c30-ee44d67ef4f9"
           *         }
           *       ],
           *       "venue": null,
           *       "caseNumber": "（2026）京0105诉前调确33939号",
           *       "acceptance": {
           *         "acceptedAt": "2026-12-06T04:34:50.243Z",
           *         "acceptedOn": "2026-12-06",
           *         "caseNumber": "（2026）京0105诉前调确33939号"
           *       },
           *       "notAccepted": null,
           *       "withdrawal": null,
           *       "ruling": {
           *         "result": "valid",
           *         "rulingNumber": "（2026）京0105诉前调确33940号",
           *         "ruledOn": "2026-12-06",
           *         "servedOn": "2026-12-06",
           *         "agreementSha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
           *         "recordedAt": "2026-12-06T04:34:50.333Z"
           *       },
           *       "createdAt": "2026-12-06T04:34:50.116Z",
           *       "updatedAt": "2026-12-06T04:34:50.333Z"
           *     }
           */
          'application/json': {
            /** @description UUIDv7 */
            id: string
            version: number
            /**
             * @description applied 已申请 / under_review 审查中 / materials_requested 责令补充材料（民诉法解释 354）/ not_accepted 不予受理 / withdrawn 撤回 / deemed_withdrawn 按撤回申请处理（民诉法解释 357）/ ruled_valid 裁定有效 / ruled_rejected 驳回申请 / objection_filed 已提出异议（民诉法解释 372）/ ruling_revoked 裁定已撤销
             * @enum {string}
             */
            status:
              | 'applied'
              | 'under_review'
              | 'materials_requested'
              | 'not_accepted'
              | 'withdrawn'
              | 'deemed_withdrawn'
              | 'ruled_valid'
              | 'ruled_rejected'
              | 'objection_filed'
              | 'ruling_revoked'
            /** @description 逾期申请（附理由），由法院决定 / applied after the deadline with a reason */
            late: boolean
            lateReason: string | null
            /**
             * Format: date
             * @description YYYY-MM-DD (Asia/Shanghai)
             */
            applicationDueOn: string
            reviewDueOn: string | null
            reviewTargetOn: string | null
            /** @description 审查期限的延长（民事诉讼法 187）/ extensions of the review period */
            reviewExtensions: {
              [key: string]: unknown
            }[]
            /** @description 审查中且已过 reviewDueOn / under review past reviewDueOn */
            overdue: boolean
            requestedMaterials: {
              items: string[]
              /**
               * Format: date
               * @description YYYY-MM-DD (Asia/Shanghai)
               */
              dueOn: string
            } | null
            /** @description 历次责令补充材料及补充情况 / every order to supply materials and what was supplied */
            materialRequests: {
              [key: string]: unknown
            }[]
            deemedWithdrawal: {
              [key: string]: unknown
            } | null
            objectionDueOn: string | null
            /** @description 对裁定提出的异议及其处理（民诉法解释 372）/ objections and the rulings on them */
            objections: {
              [key: string]: unknown
            }[]
            /** @description 期限所依据的年度放假安排尚未公布 / a date depends on an unpublished year */
            provisional: boolean
            referralId: string | null
            courtCode: string
            organizationId: string
            subject: string
            applicants: number[]
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            appliedAt: string
            agreement: {
              [key: string]: unknown
            }
            /** @description 调解协议条款的 SHA-256 / SHA-256 of the agreement terms */
            agreementSha256: string
            parties: {
              role: string
              kind: string
              name: string
              idType: string
              /** @description 非经办方脱敏：前 3 后 4 / masked for all but the court concerned and the handling organization */
              idNumber: string
              phone?: string
              address?: string
              agents?: {
                [key: string]: unknown
              }[]
            }[]
            materials: {
              [key: string]: unknown
            }[]
            venue: {
              [key: string]: unknown
            } | null
            caseNumber: string | null
            acceptance: {
              [key: string]: unknown
            } | null
            notAccepted: {
              [key: string]: unknown
            } | null
            withdrawal: {
              [key: string]: unknown
            } | null
            ruling: {
              [key: string]: unknown
            } | null
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            createdAt: string
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            updatedAt: string
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_json`, `idempotency_key_required` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 冲突 / conflict: `idempotency_key_in_use`, `illegal_transition` */
      409: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 版本号不一致 / If-Match is stale: `version_mismatch` */
      412: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求体过大 / body too large: `payload_too_large` */
      413: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不支持的内容类型 / unsupported media type: `unsupported_media_type` */
      415: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 违反业务规则 / business rule violated: `idempotency_key_reused`, `date_in_future`, `date_before_acceptance` */
      422: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  postV1JudicialConfirmationsIdReviewExtension: {
    parameters: {
      query?: never
      header: {
        /** @description 幂等键（1–255 个可见 ASCII 字符），同一调用方内唯一；保存至少 24 小时。重放返回所存状态与应答体，其中个人信息按调用方重放时的权限显示（完整显示时记入访问记录）。Idempotency key, scoped to the calling client. A replay answers the stored status and body, with personal data as the caller may see it at the replay (recorded in the access log when shown in full). */
        'idempotency-key': string
        /** @description 乐观并发控制：期望的版本号，如 "3"（GET 应答的 ETag）；不一致 → 412 version_mismatch。Optimistic concurrency: the expected version (the ETag of GET); stale → 412 version_mismatch. */
        'if-match'?: string
      }
      path: {
        /** @description 资源标识 / resource id */
        id: string
      }
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "newDueOn": "2027-01-30",
         *       "reason": "案情复杂，经院长批准延长"
         *     }
         */
        'application/json': {
          /** @description 新的审查期限，须晚于 reviewDueOn；遇休息日顺延 / later than reviewDueOn; rolled forward if a rest day */
          newDueOn: string
          /** @description 延长理由（经院长批准，民事诉讼法 187）/ reason (approved by the court president) */
          reason: string
        }
      }
    }
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          /** @description 签名回执：JWS 紧凑序列化，载荷 { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }，eventHash 为该事件在案件哈希链中的哈希；用 GET /v1/service-keys 公布的密钥（按 kid）验证；幂等重放返回同一回执。Signed receipt: a JWS (compact serialization) whose payload is { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }, eventHash being the event’s hash in the case’s chain; verify it with the key of its `kid` from GET /v1/service-keys (alg EdDSA: Ed25519; alg SM2SM3: SM2 over SM3 with user id 1234567812345678, signature r‖s of 32 bytes each). A replay carries the same receipt. See docs/receipts.md. */
          Receipt?: string
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "id": "01a249a2-1a8b-70f3-a7e4-6bb4bc85f4a8",
           *       "version": 3,
           *       "status": "under_review",
           *       "late": false,
           *       "lateReason": null,
           *       "applicationDueOn": "2027-01-05",
           *       "reviewDueOn": "2027-02-04",
           *       "reviewTargetOn": "2026-12-21",
           *       "reviewExtensions": [
           *         {
           *           "previousDueOn": "2027-01-05",
           *           "newDueOn": "2027-02-04",
           *           "reason": "案情复杂，经院长批准延长",
           *           "extendedAt": "2026-12-06T04:34:50.262Z"
           *         }
           *       ],
           *       "overdue": false,
           *       "requestedMaterials": null,
           *       "materialRequests": [],
           *       "deemedWithdrawal": null,
           *       "objectionDueOn": null,
           *       "objections": [],
           *       "provisional": true,
           *       "referralId": "01a249a2-1873-7c68-b027-9877cc03bf12",
           *       "courtCode": "京0105",
           *       "organizationId": "bj-cy-blz",
           *       "subject": "ordinary",
           *       "applicants": [
           *         0,
           *         1
           *       ],
           *       "appliedAt": "2026-12-06T04:34:50.103Z",
           *       "agreement": {
           *         "form": "written",
           *         "terms": "李四于本协议生效后三十日内赔偿张三5000元。",
           *         "amount": "5000.00",
           *         "sha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
           *         "sealedAt": "2026-12-06T12:34:49.754+08:00",
           *         "recordedAt": "2026-12-06T04:34:49.760Z",
           *         "signatures": [
           *           {
           *             "signedAt": "2026-12-06T12:34:49.754+08:00",
           *             "partyIndex": 0
           *           },
           *           {
           *             "signedAt": "2026-12-06T12:34:49.754+08:00",
           *             "partyIndex": 1
           *           }
           *         ],
           *         "effectiveAt": "2026-12-06T04:34:49.754Z",
           *         "performance": {
           *           "dueOn": "2027-01-05",
           *           "method": "deferred"
           *         },
           *         "agreementNumber": "朝八调〔2026〕17号",
           *         "mediatorSignedAt": "2026-12-06T12:34:49.754+08:00"
           *       },
           *       "agreementSha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
           *       "parties": [
           *         {
           *           "role": "applicant",
           *           "kind": "natural_person",
           *           "name": "张三",
           *           "idType": "resident_id",
           *           "idNumber": "11010519491231002X",
           *           "phone": "13800138000"
           *         },
           *         {
           *           "role": "respondent",
           *           "kind": "natural_person",
           *           "name": "李四",
           *           "idType": "resident_id",
           *           "idNumber": "440524196001010014"
           *         }
           *       ],
           *       "materials": [],
           *       "venue": null,
           *       "caseNumber": "（2026）京0105诉前调确33939号",
           *       "acceptance": {
           *         "acceptedAt": "2026-12-06T04:34:50.243Z",
           *         "acceptedOn": "2026-12-06",
           *         "caseNumber": "（2026）京0105诉前调确33939号"
           *       },
           *       "notAccepted": null,
           *       "withdrawal": null,
           *       "ruling": null,
           *       "createdAt": "2026-12-06T04:34:50.116Z",
           *       "updatedAt": "2026-12-06T04:34:50.262Z"
           *     }
           */
          'application/json': {
            /** @description UUIDv7 */
            id: string
            version: number
            /**
             * @description applied 已申请 / under_review 审查中 / materials_requested 责令补充材料（民诉法解释 354）/ not_accepted 不予受理 / withdrawn 撤回 / deemed_withdrawn 按撤回申请处理（民诉法解释 357）/ ruled_valid 裁定有效 / ruled_rejected 驳回申请 / objection_filed 已提出异议（民诉法解释 372）/ ruling_revoked 裁定已撤销
             * @enum {string}
             */
            status:
              | 'applied'
              | 'under_review'
              | 'materials_requested'
              | 'not_accepted'
              | 'withdrawn'
              | 'deemed_withdrawn'
              | 'ruled_valid'
              | 'ruled_rejected'
              | 'objection_filed'
              | 'ruling_revoked'
            /** @description 逾期申请（附理由），由法院决定 / applied after the deadline with a reason */
            late: boolean
            lateReason: string | null
            /**
             * Format: date
             * @description YYYY-MM-DD (Asia/Shanghai)
             */
            applicationDueOn: string
            reviewDueOn: string | null
            reviewTargetOn: string | null
            /** @description 审查期限的延长（民事诉讼法 187）/ extensions of the review period */
            reviewExtensions: {
              [key: string]: unknown
            }[]
            /** @description 审查中且已过 reviewDueOn / under review past reviewDueOn */
            overdue: boolean
            requestedMaterials: {
              items: string[]
              /**
               * Format: date
               * @description YYYY-MM-DD (Asia/Shanghai)
               */
              dueOn: string
            } | null
            /** @description 历次责令补充材料及补充情况 / every order to supply materials and what was supplied */
            materialRequests: {
              [key: string]: unknown
            }[]
            deemedWithdrawal: {
              [key: string]: unknown
            } | null
            objectionDueOn: string | null
            /** @description 对裁定提出的异议及其处理（民诉法解释 372）/ objections and the rulings on them */
            objections: {
              [key: string]: unknown
            }[]
            /** @description 期限所依据的年度放假安排尚未公布 / a date depends on an unpublished year */
            provisional: boolean
            referralId: string | null
            courtCode: string
            organizationId: string
            subject: string
            applicants: number[]
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            appliedAt: string
            agreement: {
              [key: string]: unknown
            }
            /** @description 调解协议条款的 SHA-256 / SHA-256 of the agreement terms */
            agreementSha256: string
            parties: {
              role: string
              kind: string
              name: string
              idType: string
              /** @description 非经办方脱敏：前 3 后 4 / masked for all but the court concerned and the handling organization */
              idNumber: string
              phone?: string
              address?: string
              agents?: {
                [key: string]: unknown
              }[]
            }[]
            materials: {
              [key: string]: unknown
            }[]
            venue: {
              [key: string]: unknown
            } | null
            caseNumber: string | null
            acceptance: {
              [key: string]: unknown
            } | null
            notAccepted: {
              [key: string]: unknown
            } | null
            withdrawal: {
              [key: string]: unknown
            } | null
            ruling: {
              [key: string]: unknown
            } | null
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            createdAt: string
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            updatedAt: string
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_json`, `idempotency_key_required` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 冲突 / conflict: `idempotency_key_in_use`, `illegal_transition` */
      409: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 版本号不一致 / If-Match is stale: `version_mismatch` */
      412: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求体过大 / body too large: `payload_too_large` */
      413: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不支持的内容类型 / unsupported media type: `unsupported_media_type` */
      415: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 违反业务规则 / business rule violated: `idempotency_key_reused`, `due_date_not_later` */
      422: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  postV1JudicialConfirmationsIdMaterialRequest: {
    parameters: {
      query?: never
      header: {
        /** @description 幂等键（1–255 个可见 ASCII 字符），同一调用方内唯一；保存至少 24 小时。重放返回所存状态与应答体，其中个人信息按调用方重放时的权限显示（完整显示时记入访问记录）。Idempotency key, scoped to the calling client. A replay answers the stored status and body, with personal data as the caller may see it at the replay (recorded in the access log when shown in full). */
        'idempotency-key': string
        /** @description 乐观并发控制：期望的版本号，如 "3"（GET 应答的 ETag）；不一致 → 412 version_mismatch。Optimistic concurrency: the expected version (the ETag of GET); stale → 412 version_mismatch. */
        'if-match'?: string
      }
      path: {
        /** @description 资源标识 / resource id */
        id: string
      }
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "items": [
         *         "调解组织主持调解的证明",
         *         "申请人身份证明"
         *       ],
         *       "dueOn": "2026-12-15"
         *     }
         */
        'application/json': {
          /** @description 须补充的材料（民诉法解释 354）/ the materials to supply */
          items: string[]
          /** @description 补充期限，须晚于当日；届满（Asia/Shanghai）未补充的按撤回申请处理（民诉法解释 357）/ a future date */
          dueOn: string
        }
      }
    }
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          /** @description 签名回执：JWS 紧凑序列化，载荷 { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }，eventHash 为该事件在案件哈希链中的哈希；用 GET /v1/service-keys 公布的密钥（按 kid）验证；幂等重放返回同一回执。Signed receipt: a JWS (compact serialization) whose payload is { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }, eventHash being the event’s hash in the case’s chain; verify it with the key of its `kid` from GET /v1/service-keys (alg EdDSA: Ed25519; alg SM2SM3: SM2 over SM3 with user id 1234567812345678, signature r‖s of 32 bytes each). A replay carries the same receipt. See docs/receipts.md. */
          Receipt?: string
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "id": "01a249a2-1a8b-70f3-a7e4-6bb4bc85f4a8",
           *       "version": 4,
           *       "status": "materials_requested",
           *       "late": false,
           *       "lateReason": null,
           *       "applicationDueOn": "2027-01-05",
           *       "reviewDueOn": "2027-02-04",
           *       "reviewTargetOn": "2026-12-21",
           *       "reviewExtensions": [
           *         {
           *           "reason": "案情复杂，经院长批准延长",
           *           "newDueOn": "2027-02-04",
           *           "extendedAt": "2026-12-06T04:34:50.262Z",
           *           "previousDueOn": "2027-01-05"
           *         }
           *       ],
           *       "overdue": false,
           *       "requestedMaterials": {
           *         "items": [
           *           "调解组织主持调解的证明",
           *           "申请人身份证明"
           *         ],
           *         "dueOn": "2026-12-20"
           *       },
           *       "materialRequests": [
           *         {
           *           "items": [
           *             "调解组织主持调解的证明",
           *             "申请人身份证明"
           *           ],
           *           "dueOn": "2026-12-20",
           *           "requestedAt": "2026-12-06T04:34:50.290Z"
           *         }
           *       ],
           *       "deemedWithdrawal": null,
           *       "objectionDueOn": null,
           *       "objections": [],
           *       "provisional": true,
           *       "referralId": "01a249a2-1873-7c68-b027-9877cc03bf12",
           *       "courtCode": "京0105",
           *       "organizationId": "bj-cy-blz",
           *       "subject": "ordinary",
           *       "applicants": [
           *         0,
           *         1
           *       ],
           *       "appliedAt": "2026-12-06T04:34:50.103Z",
           *       "agreement": {
           *         "form": "written",
           *         "terms": "李四于本协议生效后三十日内赔偿张三5000元。",
           *         "amount": "5000.00",
           *         "sha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
           *         "sealedAt": "2026-12-06T12:34:49.754+08:00",
           *         "recordedAt": "2026-12-06T04:34:49.760Z",
           *         "signatures": [
           *           {
           *             "signedAt": "2026-12-06T12:34:49.754+08:00",
           *             "partyIndex": 0
           *           },
           *           {
           *             "signedAt": "2026-12-06T12:34:49.754+08:00",
           *             "partyIndex": 1
           *           }
           *         ],
           *         "effectiveAt": "2026-12-06T04:34:49.754Z",
           *         "performance": {
           *           "dueOn": "2027-01-05",
           *           "method": "deferred"
           *         },
           *         "agreementNumber": "朝八调〔2026〕17号",
           *         "mediatorSignedAt": "2026-12-06T12:34:49.754+08:00"
           *       },
           *       "agreementSha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
           *       "parties": [
           *         {
           *           "role": "applicant",
           *           "kind": "natural_person",
           *           "name": "张三",
           *           "idType": "resident_id",
           *           "idNumber": "11010519491231002X",
           *           "phone": "13800138000"
           *         },
           *         {
           *           "role": "respondent",
           *           "kind": "natural_person",
           *           "name": "李四",
           *           "idType": "resident_id",
           *           "idNumber": "440524196001010014"
           *         }
           *       ],
           *       "materials": [],
           *       "venue": null,
           *       "caseNumber": "（2026）京0105诉前调确33939号",
           *       "acceptance": {
           *         "acceptedAt": "2026-12-06T04:34:50.243Z",
           *         "acceptedOn": "2026-12-06",
           *         "caseNumber": "（2026）京0105诉前调确33939号"
           *       },
           *       "notAccepted": null,
           *       "withdrawal": null,
           *       "ruling": null,
           *       "createdAt": "2026-12-06T04:34:50.116Z",
           *       "updatedAt": "2026-12-06T04:34:50.290Z"
           *     }
           */
          'application/json': {
            /** @description UUIDv7 */
            id: string
            version: number
            /**
             * @description applied 已申请 / under_review 审查中 / materials_requested 责令补充材料（民诉法解释 354）/ not_accepted 不予受理 / withdrawn 撤回 / deemed_withdrawn 按撤回申请处理（民诉法解释 357）/ ruled_valid 裁定有效 / ruled_rejected 驳回申请 / objection_filed 已提出异议（民诉法解释 372）/ ruling_revoked 裁定已撤销
             * @enum {string}
             */
            status:
              | 'applied'
              | 'under_review'
              | 'materials_requested'
              | 'not_accepted'
              | 'withdrawn'
              | 'deemed_withdrawn'
              | 'ruled_valid'
              | 'ruled_rejected'
              | 'objection_filed'
              | 'ruling_revoked'
            /** @description 逾期申请（附理由），由法院决定 / applied after the deadline with a reason */
            late: boolean
            lateReason: string | null
            /**
             * Format: date
             * @description YYYY-MM-DD (Asia/Shanghai)
             */
            applicationDueOn: string
            reviewDueOn: string | null
            reviewTargetOn: string | null
            /** @description 审查期限的延长（民事诉讼法 187）/ extensions of the review period */
            reviewExtensions: {
              [key: string]: unknown
            }[]
            /** @description 审查中且已过 reviewDueOn / under review past reviewDueOn */
            overdue: boolean
            requestedMaterials: {
              items: string[]
              /**
               * Format: date
               * @description YYYY-MM-DD (Asia/Shanghai)
               */
              dueOn: string
            } | null
            /** @description 历次责令补充材料及补充情况 / every order to supply materials and what was supplied */
            materialRequests: {
              [key: string]: unknown
            }[]
            deemedWithdrawal: {
              [key: string]: unknown
            } | null
            objectionDueOn: string | null
            /** @description 对裁定提出的异议及其处理（民诉法解释 372）/ objections and the rulings on them */
            objections: {
              [key: string]: unknown
            }[]
            /** @description 期限所依据的年度放假安排尚未公布 / a date depends on an unpublished year */
            provisional: boolean
            referralId: string | null
            courtCode: string
            organizationId: string
            subject: string
            applicants: number[]
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            appliedAt: string
            agreement: {
              [key: string]: unknown
            }
            /** @description 调解协议条款的 SHA-256 / SHA-256 of the agreement terms */
            agreementSha256: string
            parties: {
              role: string
              kind: string
              name: string
              idType: string
              /** @description 非经办方脱敏：前 3 后 4 / masked for all but the court concerned and the handling organization */
              idNumber: string
              phone?: string
              address?: string
              agents?: {
                [key: string]: unknown
              }[]
            }[]
            materials: {
              [key: string]: unknown
            }[]
            venue: {
              [key: string]: unknown
            } | null
            caseNumber: string | null
            acceptance: {
              [key: string]: unknown
            } | null
            notAccepted: {
              [key: string]: unknown
            } | null
            withdrawal: {
              [key: string]: unknown
            } | null
            ruling: {
              [key: string]: unknown
            } | null
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            createdAt: string
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            updatedAt: string
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_json`, `idempotency_key_required` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 冲突 / conflict: `idempotency_key_in_use`, `illegal_transition` */
      409: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 版本号不一致 / If-Match is stale: `version_mismatch` */
      412: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求体过大 / body too large: `payload_too_large` */
      413: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不支持的内容类型 / unsupported media type: `unsupported_media_type` */
      415: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 违反业务规则 / business rule violated: `idempotency_key_reused`, `date_not_in_future` */
      422: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  postV1JudicialConfirmationsIdMaterialSupplement: {
    parameters: {
      query?: never
      header: {
        /** @description 幂等键（1–255 个可见 ASCII 字符），同一调用方内唯一；保存至少 24 小时。重放返回所存状态与应答体，其中个人信息按调用方重放时的权限显示（完整显示时记入访问记录）。Idempotency key, scoped to the calling client. A replay answers the stored status and body, with personal data as the caller may see it at the replay (recorded in the access log when shown in full). */
        'idempotency-key': string
        /** @description 乐观并发控制：期望的版本号，如 "3"（GET 应答的 ETag）；不一致 → 412 version_mismatch。Optimistic concurrency: the expected version (the ETag of GET); stale → 412 version_mismatch. */
        'if-match'?: string
      }
      path: {
        /** @description 资源标识 / resource id */
        id: string
      }
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "materials": [
         *         {
         *           "materialId": "0192f3a4-5b6c-7d8e-9f01-23456789abcd"
         *         }
         *       ],
         *       "note": "已补充主持调解证明"
         *     }
         */
        'application/json': {
          /** @description 补充的材料，至少一项 / at least one material */
          materials: {
            materialId: string
          }[]
          /** @description 说明 / note */
          note?: string
        }
      }
    }
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          /** @description 签名回执：JWS 紧凑序列化，载荷 { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }，eventHash 为该事件在案件哈希链中的哈希；用 GET /v1/service-keys 公布的密钥（按 kid）验证；幂等重放返回同一回执。Signed receipt: a JWS (compact serialization) whose payload is { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }, eventHash being the event’s hash in the case’s chain; verify it with the key of its `kid` from GET /v1/service-keys (alg EdDSA: Ed25519; alg SM2SM3: SM2 over SM3 with user id 1234567812345678, signature r‖s of 32 bytes each). A replay carries the same receipt. See docs/receipts.md. */
          Receipt?: string
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "id": "01a249a2-1a8b-70f3-a7e4-6bb4bc85f4a8",
           *       "version": 5,
           *       "status": "under_review",
           *       "late": false,
           *       "lateReason": null,
           *       "applicationDueOn": "2027-01-05",
           *       "reviewDueOn": "2027-02-04",
           *       "reviewTargetOn": "2026-12-21",
           *       "reviewExtensions": [
           *         {
           *           "reason": "案情复杂，经院长批准延长",
           *           "newDueOn": "2027-02-04",
           *           "extendedAt": "2026-12-06T04:34:50.262Z",
           *           "previousDueOn": "2027-01-05"
           *         }
           *       ],
           *       "overdue": false,
           *       "requestedMaterials": null,
           *       "materialRequests": [
           *         {
           *           "dueOn": "2026-12-20",
           *           "items": [
           *             "调解组织主持调解的证明",
           *             "申请人身份证明"
           *           ],
           *           "requestedAt": "2026-12-06T04:34:50.290Z",
           *           "supplied": {
           *             "materials": [
           *               {
           *                 "materialId": "01a249a2-1850-7f07-8c30-ee44d67ef4f9"
           *               }
           *             ],
           *             "note": "已补充主持调解证明",
           *             "suppliedAt": "2026-12-06T04:34:50.307Z"
           *           }
           *         }
           *       ],
           *       "deemedWithdrawal": null,
           *       "objectionDueOn": null,
           *       "objections": [],
           *       "provisional": true,
           *       "referralId": "01a249a2-1873-7c68-b027-9877cc03bf12",
           *       "courtCode": "京0105",
           *       "organizationId": "bj-cy-blz",
           *       "subject": "ordinary",
           *       "applicants": [
           *         0,
           *         1
           *       ],
           *       "appliedAt": "2026-12-06T04:34:50.103Z",
           *       "agreement": {
           *         "form": "written",
           *         "terms": "李四于本协议生效后三十日内赔偿张三5000元。",
           *         "amount": "5000.00",
           *         "sha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
           *         "sealedAt": "2026-12-06T12:34:49.754+08:00",
           *         "recordedAt": "2026-12-06T04:34:49.760Z",
           *         "signatures": [
           *           {
           *             "signedAt": "2026-12-06T12:34:49.754+08:00",
           *             "partyIndex": 0
           *           },
           *           {
           *             "signedAt": "2026-12-06T12:34:49.754+08:00",
           *             "partyIndex": 1
           *           }
           *         ],
           *         "effectiveAt": "2026-12-06T04:34:49.754Z",
           *         "performance": {
           *           "dueOn": "2027-01-05",
           *           "method": "deferred"
           *         },
           *         "agreementNumber": "朝八调〔2026〕17号",
           *         "mediatorSignedAt": "2026-12-06T12:34:49.754+08:00"
           *       },
           *       "agreementSha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
           *       "parties": [
           *         {
           *           "role": "applicant",
           *           "kind": "natural_person",
           *           "name": "张三",
           *           "idType": "resident_id",
           *           "idNumber": "11010519491231002X",
           *           "phone": "13800138000"
           *         },
           *         {
           *           "role": "respondent",
           *           "kind": "natural_person",
           *           "name": "李四",
           *           "idType": "resident_id",
           *           "idNumber": "440524196001010014"
           *         }
           *       ],
           *       "materials": [
           *         {
           *           "materialId": "01a249a2-1850-7f07-8c30-ee44d67ef4f9"
           *         }
           *       ],
           *       "venue": null,
           *       "caseNumber": "（2026）京0105诉前调确33939号",
           *       "acceptance": {
           *         "acceptedAt": "2026-12-06T04:34:50.243Z",
           *         "acceptedOn": "2026-12-06",
           *         "caseNumber": "（2026）京0105诉前调确33939号"
           *       },
           *       "notAccepted": null,
           *       "withdrawal": null,
           *       "ruling": null,
           *       "createdAt": "2026-12-06T04:34:50.116Z",
           *       "updatedAt": "2026-12-06T04:34:50.307Z"
           *     }
           */
          'application/json': {
            /** @description UUIDv7 */
            id: string
            version: number
            /**
             * @description applied 已申请 / under_review 审查中 / materials_requested 责令补充材料（民诉法解释 354）/ not_accepted 不予受理 / withdrawn 撤回 / deemed_withdrawn 按撤回申请处理（民诉法解释 357）/ ruled_valid 裁定有效 / ruled_rejected 驳回申请 / objection_filed 已提出异议（民诉法解释 372）/ ruling_revoked 裁定已撤销
             * @enum {string}
             */
            status:
              | 'applied'
              | 'under_review'
              | 'materials_requested'
              | 'not_accepted'
              | 'withdrawn'
              | 'deemed_withdrawn'
              | 'ruled_valid'
              | 'ruled_rejected'
              | 'objection_filed'
              | 'ruling_revoked'
            /** @description 逾期申请（附理由），由法院决定 / applied after the deadline with a reason */
            late: boolean
            lateReason: string | null
            /**
             * Format: date
             * @description YYYY-MM-DD (Asia/Shanghai)
             */
            applicationDueOn: string
            reviewDueOn: string | null
            reviewTargetOn: string | null
            /** @description 审查期限的延长（民事诉讼法 187）/ extensions of the review period */
            reviewExtensions: {
              [key: string]: unknown
            }[]
            /** @description 审查中且已过 reviewDueOn / under review past reviewDueOn */
            overdue: boolean
            requestedMaterials: {
              items: string[]
              /**
               * Format: date
               * @description YYYY-MM-DD (Asia/Shanghai)
               */
              dueOn: string
            } | null
            /** @description 历次责令补充材料及补充情况 / every order to supply materials and what was supplied */
            materialRequests: {
              [key: string]: unknown
            }[]
            deemedWithdrawal: {
              [key: string]: unknown
            } | null
            objectionDueOn: string | null
            /** @description 对裁定提出的异议及其处理（民诉法解释 372）/ objections and the rulings on them */
            objections: {
              [key: string]: unknown
            }[]
            /** @description 期限所依据的年度放假安排尚未公布 / a date depends on an unpublished year */
            provisional: boolean
            referralId: string | null
            courtCode: string
            organizationId: string
            subject: string
            applicants: number[]
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            appliedAt: string
            agreement: {
              [key: string]: unknown
            }
            /** @description 调解协议条款的 SHA-256 / SHA-256 of the agreement terms */
            agreementSha256: string
            parties: {
              role: string
              kind: string
              name: string
              idType: string
              /** @description 非经办方脱敏：前 3 后 4 / masked for all but the court concerned and the handling organization */
              idNumber: string
              phone?: string
              address?: string
              agents?: {
                [key: string]: unknown
              }[]
            }[]
            materials: {
              [key: string]: unknown
            }[]
            venue: {
              [key: string]: unknown
            } | null
            caseNumber: string | null
            acceptance: {
              [key: string]: unknown
            } | null
            notAccepted: {
              [key: string]: unknown
            } | null
            withdrawal: {
              [key: string]: unknown
            } | null
            ruling: {
              [key: string]: unknown
            } | null
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            createdAt: string
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            updatedAt: string
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_json`, `idempotency_key_required` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 冲突 / conflict: `idempotency_key_in_use`, `illegal_transition` */
      409: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 版本号不一致 / If-Match is stale: `version_mismatch` */
      412: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求体过大 / body too large: `payload_too_large` */
      413: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不支持的内容类型 / unsupported media type: `unsupported_media_type` */
      415: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 违反业务规则 / business rule violated: `idempotency_key_reused`, `supplement_deadline_passed`, `unknown_material` */
      422: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  postV1JudicialConfirmationsIdObjection: {
    parameters: {
      query?: never
      header: {
        /** @description 幂等键（1–255 个可见 ASCII 字符），同一调用方内唯一；保存至少 24 小时。重放返回所存状态与应答体，其中个人信息按调用方重放时的权限显示（完整显示时记入访问记录）。Idempotency key, scoped to the calling client. A replay answers the stored status and body, with personal data as the caller may see it at the replay (recorded in the access log when shown in full). */
        'idempotency-key': string
        /** @description 乐观并发控制：期望的版本号，如 "3"（GET 应答的 ETag）；不一致 → 412 version_mismatch。Optimistic concurrency: the expected version (the ETag of GET); stale → 412 version_mismatch. */
        'if-match'?: string
      }
      path: {
        /** @description 资源标识 / resource id */
        id: string
      }
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "by": "party",
         *       "partyIndex": 1,
         *       "filedOn": "2026-12-01",
         *       "grounds": "调解协议内容违反法律强制性规定"
         *     }
         */
        'application/json': {
          /**
           * @description party 当事人 / interested_person 利害关系人（民诉法解释 372）
           * @enum {string}
           */
          by: 'party' | 'interested_person'
          /** @description 当事人提出时必填 / required when a party objects */
          partyIndex?: number
          /** @description 提出异议之日 / date the objection was filed */
          filedOn: string
          /** @description 利害关系人知道或应当知道其权益受侵害之日（利害关系人必填）/ required for an interested person */
          knewOn?: string
          /** @description 异议理由 / grounds */
          grounds: string
        }
      }
    }
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          /** @description 签名回执：JWS 紧凑序列化，载荷 { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }，eventHash 为该事件在案件哈希链中的哈希；用 GET /v1/service-keys 公布的密钥（按 kid）验证；幂等重放返回同一回执。Signed receipt: a JWS (compact serialization) whose payload is { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }, eventHash being the event’s hash in the case’s chain; verify it with the key of its `kid` from GET /v1/service-keys (alg EdDSA: Ed25519; alg SM2SM3: SM2 over SM3 with user id 1234567812345678, signature r‖s of 32 bytes each). A replay carries the same receipt. See docs/receipts.md. */
          Receipt?: string
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "id": "01a249a2-1a8b-70f3-a7e4-6bb4bc85f4a8",
           *       "version": 7,
           *       "status": "objection_filed",
           *       "late": false,
           *       "lateReason": null,
           *       "applicationDueOn": "2027-01-05",
           *       "reviewDueOn": "2027-02-04",
           *       "reviewTargetOn": "2026-12-21",
           *       "reviewExtensions": [
           *         {
           *           "reason": "案情复杂，经院长批准延长",
           *           "newDueOn": "2027-02-04",
           *           "extendedAt": "2026-12-06T04:34:50.262Z",
           *           "previousDueOn": "2027-01-05"
           *         }
           *       ],
           *       "overdue": false,
           *       "requestedMaterials": null,
           *       "materialRequests": [
           *         {
           *           "dueOn": "2026-12-20",
           *           "items": [
           *             "调解组织主持调解的证明",
           *             "申请人身份证明"
           *           ],
           *           "supplied": {
           *             "note": "已补充主持调解证明",
           *             "materials": [
           *               {
           *                 "materialId": "01a249a2-1850-7f07-8c30-ee44d67ef4f9"
           *               }
           *             ],
           *             "suppliedAt": "2026-12-06T04:34:50.307Z"
           *           },
           *           "requestedAt": "2026-12-06T04:34:50.290Z"
           *         }
           *       ],
           *       "deemedWithdrawal": null,
           *       "objectionDueOn": "2026-12-21",
           *       "objections": [
           *         {
           *           "by": "party",
           *           "partyIndex": 1,
           *           "filedOn": "2026-12-06",
           *           "grounds": "调解协议内容违反法律强制性规定",
           *           "dueOn": "2026-12-21",
           *           "recordedAt": "2026-12-06T04:34:50.357Z"
           *         }
           *       ],
           *       "provisional": true,
           *       "referralId": "01a249a2-1873-7c68-b027-9877cc03bf12",
           *       "courtCode": "京0105",
           *       "organizationId": "bj-cy-blz",
           *       "subject": "ordinary",
           *       "applicants": [
           *         0,
           *         1
           *       ],
           *       "appliedAt": "2026-12-06T04:34:50.103Z",
           *       "agreement": {
           *         "form": "written",
           *         "terms": "李四于本协议生效后三十日内赔偿张三5000元。",
           *         "amount": "5000.00",
           *         "sha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
           *         "sealedAt": "2026-12-06T12:34:49.754+08:00",
           *         "recordedAt": "2026-12-06T04:34:49.760Z",
           *         "signatures": [
           *           {
           *             "signedAt": "2026-12-06T12:34:49.754+08:00",
           *             "partyIndex": 0
           *           },
           *           {
           *             "signedAt": "2026-12-06T12:34:49.754+08:00",
           *             "partyIndex": 1
           *           }
           *         ],
           *         "effectiveAt": "2026-12-06T04:34:49.754Z",
           *         "performance": {
           *           "dueOn": "2027-01-05",
           *           "method": "deferred"
           *         },
           *         "agreementNumber": "朝八调〔2026〕17号",
           *         "mediatorSignedAt": "2026-12-06T12:34:49.754+08:00"
           *       },
           *       "agreementSha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
           *       "parties": [
           *         {
           *           "role": "applicant",
           *           "kind": "natural_person",
           *           "name": "张三",
           *           "idType": "resident_id",
           *           "idNumber": "11010519491231002X",
           *           "phone": "13800138000"
           *         },
           *         {
           *           "role": "respondent",
           *           "kind": "natural_person",
           *           "name": "李四",
           *           "idType": "resident_id",
           *           "idNumber": "440524196001010014"
           *         }
           *       ],
           *       "materials": [
           *         {
           *           "materialId": "01a249a2-1850-7f07-8c30-ee44d67ef4f9"
           *         }
           *       ],
           *       "venue": null,
           *       "caseNumber": "（2026）京0105诉前调确33939号",
           *       "acceptance": {
           *         "acceptedAt": "2026-12-06T04:34:50.243Z",
           *         "acceptedOn": "2026-12-06",
           *         "caseNumber": "（2026）京0105诉前调确33939号"
           *       },
           *       "notAccepted": null,
           *       "withdrawal": null,
           *       "ruling": {
           *         "result": "valid",
           *         "ruledOn": "2026-12-06",
           *         "servedOn": "2026-12-06",
           *         "recordedAt": "2026-12-06T04:34:50.333Z",
           *         "rulingNumber": "（2026）京0105诉前调确33940号",
           *         "agreementSha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286"
           *       },
           *       "createdAt": "2026-12-06T04:34:50.116Z",
           *       "updatedAt": "2026-12-06T04:34:50.357Z"
           *     }
           */
          'application/json': {
            /** @description UUIDv7 */
            id: string
            version: number
            /**
             * @description applied 已申请 / under_review 审查中 / materials_requested 责令补充材料（民诉法解释 354）/ not_accepted 不予受理 / withdrawn 撤回 / deemed_withdrawn 按撤回申请处理（民诉法解释 357）/ ruled_valid 裁定有效 / ruled_rejected 驳回申请 / objection_filed 已提出异议（民诉法解释 372）/ ruling_revoked 裁定已撤销
             * @enum {string}
             */
            status:
              | 'applied'
              | 'under_review'
              | 'materials_requested'
              | 'not_accepted'
              | 'withdrawn'
              | 'deemed_withdrawn'
              | 'ruled_valid'
              | 'ruled_rejected'
              | 'objection_filed'
              | 'ruling_revoked'
            /** @description 逾期申请（附理由），由法院决定 / applied after the deadline with a reason */
            late: boolean
            lateReason: string | null
            /**
             * Format: date
             * @description YYYY-MM-DD (Asia/Shanghai)
             */
            applicationDueOn: string
            reviewDueOn: string | null
            reviewTargetOn: string | null
            /** @description 审查期限的延长（民事诉讼法 187）/ extensions of the review period */
            reviewExtensions: {
              [key: string]: unknown
            }[]
            /** @description 审查中且已过 reviewDueOn / under review past reviewDueOn */
            overdue: boolean
            requestedMaterials: {
              items: string[]
              /**
               * Format: date
               * @description YYYY-MM-DD (Asia/Shanghai)
               */
              dueOn: string
            } | null
            /** @description 历次责令补充材料及补充情况 / every order to supply materials and what was supplied */
            materialRequests: {
              [key: string]: unknown
            }[]
            deemedWithdrawal: {
              [key: string]: unknown
            } | null
            objectionDueOn: string | null
            /** @description 对裁定提出的异议及其处理（民诉法解释 372）/ objections and the rulings on them */
            objections: {
              [key: string]: unknown
            }[]
            /** @description 期限所依据的年度放假安排尚未公布 / a date depends on an unpublished year */
            provisional: boolean
            referralId: string | null
            courtCode: string
            organizationId: string
            subject: string
            applicants: number[]
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            appliedAt: string
            agreement: {
              [key: string]: unknown
            }
            /** @description 调解协议条款的 SHA-256 / SHA-256 of the agreement terms */
            agreementSha256: string
            parties: {
              role: string
              kind: string
              name: string
              idType: string
              /** @description 非经办方脱敏：前 3 后 4 / masked for all but the court concerned and the handling organization */
              idNumber: string
              phone?: string
              address?: string
              agents?: {
                [key: string]: unknown
              }[]
            }[]
            materials: {
              [key: string]: unknown
            }[]
            venue: {
              [key: string]: unknown
            } | null
            caseNumber: string | null
            acceptance: {
              [key: string]: unknown
            } | null
            notAccepted: {
              [key: string]: unknown
            } | null
            withdrawal: {
              [key: string]: unknown
            } | null
            ruling: {
              [key: string]: unknown
            } | null
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            createdAt: string
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            updatedAt: string
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_json`, `idempotency_key_required` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 冲突 / conflict: `idempotency_key_in_use`, `illegal_transition` */
      409: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 版本号不一致 / If-Match is stale: `version_mismatch` */
      412: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求体过大 / body too large: `payload_too_large` */
      413: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不支持的内容类型 / unsupported media type: `unsupported_media_type` */
      415: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 违反业务规则 / business rule violated: `idempotency_key_reused`, `date_in_future`, `date_before_ruling`, `date_before_knowledge`, `objection_deadline_passed` */
      422: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  postV1JudicialConfirmationsIdObjectionRuling: {
    parameters: {
      query?: never
      header: {
        /** @description 幂等键（1–255 个可见 ASCII 字符），同一调用方内唯一；保存至少 24 小时。重放返回所存状态与应答体，其中个人信息按调用方重放时的权限显示（完整显示时记入访问记录）。Idempotency key, scoped to the calling client. A replay answers the stored status and body, with personal data as the caller may see it at the replay (recorded in the access log when shown in full). */
        'idempotency-key': string
        /** @description 乐观并发控制：期望的版本号，如 "3"（GET 应答的 ETag）；不一致 → 412 version_mismatch。Optimistic concurrency: the expected version (the ETag of GET); stale → 412 version_mismatch. */
        'if-match'?: string
      }
      path: {
        /** @description 资源标识 / resource id */
        id: string
      }
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "result": "dismissed",
         *       "ruledOn": "2026-12-01",
         *       "rulingNumber": "（2026）京0105民特监1号"
         *     }
         */
        'application/json': {
          /**
           * @description revoked 撤销原裁定 / dismissed 驳回异议
           * @enum {string}
           */
          result: 'revoked' | 'dismissed'
          /** @description 裁定日期 / date of the ruling on the objection */
          ruledOn: string
          /** @description 裁定书文号 / ruling number */
          rulingNumber: string
        }
      }
    }
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          /** @description 签名回执：JWS 紧凑序列化，载荷 { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }，eventHash 为该事件在案件哈希链中的哈希；用 GET /v1/service-keys 公布的密钥（按 kid）验证；幂等重放返回同一回执。Signed receipt: a JWS (compact serialization) whose payload is { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }, eventHash being the event’s hash in the case’s chain; verify it with the key of its `kid` from GET /v1/service-keys (alg EdDSA: Ed25519; alg SM2SM3: SM2 over SM3 with user id 1234567812345678, signature r‖s of 32 bytes each). A replay carries the same receipt. See docs/receipts.md. */
          Receipt?: string
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "id": "01a249a2-1a8b-70f3-a7e4-6bb4bc85f4a8",
           *       "version": 8,
           *       "status": "ruled_valid",
           *       "late": false,
           *       "lateReason": null,
           *       "applicationDueOn": "2027-01-05",
           *       "reviewDueOn": "2027-02-04",
           *       "reviewTargetOn": "2026-12-21",
           *       "reviewExtensions": [
           *         {
           *           "reason": "案情复杂，经院长批准延长",
           *           "newDueOn": "2027-02-04",
           *           "extendedAt": "2026-12-06T04:34:50.262Z",
           *           "previousDueOn": "2027-01-05"
           *         }
           *       ],
           *       "overdue": false,
           *       "requestedMaterials": null,
           *       "materialRequests": [
           *         {
           *           "dueOn": "2026-12-20",
           *           "items": [
           *             "调解组织主持调解的证明",
           *             "申请人身份证明"
           *           ],
           *           "supplied": {
           *             "note": "已补充主持调解证明",
           *             "materials": [
           *               {
           *                 "materialId": "01a249a2-1850-7f07-8c30-ee44d67ef4f9"
           *               }
           *             ],
           *             "suppliedAt": "2026-12-06T04:34:50.307Z"
           *           },
           *           "requestedAt": "2026-12-06T04:34:50.290Z"
           *         }
           *       ],
           *       "deemedWithdrawal": null,
           *       "objectionDueOn": "2026-12-21",
           *       "objections": [
           *         {
           *           "by": "party",
           *           "dueOn": "2026-12-21",
           *           "filedOn": "2026-12-06",
           *           "grounds": "调解协议内容违反法律强制性规定",
           *           "partyIndex": 1,
           *           "recordedAt": "2026-12-06T04:34:50.357Z",
           *           "ruling": {
           *             "result": "dismissed",
           *             "ruledOn": "2026-12-06",
           *             "rulingNumber": "（2026）京0105民特监33941号",
           *             "recordedAt": "2026-12-06T04:34:50.386Z"
           *           }
           *         }
           *       ],
           *       "provisional": true,
           *       "referralId": "01a249a2-1873-7c68-b027-9877cc03bf12",
           *       "courtCode": "京0105",
           *       "organizationId": "bj-cy-blz",
           *       "subject": "ordinary",
           *       "applicants": [
           *         0,
           *         1
           *       ],
           *       "appliedAt": "2026-12-06T04:34:50.103Z",
           *       "agreement": {
           *         "form": "written",
           *         "terms": "李四于本协议生效后三十日内赔偿张三5000元。",
           *         "amount": "5000.00",
           *         "sha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
           *         "sealedAt": "2026-12-06T12:34:49.754+08:00",
           *         "recordedAt": "2026-12-06T04:34:49.760Z",
           *         "signatures": [
           *           {
           *             "signedAt": "2026-12-06T12:34:49.754+08:00",
           *             "partyIndex": 0
           *           },
           *           {
           *             "signedAt": "2026-12-06T12:34:49.754+08:00",
           *             "partyIndex": 1
           *           }
           *         ],
           *         "effectiveAt": "2026-12-06T04:34:49.754Z",
           *         "performance": {
           *           "dueOn": "2027-01-05",
           *           "method": "deferred"
           *         },
           *         "agreementNumber": "朝八调〔2026〕17号",
           *         "mediatorSignedAt": "2026-12-06T12:34:49.754+08:00"
           *       },
           *       "agreementSha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
           *       "parties": [
           *         {
           *           "role": "applicant",
           *           "kind": "natural_person",
           *           "name": "张三",
           *           "idType": "resident_id",
           *           "idNumber": "11010519491231002X",
           *           "phone": "13800138000"
           *         },
           *         {
           *           "role": "respondent",
           *           "kind": "natural_person",
           *           "name": "李四",
           *           "idType": "resident_id",
           *           "idNumber": "440524196001010014"
           *         }
           *       ],
           *       "materials": [
           *         {
           *           "materialId": "01a249a2-1850-7f07-8c30-ee44d67ef4f9"
           *         }
           *       ],
           *       "venue": null,
           *       "caseNumber": "（2026）京0105诉前调确33939号",
           *       "acceptance": {
           *         "acceptedAt": "2026-12-06T04:34:50.243Z",
           *         "acceptedOn": "2026-12-06",
           *         "caseNumber": "（2026）京0105诉前调确33939号"
           *       },
           *       "notAccepted": null,
           *       "withdrawal": null,
           *       "ruling": {
           *         "result": "valid",
           *         "ruledOn": "2026-12-06",
           *         "servedOn": "2026-12-06",
           *         "recordedAt": "2026-12-06T04:34:50.333Z",
           *         "rulingNumber": "（2026）京0105诉前调确33940号",
           *         "agreementSha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286"
           *       },
           *       "createdAt": "2026-12-06T04:34:50.116Z",
           *       "updatedAt": "2026-12-06T04:34:50.386Z"
           *     }
           */
          'application/json': {
            /** @description UUIDv7 */
            id: string
            version: number
            /**
             * @description applied 已申请 / under_review 审查中 / materials_requested 责令补充材料（民诉法解释 354）/ not_accepted 不予受理 / withdrawn 撤回 / deemed_withdrawn 按撤回申请处理（民诉法解释 357）/ ruled_valid 裁定有效 / ruled_rejected 驳回申请 / objection_filed 已提出异议（民诉法解释 372）/ ruling_revoked 裁定已撤销
             * @enum {string}
             */
            status:
              | 'applied'
              | 'under_review'
              | 'materials_requested'
              | 'not_accepted'
              | 'withdrawn'
              | 'deemed_withdrawn'
              | 'ruled_valid'
              | 'ruled_rejected'
              | 'objection_filed'
              | 'ruling_revoked'
            /** @description 逾期申请（附理由），由法院决定 / applied after the deadline with a reason */
            late: boolean
            lateReason: string | null
            /**
             * Format: date
             * @description YYYY-MM-DD (Asia/Shanghai)
             */
            applicationDueOn: string
            reviewDueOn: string | null
            reviewTargetOn: string | null
            /** @description 审查期限的延长（民事诉讼法 187）/ extensions of the review period */
            reviewExtensions: {
              [key: string]: unknown
            }[]
            /** @description 审查中且已过 reviewDueOn / under review past reviewDueOn */
            overdue: boolean
            requestedMaterials: {
              items: string[]
              /**
               * Format: date
               * @description YYYY-MM-DD (Asia/Shanghai)
               */
              dueOn: string
            } | null
            /** @description 历次责令补充材料及补充情况 / every order to supply materials and what was supplied */
            materialRequests: {
              [key: string]: unknown
            }[]
            deemedWithdrawal: {
              [key: string]: unknown
            } | null
            objectionDueOn: string | null
            /** @description 对裁定提出的异议及其处理（民诉法解释 372）/ objections and the rulings on them */
            objections: {
              [key: string]: unknown
            }[]
            /** @description 期限所依据的年度放假安排尚未公布 / a date depends on an unpublished year */
            provisional: boolean
            referralId: string | null
            courtCode: string
            organizationId: string
            subject: string
            applicants: number[]
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            appliedAt: string
            agreement: {
              [key: string]: unknown
            }
            /** @description 调解协议条款的 SHA-256 / SHA-256 of the agreement terms */
            agreementSha256: string
            parties: {
              role: string
              kind: string
              name: string
              idType: string
              /** @description 非经办方脱敏：前 3 后 4 / masked for all but the court concerned and the handling organization */
              idNumber: string
              phone?: string
              address?: string
              agents?: {
                [key: string]: unknown
              }[]
            }[]
            materials: {
              [key: string]: unknown
            }[]
            venue: {
              [key: string]: unknown
            } | null
            caseNumber: string | null
            acceptance: {
              [key: string]: unknown
            } | null
            notAccepted: {
              [key: string]: unknown
            } | null
            withdrawal: {
              [key: string]: unknown
            } | null
            ruling: {
              [key: string]: unknown
            } | null
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            createdAt: string
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            updatedAt: string
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_json`, `idempotency_key_required` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 冲突 / conflict: `idempotency_key_in_use`, `illegal_transition` */
      409: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 版本号不一致 / If-Match is stale: `version_mismatch` */
      412: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求体过大 / body too large: `payload_too_large` */
      413: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不支持的内容类型 / unsupported media type: `unsupported_media_type` */
      415: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 违反业务规则 / business rule violated: `idempotency_key_reused`, `date_in_future`, `date_before_objection` */
      422: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  getV1Subscriptions: {
    parameters: {
      query?: {
        clientId?: string
        /** @description 每页条数 1–200 / page size */
        limit?: number
        /** @description 不透明游标 / opaque cursor from nextCursor */
        cursor?: string
      }
      header?: never
      path?: never
      cookie?: never
    }
    requestBody?: never
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "items": [
           *         {
           *           "id": "01a249a2-183c-76ed-98a9-8a0203831a61",
           *           "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d",
           *           "url": "http://127.0.0.1:46737/hook",
           *           "eventTypes": [
           *             "*"
           *           ],
           *           "description": "朝阳法院业务系统",
           *           "allowPrivateNetwork": true,
           *           "signatureAlgorithm": "hmac-sha256",
           *           "enabled": true,
           *           "disabledReason": null,
           *           "disabledAt": null,
           *           "previousSecretExpiresAt": null,
           *           "createdAt": "2026-12-06T04:34:49.525Z",
           *           "updatedAt": "2026-12-06T04:34:49.525Z"
           *         },
           *         {
           *           "id": "01a249a2-1847-7284-973e-d63d2044f15d",
           *           "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d",
           *           "url": "http://127.0.0.1:38745/hook",
           *           "eventTypes": [
           *             "referral.created"
           *           ],
           *           "description": null,
           *           "allowPrivateNetwork": true,
           *           "signatureAlgorithm": "hmac-sha256",
           *           "enabled": true,
           *           "disabledReason": null,
           *           "disabledAt": null,
           *           "previousSecretExpiresAt": null,
           *           "createdAt": "2026-12-06T04:34:49.541Z",
           *           "updatedAt": "2026-12-06T04:34:49.541Z"
           *         }
           *       ],
           *       "nextCursor": null
           *     }
           */
          'application/json': {
            items: components['schemas']['Subscription'][]
            nextCursor: string | null
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_cursor` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  postV1Subscriptions: {
    parameters: {
      query?: never
      header: {
        /** @description 幂等键（1–255 个可见 ASCII 字符），同一调用方内唯一；保存至少 24 小时。重放返回所存状态与应答体，其中个人信息按调用方重放时的权限显示（完整显示时记入访问记录）。Idempotency key, scoped to the calling client. A replay answers the stored status and body, with personal data as the caller may see it at the replay (recorded in the access log when shown in full). */
        'idempotency-key': string
      }
      path?: never
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "clientId": "0192f0c4-8d1e-7c3a-9b1e-2f5d6a7b8c9d",
         *       "url": "https://court.example.cn/zdz/webhooks",
         *       "eventTypes": [
         *         "*"
         *       ],
         *       "description": "朝阳法院业务系统"
         *     }
         */
        'application/json': {
          /** @description 接收方调用方：其读取范围决定推送哪些事件 / the client whose read scope decides which events are sent */
          clientId: string
          /** @description http(s) 接收地址；回环、内网、链路本地与云元数据地址被拒绝 / http(s) endpoint; loopback, private, link-local and metadata addresses are refused */
          url: string
          /**
           * @description 订阅的事件类型，或 ["*"] 表示全部 / event types to receive, or ["*"] for all
           * @example [
           *       "referral.created",
           *       "referral.accepted"
           *     ]
           * @example [
           *       "*"
           *     ]
           */
          eventTypes: string[]
          description?: string
          /** @description 允许回环与内网地址（链路本地与元数据地址始终拒绝）/ admit loopback and private addresses (never link-local or metadata) */
          allowPrivateNetwork?: boolean
          /**
           * @description 签名算法：hmac-sha256（默认，v1）或 hmac-sm3（国密，sm3）/ signature algorithm
           * @enum {string}
           */
          signatureAlgorithm?: 'hmac-sha256' | 'hmac-sm3'
        }
      }
    }
    responses: {
      /** @description Default Response */
      201: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "id": "01a249a2-183c-76ed-98a9-8a0203831a61",
           *       "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d",
           *       "url": "http://127.0.0.1:46737/hook",
           *       "eventTypes": [
           *         "*"
           *       ],
           *       "description": "朝阳法院业务系统",
           *       "allowPrivateNetwork": true,
           *       "signatureAlgorithm": "hmac-sha256",
           *       "enabled": true,
           *       "disabledReason": null,
           *       "disabledAt": null,
           *       "previousSecretExpiresAt": null,
           *       "createdAt": "2026-12-06T04:34:49.525Z",
           *       "updatedAt": "2026-12-06T04:34:49.525Z",
           *       "secret": "whsec_KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio="
           *     }
           */
          'application/json': {
            id: string
            clientId: string
            url: string
            eventTypes: string[]
            description: string | null
            allowPrivateNetwork: boolean
            signatureAlgorithm: string
            enabled: boolean
            disabledReason: string | null
            disabledAt: string | null
            previousSecretExpiresAt: string | null
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            createdAt: string
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            updatedAt: string
            secret: string | null
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_json`, `idempotency_key_required` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 冲突 / conflict: `idempotency_key_in_use` */
      409: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求体过大 / body too large: `payload_too_large` */
      413: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不支持的内容类型 / unsupported media type: `unsupported_media_type` */
      415: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 违反业务规则 / business rule violated: `idempotency_key_reused`, `unknown_client`, `url_not_allowed` */
      422: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  getV1SubscriptionsId: {
    parameters: {
      query?: never
      header?: never
      path: {
        /** @description 资源标识 / resource id */
        id: string
      }
      cookie?: never
    }
    requestBody?: never
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "id": "01a249a2-183c-76ed-98a9-8a0203831a61",
           *       "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d",
           *       "url": "http://127.0.0.1:46737/hook",
           *       "eventTypes": [
           *         "*"
           *       ],
           *       "description": "朝阳法院业务系统",
           *       "allowPrivateNetwork": true,
           *       "signatureAlgorithm": "hmac-sha256",
           *       "enabled": true,
           *       "disabledReason": null,
           *       "disabledAt": null,
           *       "previousSecretExpiresAt": null,
           *       "createdAt": "2026-12-06T04:34:49.525Z",
           *       "updatedAt": "2026-12-06T04:34:49.525Z"
           *     }
           */
          'application/json': {
            id: string
            clientId: string
            url: string
            eventTypes: string[]
            description: string | null
            allowPrivateNetwork: boolean
            signatureAlgorithm: string
            enabled: boolean
            disabledReason: string | null
            disabledAt: string | null
            previousSecretExpiresAt: string | null
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            createdAt: string
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            updatedAt: string
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  deleteV1SubscriptionsId: {
    parameters: {
      query?: never
      header?: never
      path: {
        /** @description 资源标识 / resource id */
        id: string
      }
      cookie?: never
    }
    requestBody?: never
    responses: {
      /** @description 已删除 / deleted */
      204: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 请求无效 / invalid request: `validation_failed` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  patchV1SubscriptionsId: {
    parameters: {
      query?: never
      header?: never
      path: {
        /** @description 资源标识 / resource id */
        id: string
      }
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "enabled": true
         *     }
         */
        'application/json': {
          /** @description http(s) 接收地址；回环、内网、链路本地与云元数据地址被拒绝 / http(s) endpoint; loopback, private, link-local and metadata addresses are refused */
          url?: string
          /**
           * @description 订阅的事件类型，或 ["*"] 表示全部 / event types to receive, or ["*"] for all
           * @example [
           *       "referral.created",
           *       "referral.accepted"
           *     ]
           * @example [
           *       "*"
           *     ]
           */
          eventTypes?: string[]
          description?: string | null
          /** @description 允许回环与内网地址（链路本地与元数据地址始终拒绝）/ admit loopback and private addresses (never link-local or metadata) */
          allowPrivateNetwork?: boolean
          /** @description 启用/停用；收到 410 后自动停用 / enable or disable; a 410 Gone disables it */
          enabled?: boolean
        }
      }
    }
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "id": "01a249a2-183c-76ed-98a9-8a0203831a61",
           *       "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d",
           *       "url": "http://127.0.0.1:46737/hook",
           *       "eventTypes": [
           *         "*"
           *       ],
           *       "description": "朝阳法院业务系统",
           *       "allowPrivateNetwork": true,
           *       "signatureAlgorithm": "hmac-sha256",
           *       "enabled": true,
           *       "disabledReason": null,
           *       "disabledAt": null,
           *       "previousSecretExpiresAt": null,
           *       "createdAt": "2026-12-06T04:34:49.525Z",
           *       "updatedAt": "2026-12-06T04:34:50.927Z"
           *     }
           */
          'application/json': {
            id: string
            clientId: string
            url: string
            eventTypes: string[]
            description: string | null
            allowPrivateNetwork: boolean
            signatureAlgorithm: string
            enabled: boolean
            disabledReason: string | null
            disabledAt: string | null
            previousSecretExpiresAt: string | null
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            createdAt: string
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            updatedAt: string
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_json` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求体过大 / body too large: `payload_too_large` */
      413: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不支持的内容类型 / unsupported media type: `unsupported_media_type` */
      415: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 违反业务规则 / business rule violated: `url_not_allowed` */
      422: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  postV1SubscriptionsIdSecretRotation: {
    parameters: {
      query?: never
      header: {
        /** @description 幂等键（1–255 个可见 ASCII 字符），同一调用方内唯一；保存至少 24 小时。重放返回所存状态与应答体，其中个人信息按调用方重放时的权限显示（完整显示时记入访问记录）。Idempotency key, scoped to the calling client. A replay answers the stored status and body, with personal data as the caller may see it at the replay (recorded in the access log when shown in full). */
        'idempotency-key': string
      }
      path: {
        /** @description 资源标识 / resource id */
        id: string
      }
      cookie?: never
    }
    requestBody?: never
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "id": "01a249a2-183c-76ed-98a9-8a0203831a61",
           *       "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d",
           *       "url": "http://127.0.0.1:46737/hook",
           *       "eventTypes": [
           *         "*"
           *       ],
           *       "description": "朝阳法院业务系统",
           *       "allowPrivateNetwork": true,
           *       "signatureAlgorithm": "hmac-sha256",
           *       "enabled": true,
           *       "disabledReason": null,
           *       "disabledAt": null,
           *       "previousSecretExpiresAt": "2026-12-07T04:34:50.939Z",
           *       "createdAt": "2026-12-06T04:34:49.525Z",
           *       "updatedAt": "2026-12-06T04:34:50.939Z",
           *       "secret": "whsec_KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio="
           *     }
           */
          'application/json': {
            id: string
            clientId: string
            url: string
            eventTypes: string[]
            description: string | null
            allowPrivateNetwork: boolean
            signatureAlgorithm: string
            enabled: boolean
            disabledReason: string | null
            disabledAt: string | null
            previousSecretExpiresAt: string | null
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            createdAt: string
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            updatedAt: string
            secret: string | null
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `idempotency_key_required` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 冲突 / conflict: `idempotency_key_in_use` */
      409: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 违反业务规则 / business rule violated: `idempotency_key_reused` */
      422: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  postV1SubscriptionsIdRecovery: {
    parameters: {
      query?: never
      header: {
        /** @description 幂等键（1–255 个可见 ASCII 字符），同一调用方内唯一；保存至少 24 小时。重放返回所存状态与应答体，其中个人信息按调用方重放时的权限显示（完整显示时记入访问记录）。Idempotency key, scoped to the calling client. A replay answers the stored status and body, with personal data as the caller may see it at the replay (recorded in the access log when shown in full). */
        'idempotency-key': string
      }
      path: {
        /** @description 资源标识 / resource id */
        id: string
      }
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "since": "2026-11-30T00:00:00+08:00",
         *       "until": "2026-12-02T00:00:00+08:00"
         *     }
         */
        'application/json': {
          /**
           * Format: date-time
           * @description RFC 3339 with offset
           */
          since: string
          /**
           * Format: date-time
           * @description RFC 3339 with offset
           */
          until?: string
        }
      }
    }
    responses: {
      /** @description Default Response */
      202: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "jobId": "01a249a2-1dc2-7e47-910f-c8e1185f2c7b",
           *       "subscriptionId": "01a249a2-1847-7284-973e-d63d2044f15d",
           *       "since": "2026-12-04T16:00:00.000Z",
           *       "until": "2026-12-06T16:00:00.000Z",
           *       "status": "queued",
           *       "requeued": null,
           *       "createdAt": "2026-12-06T04:34:50.945Z",
           *       "finishedAt": null
           *     }
           */
          'application/json': {
            jobId: string
            subscriptionId: string
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            since: string
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            until: string
            /** @description queued | done */
            status: string
            requeued: number | null
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            createdAt: string
            finishedAt: string | null
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_json`, `idempotency_key_required` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 冲突 / conflict: `idempotency_key_in_use` */
      409: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求体过大 / body too large: `payload_too_large` */
      413: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不支持的内容类型 / unsupported media type: `unsupported_media_type` */
      415: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 违反业务规则 / business rule violated: `idempotency_key_reused`, `subscription_disabled` */
      422: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  getV1SubscriptionsIdRecoveryJobId: {
    parameters: {
      query?: never
      header?: never
      path: {
        id: string
        jobId: string
      }
      cookie?: never
    }
    requestBody?: never
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "jobId": "01a249a2-1dc2-7e47-910f-c8e1185f2c7b",
           *       "subscriptionId": "01a249a2-1847-7284-973e-d63d2044f15d",
           *       "since": "2026-12-04T16:00:00.000Z",
           *       "until": "2026-12-06T16:00:00.000Z",
           *       "status": "queued",
           *       "requeued": null,
           *       "createdAt": "2026-12-06T04:34:50.945Z",
           *       "finishedAt": null
           *     }
           */
          'application/json': {
            jobId: string
            subscriptionId: string
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            since: string
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            until: string
            /** @description queued | done */
            status: string
            requeued: number | null
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            createdAt: string
            finishedAt: string | null
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  getV1Deliveries: {
    parameters: {
      query?: {
        subscriptionId?: string
        status?: 'pending' | 'delivered' | 'dead'
        eventType?: string
        /** @description RFC 3339 with offset */
        since?: string
        /** @description RFC 3339 with offset */
        until?: string
        /** @description 每页条数 1–200 / page size */
        limit?: number
        /** @description 不透明游标 / opaque cursor from nextCursor */
        cursor?: string
      }
      header?: never
      path?: never
      cookie?: never
    }
    requestBody?: never
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "items": [
           *         {
           *           "id": "01a249a2-1cca-7261-8967-466bcdf60d72",
           *           "subscriptionId": "01a249a2-183c-76ed-98a9-8a0203831a61",
           *           "eventId": "01a249a2-1cbe-7547-bc35-b6ac1e81ae9f",
           *           "eventType": "referral.created",
           *           "subject": {
           *             "kind": "referral",
           *             "id": "01a249a2-1cbe-7547-bc35-b6ab94e2ecdd"
           *           },
           *           "sequence": 1,
           *           "status": "delivered",
           *           "attempts": 1,
           *           "nextAttemptAt": null,
           *           "firstAttemptAt": "2026-12-06T04:34:50.718Z",
           *           "lastAttemptAt": "2026-12-06T04:34:50.718Z",
           *           "lastStatus": 204,
           *           "lastError": null,
           *           "createdAt": "2026-12-06T04:34:50.698Z",
           *           "deliveredAt": "2026-12-06T04:34:50.725Z",
           *           "deadAt": null,
           *           "attemptLog": [
           *             {
           *               "at": "2026-12-06T04:34:50.718Z",
           *               "httpStatus": 204,
           *               "latencyMs": 6,
           *               "response": null,
           *               "error": null,
           *               "outcome": "delivered"
           *             }
           *           ]
           *         },
           *         {
           *           "id": "01a249a2-1cac-7073-8339-e5927f128648",
           *           "subscriptionId": "01a249a2-183c-76ed-98a9-8a0203831a61",
           *           "eventId": "01a249a2-1c91-77c5-82d2-1190975bb71a",
           *           "eventType": "warning.closed",
           *           "subject": {
           *             "kind": "warning",
           *             "id": "01a249a2-1c17-7567-b22b-a981e9cfff25"
           *           },
           *           "sequence": 4,
           *           "status": "delivered",
           *           "attempts": 1,
           *           "nextAttemptAt": null,
           *           "firstAttemptAt": "2026-12-06T04:34:50.681Z",
           *           "lastAttemptAt": "2026-12-06T04:34:50.681Z",
           *           "lastStatus": 204,
           *           "lastError": null,
           *           "createdAt": "2026-12-06T04:34:50.667Z",
           *           "deliveredAt": "2026-12-06T04:34:50.683Z",
           *           "deadAt": null,
           *           "attemptLog": [
           *             {
           *               "at": "2026-12-06T04:34:50.681Z",
           *               "httpStatus": 204,
           *               "latencyMs": 2,
           *               "response": null,
           *               "error": null,
           *               "outcome": "delivered"
           *             }
           *           ]
           *         },
           *         {
           *           "id": "01a249a2-1c7c-732f-8b03-9d8aa8131954",
           *           "subscriptionId": "01a249a2-183c-76ed-98a9-8a0203831a61",
           *           "eventId": "01a249a2-1c71-71cb-9671-e7f6b1c87a7e",
           *           "eventType": "warning.acknowledged",
           *           "subject": {
           *             "kind": "warning",
           *             "id": "01a249a2-1c17-7567-b22b-a981e9cfff25"
           *           },
           *           "sequence": 3,
           *           "status": "delivered",
           *           "attempts": 1,
           *           "nextAttemptAt": null,
           *           "firstAttemptAt": "2026-12-06T04:34:50.639Z",
           *           "lastAttemptAt": "2026-12-06T04:34:50.639Z",
           *           "lastStatus": 204,
           *           "lastError": null,
           *           "createdAt": "2026-12-06T04:34:50.620Z",
           *           "deliveredAt": "2026-12-06T04:34:50.651Z",
           *           "deadAt": null,
           *           "attemptLog": [
           *             {
           *               "at": "2026-12-06T04:34:50.639Z",
           *               "httpStatus": 204,
           *               "latencyMs": 12,
           *               "response": null,
           *               "error": null,
           *               "outcome": "delivered"
           *             }
           *           ]
           *         }
           *       ],
           *       "nextCursor": null
           *     }
           */
          'application/json': {
            items: components['schemas']['Delivery'][]
            nextCursor: string | null
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_cursor` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  getV1DeliveriesId: {
    parameters: {
      query?: never
      header?: never
      path: {
        /** @description 资源标识 / resource id */
        id: string
      }
      cookie?: never
    }
    requestBody?: never
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "id": "01a249a2-1cca-7261-8967-466ca88ad90e",
           *       "subscriptionId": "01a249a2-1847-7284-973e-d63d2044f15d",
           *       "eventId": "01a249a2-1cbe-7547-bc35-b6ac1e81ae9f",
           *       "eventType": "referral.created",
           *       "subject": {
           *         "kind": "referral",
           *         "id": "01a249a2-1cbe-7547-bc35-b6ab94e2ecdd"
           *       },
           *       "sequence": 1,
           *       "status": "dead",
           *       "attempts": 1,
           *       "nextAttemptAt": null,
           *       "firstAttemptAt": "2026-12-06T04:34:50.726Z",
           *       "lastAttemptAt": "2026-12-06T04:34:50.726Z",
           *       "lastStatus": 400,
           *       "lastError": "HTTP 400",
           *       "createdAt": "2026-12-06T04:34:50.698Z",
           *       "deliveredAt": null,
           *       "deadAt": "2026-12-06T04:34:50.732Z",
           *       "attemptLog": [
           *         {
           *           "at": "2026-12-06T04:34:50.726Z",
           *           "httpStatus": 400,
           *           "latencyMs": 7,
           *           "response": null,
           *           "error": "HTTP 400",
           *           "outcome": "dead"
           *         }
           *       ]
           *     }
           */
          'application/json': {
            id: string
            subscriptionId: string
            /** @description 即 webhook-id / the webhook-id */
            eventId: string
            eventType: string
            subject: {
              kind: string
              id: string
            }
            sequence: number
            /** @description pending | delivered | dead */
            status: string
            attempts: number
            nextAttemptAt: string | null
            firstAttemptAt: string | null
            lastAttemptAt: string | null
            lastStatus: number | null
            lastError: string | null
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            createdAt: string
            deliveredAt: string | null
            deadAt: string | null
            attemptLog: {
              /**
               * Format: date-time
               * @description RFC 3339 with offset
               */
              at: string
              httpStatus: number | null
              latencyMs: number
              response: string | null
              error: string | null
              /** @description delivered | retry | dead | gone */
              outcome: string
            }[]
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  postV1DeliveriesIdRetry: {
    parameters: {
      query?: never
      header: {
        /** @description 幂等键（1–255 个可见 ASCII 字符），同一调用方内唯一；保存至少 24 小时。重放返回所存状态与应答体，其中个人信息按调用方重放时的权限显示（完整显示时记入访问记录）。Idempotency key, scoped to the calling client. A replay answers the stored status and body, with personal data as the caller may see it at the replay (recorded in the access log when shown in full). */
        'idempotency-key': string
      }
      path: {
        /** @description 资源标识 / resource id */
        id: string
      }
      cookie?: never
    }
    requestBody?: never
    responses: {
      /** @description Default Response */
      202: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "id": "01a249a2-1cca-7261-8967-466ca88ad90e",
           *       "subscriptionId": "01a249a2-1847-7284-973e-d63d2044f15d",
           *       "eventId": "01a249a2-1cbe-7547-bc35-b6ac1e81ae9f",
           *       "eventType": "referral.created",
           *       "subject": {
           *         "kind": "referral",
           *         "id": "01a249a2-1cbe-7547-bc35-b6ab94e2ecdd"
           *       },
           *       "sequence": 1,
           *       "status": "pending",
           *       "attempts": 1,
           *       "nextAttemptAt": "2026-12-06T04:34:50.878Z",
           *       "firstAttemptAt": null,
           *       "lastAttemptAt": "2026-12-06T04:34:50.726Z",
           *       "lastStatus": 400,
           *       "lastError": "HTTP 400",
           *       "createdAt": "2026-12-06T04:34:50.698Z",
           *       "deliveredAt": null,
           *       "deadAt": null,
           *       "attemptLog": [
           *         {
           *           "at": "2026-12-06T04:34:50.726Z",
           *           "httpStatus": 400,
           *           "latencyMs": 7,
           *           "response": null,
           *           "error": "HTTP 400",
           *           "outcome": "dead"
           *         }
           *       ]
           *     }
           */
          'application/json': {
            id: string
            subscriptionId: string
            /** @description 即 webhook-id / the webhook-id */
            eventId: string
            eventType: string
            subject: {
              kind: string
              id: string
            }
            sequence: number
            /** @description pending | delivered | dead */
            status: string
            attempts: number
            nextAttemptAt: string | null
            firstAttemptAt: string | null
            lastAttemptAt: string | null
            lastStatus: number | null
            lastError: string | null
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            createdAt: string
            deliveredAt: string | null
            deadAt: string | null
            attemptLog: {
              /**
               * Format: date-time
               * @description RFC 3339 with offset
               */
              at: string
              httpStatus: number | null
              latencyMs: number
              response: string | null
              error: string | null
              /** @description delivered | retry | dead | gone */
              outcome: string
            }[]
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `idempotency_key_required` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 冲突 / conflict: `idempotency_key_in_use`, `illegal_transition` */
      409: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 违反业务规则 / business rule violated: `idempotency_key_reused`, `subscription_deleted`, `subscription_disabled` */
      422: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  getV1SyncStatus: {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    requestBody?: never
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "items": [
           *         {
           *           "subscriptionId": "01a249a2-183c-76ed-98a9-8a0203831a61",
           *           "pending": 0,
           *           "oldestPendingAgeSeconds": null,
           *           "dead": 0,
           *           "lastDeliveredAt": "2026-12-06T04:34:50.725Z"
           *         },
           *         {
           *           "subscriptionId": "01a249a2-1847-7284-973e-d63d2044f15d",
           *           "pending": 0,
           *           "oldestPendingAgeSeconds": null,
           *           "dead": 6,
           *           "lastDeliveredAt": null
           *         }
           *       ]
           *     }
           */
          'application/json': {
            items: {
              subscriptionId: string
              pending: number
              oldestPendingAgeSeconds: number | null
              dead: number
              lastDeliveredAt: string | null
            }[]
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  getV1Events: {
    parameters: {
      query?: {
        /** @description 不透明游标 / opaque cursor from nextCursor */
        after?: string
        /** @example referral.accepted,referral.closed */
        types?: string
        /** @description 每页条数 1–200 / page size */
        limit?: number
      }
      header?: never
      path?: never
      cookie?: never
    }
    requestBody?: never
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "items": [
           *         {
           *           "id": "01a249a2-1873-7c68-b027-987894a6fee1",
           *           "type": "referral.created",
           *           "occurredAt": "2026-12-06T04:34:49.586Z",
           *           "sequence": 1,
           *           "subject": {
           *             "kind": "referral",
           *             "id": "01a249a2-1873-7c68-b027-9877cc03bf12"
           *           },
           *           "caseVersion": 1,
           *           "actor": {
           *             "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d",
           *             "role": "court"
           *           },
           *           "data": {
           *             "referral": {
           *               "id": "01a249a2-1873-7c68-b027-9877cc03bf12",
           *               "recall": null,
           *               "status": "referred",
           *               "closure": null,
           *               "consent": [
           *                 {
           *                   "method": "written",
           *                   "partyIndex": 0,
           *                   "consentedAt": "2026-12-03T09:00:00+08:00"
           *                 },
           *                 {
           *                   "method": "online",
           *                   "partyIndex": 1,
           *                   "consentedAt": "2026-12-03T09:30:00+08:00"
           *                 }
           *               ],
           *               "decline": null,
           *               "parties": [
           *                 {
           *                   "kind": "natural_person",
           *                   "name": "张三",
           *                   "role": "applicant",
           *                   "phone": "138****8000",
           *                   "idType": "resident_id",
           *                   "idNumber": "110***********002X"
           *                 },
           *                 {
           *                   "kind": "natural_person",
           *                   "name": "李四",
           *                   "role": "respondent",
           *                   "idType": "resident_id",
           *                   "idNumber": "440***********0014"
           *                 }
           *               ],
           *               "version": 1,
           *               "mediator": null,
           *               "agreement": null,
           *               "courtCode": "京0105",
           *               "createdAt": "2026-12-06T04:34:49.586Z",
           *               "deadlines": {
           *                 "provisional": false,
           *                 "mediationDueOn": null,
           *                 "acceptanceDueOn": "2026-12-09"
           *               },
           *               "materials": [],
           *               "updatedAt": "2026-12-06T04:34:49.586Z",
           *               "acceptedAt": null,
           *               "caseNumber": "（2026）京0105民诉前调33934号",
           *               "extensions": [],
           *               "suspension": null,
           *               "claimAmount": "12000.00",
           *               "courtFiling": null,
           *               "designation": {
           *                 "mode": "court_designated",
           *                 "organizationId": "bj-cy-blz"
           *               },
           *               "disputeType": "neighbor",
           *               "performance": null,
           *               "termination": null,
           *               "claimSummary": "请求被申请人停止漏水侵害并赔偿损失",
           *               "referralType": "pre_filing",
           *               "causeOfAction": "相邻关系纠纷",
           *               "materialReturn": null,
           *               "organizationId": "bj-cy-blz"
           *             }
           *           }
           *         },
           *         {
           *           "id": "01a249a2-18d4-7d2e-8bec-7610ab730844",
           *           "type": "referral.accepted",
           *           "occurredAt": "2026-12-06T04:34:49.673Z",
           *           "sequence": 2,
           *           "subject": {
           *             "kind": "referral",
           *             "id": "01a249a2-1873-7c68-b027-9877cc03bf12"
           *           },
           *           "caseVersion": 2,
           *           "actor": {
           *             "clientId": "01a249a2-1788-7338-836c-f1a07c0b9973",
           *             "role": "mediation"
           *           },
           *           "data": {
           *             "referral": {
           *               "id": "01a249a2-1873-7c68-b027-9877cc03bf12",
           *               "recall": null,
           *               "status": "mediating",
           *               "closure": null,
           *               "consent": [
           *                 {
           *                   "method": "written",
           *                   "partyIndex": 0,
           *                   "consentedAt": "2026-12-03T09:00:00+08:00"
           *                 },
           *                 {
           *                   "method": "online",
           *                   "partyIndex": 1,
           *                   "consentedAt": "2026-12-03T09:30:00+08:00"
           *                 }
           *               ],
           *               "decline": null,
           *               "parties": [
           *                 {
           *                   "kind": "natural_person",
           *                   "name": "张三",
           *                   "role": "applicant",
           *                   "phone": "138****8000",
           *                   "idType": "resident_id",
           *                   "idNumber": "110***********002X"
           *                 },
           *                 {
           *                   "kind": "natural_person",
           *                   "name": "李四",
           *                   "role": "respondent",
           *                   "idType": "resident_id",
           *                   "idNumber": "440***********0014"
           *                 }
           *               ],
           *               "version": 2,
           *               "mediator": {
           *                 "id": "M-001",
           *                 "name": "王调解"
           *               },
           *               "agreement": null,
           *               "courtCode": "京0105",
           *               "createdAt": "2026-12-06T04:34:49.586Z",
           *               "deadlines": {
           *                 "provisional": true,
           *                 "mediationDueOn": "2027-01-05",
           *                 "acceptanceDueOn": "2026-12-09"
           *               },
           *               "materials": [],
           *               "updatedAt": "2026-12-06T04:34:49.673Z",
           *               "acceptedAt": "2026-12-06T04:34:49.664Z",
           *               "caseNumber": "（2026）京0105民诉前调33934号",
           *               "extensions": [],
           *               "suspension": null,
           *               "claimAmount": "12000.00",
           *               "courtFiling": null,
           *               "designation": {
           *                 "mode": "court_designated",
           *                 "organizationId": "bj-cy-blz"
           *               },
           *               "disputeType": "neighbor",
           *               "performance": null,
           *               "termination": null,
           *               "claimSummary": "请求被申请人停止漏水侵害并赔偿损失",
           *               "referralType": "pre_filing",
           *               "causeOfAction": "相邻关系纠纷",
           *               "materialReturn": null,
           *               "organizationId": "bj-cy-blz"
           *             }
           *           }
           *         },
           *         {
           *           "id": "01a249a2-18e6-7657-9a50-ba535fcd70ff",
           *           "type": "referral.suspended",
           *           "occurredAt": "2026-12-06T04:34:49.699Z",
           *           "sequence": 3,
           *           "subject": {
           *             "kind": "referral",
           *             "id": "01a249a2-1873-7c68-b027-9877cc03bf12"
           *           },
           *           "caseVersion": 3,
           *           "actor": {
           *             "clientId": "01a249a2-1788-7338-836c-f1a07c0b9973",
           *             "role": "mediation"
           *           },
           *           "data": {
           *             "referral": {
           *               "id": "01a249a2-1873-7c68-b027-9877cc03bf12",
           *               "recall": null,
           *               "status": "suspended",
           *               "closure": null,
           *               "consent": [
           *                 {
           *                   "method": "written",
           *                   "partyIndex": 0,
           *                   "consentedAt": "2026-12-03T09:00:00+08:00"
           *                 },
           *                 {
           *                   "method": "online",
           *                   "partyIndex": 1,
           *                   "consentedAt": "2026-12-03T09:30:00+08:00"
           *                 }
           *               ],
           *               "decline": null,
           *               "parties": [
           *                 {
           *                   "kind": "natural_person",
           *                   "name": "张三",
           *                   "role": "applicant",
           *                   "phone": "138****8000",
           *                   "idType": "resident_id",
           *                   "idNumber": "110***********002X"
           *                 },
           *                 {
           *                   "kind": "natural_person",
           *                   "name": "李四",
           *                   "role": "respondent",
           *                   "idType": "resident_id",
           *                   "idNumber": "440***********0014"
           *                 }
           *               ],
           *               "version": 3,
           *               "mediator": {
           *                 "id": "M-001",
           *                 "name": "王调解"
           *               },
           *               "agreement": null,
           *               "courtCode": "京0105",
           *               "createdAt": "2026-12-06T04:34:49.586Z",
           *               "deadlines": {
           *                 "provisional": true,
           *                 "mediationDueOn": "2027-01-05",
           *                 "acceptanceDueOn": "2026-12-09"
           *               },
           *               "materials": [],
           *               "updatedAt": "2026-12-06T04:34:49.699Z",
           *               "acceptedAt": "2026-12-06T04:34:49.664Z",
           *               "caseNumber": "（2026）京0105民诉前调33934号",
           *               "extensions": [],
           *               "suspension": {
           *                 "note": "委托房屋漏水原因鉴定",
           *                 "reason": "appraisal",
           *                 "suspendedAt": "2026-12-06T04:34:49.699Z",
           *                 "suspendedOn": "2026-12-06"
           *               },
           *               "claimAmount": "12000.00",
           *               "courtFiling": null,
           *               "designation": {
           *                 "mode": "court_designated",
           *                 "organizationId": "bj-cy-blz"
           *               },
           *               "disputeType": "neighbor",
           *               "performance": null,
           *               "termination": null,
           *               "claimSummary": "请求被申请人停止漏水侵害并赔偿损失",
           *               "referralType": "pre_filing",
           *               "causeOfAction": "相邻关系纠纷",
           *               "materialReturn": null,
           *               "organizationId": "bj-cy-blz"
           *             }
           *           }
           *         }
           *       ],
           *       "nextCursor": "eyJ0IjoiMzU5NTEiLCJwIjoiMzcifQ"
           *     }
           */
          'application/json': {
            items: components['schemas']['Event'][]
            /** @description 总是字符串：末尾时 items 为空，游标即续读位置 / always a string: at the end items is empty and the cursor is the resume point */
            nextCursor: string
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_cursor` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  getV1RoutingSuggestions: {
    parameters: {
      query: {
        /** @description 法院代字 / court code */
        courtCode?: string
        disputeType:
          | 'marriage_family'
          | 'neighbor'
          | 'housing_homestead'
          | 'contract'
          | 'production_business'
          | 'damage_compensation'
          | 'land_forest'
          | 'land_acquisition'
          | 'environment'
          | 'labor'
          | 'consumer'
          | 'medical'
          | 'traffic'
          | 'property_management'
          | 'tourism'
          | 'finance'
          | 'insurance'
          | 'intellectual_property'
          | 'new_employment'
          | 'other'
        /** @description 纠纷所在区域（2/4/6 位）/ where the dispute is */
        regionCode?: string
        /** @description 返回条数 1–200 / how many */
        limit?: number
      }
      header?: never
      path?: never
      cookie?: never
    }
    requestBody?: never
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "courtCode": "京0105",
           *       "disputeType": "neighbor",
           *       "category": "basic",
           *       "regionCode": "110105",
           *       "items": [
           *         {
           *           "organizationId": "bj-cy-blz",
           *           "name": "朝阳区八里庄街道人民调解委员会",
           *           "kind": "township_committee",
           *           "regionCode": "110105",
           *           "staffingCompliant": true,
           *           "designationModes": [
           *             "court_designated",
           *             "party_selected"
           *           ],
           *           "rank": 1,
           *           "reasons": [
           *             {
           *               "code": "local_committee",
           *               "text": "纠纷发生地的乡镇（街道）人民调解委员会"
           *             },
           *             {
           *               "code": "in_region",
           *               "text": "位于纠纷所在区域（110105）"
           *             },
           *             {
           *               "code": "staffing_compliant",
           *               "text": "专职调解员 2 名，达到配备要求（不少于 2 名）"
           *             }
           *           ]
           *         },
           *         {
           *           "organizationId": "bj-cy-centre",
           *           "name": "朝阳区非诉讼纠纷化解中心",
           *           "kind": "centre",
           *           "regionCode": "110105",
           *           "staffingCompliant": true,
           *           "designationModes": [
           *             "court_designated",
           *             "party_selected"
           *           ],
           *           "rank": 2,
           *           "reasons": [
           *             {
           *               "code": "centre_dispatch",
           *               "text": "非诉讼纠纷化解中心，可统一接收并分派至辖区调解组织"
           *             },
           *             {
           *               "code": "in_region",
           *               "text": "位于纠纷所在区域（110105）"
           *             },
           *             {
           *               "code": "court_special_roster",
           *               "text": "列入本院（京0105）特邀调解名册，可由法院指定"
           *             }
           *           ]
           *         }
           *       ]
           *     }
           */
          'application/json': {
            courtCode: string
            disputeType: string
            /**
             * @description 纠纷类别：行业专业性 / 基层常见 / 其他
             * @enum {string}
             */
            category: 'specialised' | 'basic' | 'general'
            regionCode: string | null
            items: {
              organizationId: string
              name: string
              kind: string
              regionCode: string
              staffingCompliant: boolean
              /** @description 可用的委派方式：court_designated（本院或高院特邀名册）、party_selected（司法部名册）/ how it may be designated */
              designationModes: ('court_designated' | 'party_selected')[]
              /** @description 1 为最优 / 1 = best */
              rank: number
              reasons: {
                /**
                 * @description 稳定的理由代码 / stable reason code
                 * @enum {string}
                 */
                code:
                  | 'industry_committee_for_type'
                  | 'covers_dispute_type'
                  | 'centre_dispatch'
                  | 'local_committee'
                  | 'dispute_type_not_listed'
                  | 'in_region'
                  | 'region_level_covers'
                  | 'outside_region'
                  | 'staffing_compliant'
                  | 'staffing_below_standard'
                  | 'court_special_roster'
                  | 'ministry_roster'
                /** @description 中文说明 / explanation (Chinese) */
                text: string
              }[]
            }[]
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 违反业务规则 / business rule violated: `court_code_not_allowed` */
      422: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  getV1Warnings: {
    parameters: {
      query?: {
        level?: 'red' | 'orange' | 'yellow'
        status?: 'raised' | 'acknowledged' | 'closed'
        /** @description 预警区域前缀 / region prefix of the warning */
        regionCode?: string
        disputeType?:
          | 'marriage_family'
          | 'neighbor'
          | 'housing_homestead'
          | 'contract'
          | 'production_business'
          | 'damage_compensation'
          | 'land_forest'
          | 'land_acquisition'
          | 'environment'
          | 'labor'
          | 'consumer'
          | 'medical'
          | 'traffic'
          | 'property_management'
          | 'tourism'
          | 'finance'
          | 'insurance'
          | 'intellectual_property'
          | 'new_employment'
          | 'other'
        /** @description RFC 3339 with offset */
        since?: string
        /** @description 每页条数 1–200 / page size */
        limit?: number
        /** @description 不透明游标 / opaque cursor from nextCursor */
        cursor?: string
      }
      header?: never
      path?: never
      cookie?: never
    }
    requestBody?: never
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "items": [
           *         {
           *           "id": "01a249a2-1c17-7567-b22b-a981e9cfff25",
           *           "level": "orange",
           *           "regionCode": "110105",
           *           "disputeType": "labor",
           *           "summary": "某建筑工地 60 余名农民工集中讨薪，情绪激动",
           *           "involvedPersons": 63,
           *           "referralId": null,
           *           "raisedBy": {
           *             "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d",
           *             "role": "court",
           *             "name": "北京市朝阳区人民法院"
           *           },
           *           "createdAt": "2026-12-06T04:34:50.519Z",
           *           "status": "raised",
           *           "version": 1,
           *           "updatedAt": "2026-12-06T04:34:50.519Z",
           *           "acknowledgementDueAt": "2026-12-06T16:34:50.519Z",
           *           "overdue": false,
           *           "acknowledgedAt": null,
           *           "acknowledgement": null,
           *           "followUps": [],
           *           "closedAt": null,
           *           "closure": null
           *         }
           *       ],
           *       "nextCursor": null
           *     }
           */
          'application/json': {
            items: {
              id: string
              /** @enum {string} */
              level: 'red' | 'orange' | 'yellow'
              regionCode: string
              disputeType: string
              summary: string
              involvedPersons: number
              referralId: string | null
              raisedBy: {
                clientId: string
                /** @enum {string} */
                role: 'court' | 'mediation'
                name: string
              }
              /**
               * Format: date-time
               * @description RFC 3339 with offset
               */
              createdAt: string
              /**
               * @description 预警状态：raised 已发布、acknowledged 已签收、closed 已结报 / lifecycle status
               * @enum {string}
               */
              status: 'raised' | 'acknowledged' | 'closed'
              /** @description 版本号（最后一个事件的序号），亦为 ETag / version, also the ETag */
              version: number
              /**
               * Format: date-time
               * @description RFC 3339 with offset
               */
              updatedAt: string
              /**
               * Format: date-time
               * @description RFC 3339 with offset
               */
              acknowledgementDueAt: string
              /** @description 是否已逾期未签收（已发出 warning.overdue）/ whether warning.overdue was sent */
              overdue: boolean
              acknowledgedAt: string | null
              acknowledgement: {
                /**
                 * Format: date-time
                 * @description RFC 3339 with offset
                 */
                at: string
                by: {
                  clientId: string
                  /** @enum {string} */
                  role: 'court' | 'mediation'
                }
                note: string | null
              } | null
              /** @description 续报，按时间先后 / follow-ups, oldest first */
              followUps: {
                /**
                 * Format: date-time
                 * @description RFC 3339 with offset
                 */
                at: string
                by: {
                  clientId: string
                  /** @enum {string} */
                  role: 'court' | 'mediation'
                }
                report: string
              }[]
              closedAt: string | null
              closure: {
                /**
                 * Format: date-time
                 * @description RFC 3339 with offset
                 */
                at: string
                by: {
                  clientId: string
                  /** @enum {string} */
                  role: 'court' | 'mediation'
                }
                report: string
              } | null
            }[]
            nextCursor: string | null
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_cursor` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  postV1Warnings: {
    parameters: {
      query?: never
      header: {
        /** @description 幂等键（1–255 个可见 ASCII 字符），同一调用方内唯一；保存至少 24 小时。重放返回所存状态与应答体，其中个人信息按调用方重放时的权限显示（完整显示时记入访问记录）。Idempotency key, scoped to the calling client. A replay answers the stored status and body, with personal data as the caller may see it at the replay (recorded in the access log when shown in full). */
        'idempotency-key': string
      }
      path?: never
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "level": "orange",
         *       "regionCode": "110105",
         *       "disputeType": "labor",
         *       "summary": "某建筑工地 60 余名农民工集中讨薪，情绪激动",
         *       "involvedPersons": 63
         *     }
         */
        'application/json': {
          /**
           * @description 预警等级：red 红、orange 橙、yellow 黄 / warning level
           * @enum {string}
           */
          level: 'red' | 'orange' | 'yellow'
          /** @description 纠纷所在地 6 位行政区划代码（PP0000、PPCC00 表示省、市）/ where the dispute is */
          regionCode: string
          /** @enum {string} */
          disputeType:
            | 'marriage_family'
            | 'neighbor'
            | 'housing_homestead'
            | 'contract'
            | 'production_business'
            | 'damage_compensation'
            | 'land_forest'
            | 'land_acquisition'
            | 'environment'
            | 'labor'
            | 'consumer'
            | 'medical'
            | 'traffic'
            | 'property_management'
            | 'tourism'
            | 'finance'
            | 'insurance'
            | 'intellectual_property'
            | 'new_employment'
            | 'other'
          /** @description 事由摘要，可分行（勿含身份证号、电话）/ summary, may span lines; keep personal data out */
          summary: string
          /** @description 涉及人数 / number of people involved */
          involvedPersons: number
          /** @description 相关委派案件（须为调用方可读）/ a related referral the caller may read */
          referralId?: string
        }
      }
    }
    responses: {
      /** @description Default Response */
      201: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "id": "01a249a2-1c17-7567-b22b-a981e9cfff25",
           *       "level": "orange",
           *       "regionCode": "110105",
           *       "disputeType": "labor",
           *       "summary": "某建筑工地 60 余名农民工集中讨薪，情绪激动",
           *       "involvedPersons": 63,
           *       "referralId": null,
           *       "raisedBy": {
           *         "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d",
           *         "role": "court",
           *         "name": "北京市朝阳区人民法院"
           *       },
           *       "createdAt": "2026-12-06T04:34:50.519Z",
           *       "status": "raised",
           *       "version": 1,
           *       "updatedAt": "2026-12-06T04:34:50.519Z",
           *       "acknowledgementDueAt": "2026-12-06T16:34:50.519Z",
           *       "overdue": false,
           *       "acknowledgedAt": null,
           *       "acknowledgement": null,
           *       "followUps": [],
           *       "closedAt": null,
           *       "closure": null
           *     }
           */
          'application/json': {
            id: string
            /** @enum {string} */
            level: 'red' | 'orange' | 'yellow'
            regionCode: string
            disputeType: string
            summary: string
            involvedPersons: number
            referralId: string | null
            raisedBy: {
              clientId: string
              /** @enum {string} */
              role: 'court' | 'mediation'
              name: string
            }
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            createdAt: string
            /**
             * @description 预警状态：raised 已发布、acknowledged 已签收、closed 已结报 / lifecycle status
             * @enum {string}
             */
            status: 'raised' | 'acknowledged' | 'closed'
            /** @description 版本号（最后一个事件的序号），亦为 ETag / version, also the ETag */
            version: number
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            updatedAt: string
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            acknowledgementDueAt: string
            /** @description 是否已逾期未签收（已发出 warning.overdue）/ whether warning.overdue was sent */
            overdue: boolean
            acknowledgedAt: string | null
            acknowledgement: {
              /**
               * Format: date-time
               * @description RFC 3339 with offset
               */
              at: string
              by: {
                clientId: string
                /** @enum {string} */
                role: 'court' | 'mediation'
              }
              note: string | null
            } | null
            /** @description 续报，按时间先后 / follow-ups, oldest first */
            followUps: {
              /**
               * Format: date-time
               * @description RFC 3339 with offset
               */
              at: string
              by: {
                clientId: string
                /** @enum {string} */
                role: 'court' | 'mediation'
              }
              report: string
            }[]
            closedAt: string | null
            closure: {
              /**
               * Format: date-time
               * @description RFC 3339 with offset
               */
              at: string
              by: {
                clientId: string
                /** @enum {string} */
                role: 'court' | 'mediation'
              }
              report: string
            } | null
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_json`, `idempotency_key_required` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 冲突 / conflict: `idempotency_key_in_use` */
      409: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求体过大 / body too large: `payload_too_large` */
      413: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不支持的内容类型 / unsupported media type: `unsupported_media_type` */
      415: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 违反业务规则 / business rule violated: `idempotency_key_reused` */
      422: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  getV1WarningsId: {
    parameters: {
      query?: never
      header?: never
      path: {
        /** @description 资源标识 / resource id */
        id: string
      }
      cookie?: never
    }
    requestBody?: never
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "id": "01a249a2-1c17-7567-b22b-a981e9cfff25",
           *       "level": "orange",
           *       "regionCode": "110105",
           *       "disputeType": "labor",
           *       "summary": "某建筑工地 60 余名农民工集中讨薪，情绪激动",
           *       "involvedPersons": 63,
           *       "referralId": null,
           *       "raisedBy": {
           *         "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d",
           *         "role": "court",
           *         "name": "北京市朝阳区人民法院"
           *       },
           *       "createdAt": "2026-12-06T04:34:50.519Z",
           *       "status": "raised",
           *       "version": 1,
           *       "updatedAt": "2026-12-06T04:34:50.519Z",
           *       "acknowledgementDueAt": "2026-12-06T16:34:50.519Z",
           *       "overdue": false,
           *       "acknowledgedAt": null,
           *       "acknowledgement": null,
           *       "followUps": [],
           *       "closedAt": null,
           *       "closure": null
           *     }
           */
          'application/json': {
            id: string
            /** @enum {string} */
            level: 'red' | 'orange' | 'yellow'
            regionCode: string
            disputeType: string
            summary: string
            involvedPersons: number
            referralId: string | null
            raisedBy: {
              clientId: string
              /** @enum {string} */
              role: 'court' | 'mediation'
              name: string
            }
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            createdAt: string
            /**
             * @description 预警状态：raised 已发布、acknowledged 已签收、closed 已结报 / lifecycle status
             * @enum {string}
             */
            status: 'raised' | 'acknowledged' | 'closed'
            /** @description 版本号（最后一个事件的序号），亦为 ETag / version, also the ETag */
            version: number
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            updatedAt: string
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            acknowledgementDueAt: string
            /** @description 是否已逾期未签收（已发出 warning.overdue）/ whether warning.overdue was sent */
            overdue: boolean
            acknowledgedAt: string | null
            acknowledgement: {
              /**
               * Format: date-time
               * @description RFC 3339 with offset
               */
              at: string
              by: {
                clientId: string
                /** @enum {string} */
                role: 'court' | 'mediation'
              }
              note: string | null
            } | null
            /** @description 续报，按时间先后 / follow-ups, oldest first */
            followUps: {
              /**
               * Format: date-time
               * @description RFC 3339 with offset
               */
              at: string
              by: {
                clientId: string
                /** @enum {string} */
                role: 'court' | 'mediation'
              }
              report: string
            }[]
            closedAt: string | null
            closure: {
              /**
               * Format: date-time
               * @description RFC 3339 with offset
               */
              at: string
              by: {
                clientId: string
                /** @enum {string} */
                role: 'court' | 'mediation'
              }
              report: string
            } | null
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  getV1WarningsIdEvents: {
    parameters: {
      query?: {
        /** @description 每页条数 1–200 / page size */
        limit?: number
        /** @description 不透明游标 / opaque cursor from nextCursor */
        cursor?: string
      }
      header?: never
      path: {
        /** @description 资源标识 / resource id */
        id: string
      }
      cookie?: never
    }
    requestBody?: never
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "items": [
           *         {
           *           "id": "01a249a2-1c17-7567-b22b-a9824b424c39",
           *           "type": "warning.raised",
           *           "occurredAt": "2026-12-06T04:34:50.519Z",
           *           "sequence": 1,
           *           "subject": {
           *             "kind": "warning",
           *             "id": "01a249a2-1c17-7567-b22b-a981e9cfff25"
           *           },
           *           "caseVersion": null,
           *           "actor": {
           *             "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d",
           *             "role": "court"
           *           },
           *           "data": {
           *             "warning": {
           *               "id": "01a249a2-1c17-7567-b22b-a981e9cfff25",
           *               "level": "orange",
           *               "status": "raised",
           *               "closure": null,
           *               "overdue": false,
           *               "summary": "某建筑工地 60 余名农民工集中讨薪，情绪激动",
           *               "version": 1,
           *               "closedAt": null,
           *               "raisedBy": {
           *                 "name": "北京市朝阳区人民法院",
           *                 "role": "court",
           *                 "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d"
           *               },
           *               "createdAt": "2026-12-06T04:34:50.519Z",
           *               "followUps": [],
           *               "updatedAt": "2026-12-06T04:34:50.519Z",
           *               "referralId": null,
           *               "regionCode": "110105",
           *               "disputeType": "labor",
           *               "acknowledgedAt": null,
           *               "acknowledgement": null,
           *               "involvedPersons": 63,
           *               "acknowledgementDueAt": "2026-12-06T16:34:50.519Z"
           *             }
           *           }
           *         },
           *         {
           *           "id": "01a249a2-1c68-72f8-9490-6ac761f000d5",
           *           "type": "warning.followed_up",
           *           "occurredAt": "2026-12-06T04:34:50.598Z",
           *           "sequence": 2,
           *           "subject": {
           *             "kind": "warning",
           *             "id": "01a249a2-1c17-7567-b22b-a981e9cfff25"
           *           },
           *           "caseVersion": 2,
           *           "actor": {
           *             "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d",
           *             "role": "court"
           *           },
           *           "data": {
           *             "warning": {
           *               "id": "01a249a2-1c17-7567-b22b-a981e9cfff25",
           *               "level": "orange",
           *               "status": "raised",
           *               "version": 2,
           *               "closedAt": null,
           *               "raisedBy": {
           *                 "role": "court",
           *                 "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d"
           *               },
           *               "createdAt": "2026-12-06T04:34:50.519Z",
           *               "referralId": null,
           *               "regionCode": "110105",
           *               "disputeType": "labor",
           *               "acknowledgedAt": null,
           *               "acknowledgementDueAt": "2026-12-06T16:34:50.519Z"
           *             },
           *             "followUp": {
           *               "at": "2026-12-06T04:34:50.598Z",
           *               "by": {
           *                 "role": "court",
           *                 "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d"
           *               },
           *               "report": "涉事企业已垫付 60% 工资，其余部分约定月底前支付，现场情绪平稳"
           *             }
           *           }
           *         },
           *         {
           *           "id": "01a249a2-1c71-71cb-9671-e7f6b1c87a7e",
           *           "type": "warning.acknowledged",
           *           "occurredAt": "2026-12-06T04:34:50.608Z",
           *           "sequence": 3,
           *           "subject": {
           *             "kind": "warning",
           *             "id": "01a249a2-1c17-7567-b22b-a981e9cfff25"
           *           },
           *           "caseVersion": 3,
           *           "actor": {
           *             "clientId": "01a249a2-1788-7338-836c-f1a07c0b9973",
           *             "role": "mediation"
           *           },
           *           "data": {
           *             "note": "已转属地乡镇街道综治中心，人民调解员已赶赴现场",
           *             "warning": {
           *               "id": "01a249a2-1c17-7567-b22b-a981e9cfff25",
           *               "level": "orange",
           *               "status": "acknowledged",
           *               "version": 3,
           *               "closedAt": null,
           *               "raisedBy": {
           *                 "role": "court",
           *                 "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d"
           *               },
           *               "createdAt": "2026-12-06T04:34:50.519Z",
           *               "referralId": null,
           *               "regionCode": "110105",
           *               "disputeType": "labor",
           *               "acknowledgedAt": "2026-12-06T04:34:50.608Z",
           *               "acknowledgementDueAt": "2026-12-06T16:34:50.519Z"
           *             }
           *           }
           *         }
           *       ],
           *       "nextCursor": null
           *     }
           */
          'application/json': {
            items: components['schemas']['Event'][]
            nextCursor: string | null
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_cursor` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  postV1WarningsIdAcknowledgement: {
    parameters: {
      query?: never
      header: {
        /** @description 幂等键（1–255 个可见 ASCII 字符），同一调用方内唯一；保存至少 24 小时。重放返回所存状态与应答体，其中个人信息按调用方重放时的权限显示（完整显示时记入访问记录）。Idempotency key, scoped to the calling client. A replay answers the stored status and body, with personal data as the caller may see it at the replay (recorded in the access log when shown in full). */
        'idempotency-key': string
        /** @description 乐观并发控制：期望的版本号，如 "3"（GET 应答的 ETag）；不一致 → 412 version_mismatch。Optimistic concurrency: the expected version (the ETag of GET); stale → 412 version_mismatch. */
        'if-match'?: string
      }
      path: {
        /** @description 资源标识 / resource id */
        id: string
      }
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "note": "已转属地乡镇街道综治中心，人民调解员已赶赴现场"
         *     }
         */
        'application/json': {
          /** @description 签收说明，可分行；其中的身份证号、手机号在接收时即脱敏存储 / note; ID and mobile numbers in it are masked on receipt */
          note?: string
        }
      }
    }
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          /** @description 签名回执：JWS 紧凑序列化，载荷 { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }，eventHash 为该事件在案件哈希链中的哈希；用 GET /v1/service-keys 公布的密钥（按 kid）验证；幂等重放返回同一回执。Signed receipt: a JWS (compact serialization) whose payload is { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }, eventHash being the event’s hash in the case’s chain; verify it with the key of its `kid` from GET /v1/service-keys (alg EdDSA: Ed25519; alg SM2SM3: SM2 over SM3 with user id 1234567812345678, signature r‖s of 32 bytes each). A replay carries the same receipt. See docs/receipts.md. */
          Receipt?: string
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "id": "01a249a2-1c17-7567-b22b-a981e9cfff25",
           *       "level": "orange",
           *       "regionCode": "110105",
           *       "disputeType": "labor",
           *       "summary": "某建筑工地 60 余名农民工集中讨薪，情绪激动",
           *       "involvedPersons": 63,
           *       "referralId": null,
           *       "raisedBy": {
           *         "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d",
           *         "role": "court",
           *         "name": "北京市朝阳区人民法院"
           *       },
           *       "createdAt": "2026-12-06T04:34:50.519Z",
           *       "status": "acknowledged",
           *       "version": 3,
           *       "updatedAt": "2026-12-06T04:34:50.608Z",
           *       "acknowledgementDueAt": "2026-12-06T16:34:50.519Z",
           *       "overdue": false,
           *       "acknowledgedAt": "2026-12-06T04:34:50.608Z",
           *       "acknowledgement": {
           *         "at": "2026-12-06T04:34:50.608Z",
           *         "by": {
           *           "clientId": "01a249a2-1788-7338-836c-f1a07c0b9973",
           *           "role": "mediation"
           *         },
           *         "note": "已转属地乡镇街道综治中心，人民调解员已赶赴现场"
           *       },
           *       "followUps": [
           *         {
           *           "at": "2026-12-06T04:34:50.598Z",
           *           "by": {
           *             "role": "court",
           *             "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d"
           *           },
           *           "report": "涉事企业已垫付 60% 工资，其余部分约定月底前支付，现场情绪平稳"
           *         }
           *       ],
           *       "closedAt": null,
           *       "closure": null
           *     }
           */
          'application/json': {
            id: string
            /** @enum {string} */
            level: 'red' | 'orange' | 'yellow'
            regionCode: string
            disputeType: string
            summary: string
            involvedPersons: number
            referralId: string | null
            raisedBy: {
              clientId: string
              /** @enum {string} */
              role: 'court' | 'mediation'
              name: string
            }
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            createdAt: string
            /**
             * @description 预警状态：raised 已发布、acknowledged 已签收、closed 已结报 / lifecycle status
             * @enum {string}
             */
            status: 'raised' | 'acknowledged' | 'closed'
            /** @description 版本号（最后一个事件的序号），亦为 ETag / version, also the ETag */
            version: number
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            updatedAt: string
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            acknowledgementDueAt: string
            /** @description 是否已逾期未签收（已发出 warning.overdue）/ whether warning.overdue was sent */
            overdue: boolean
            acknowledgedAt: string | null
            acknowledgement: {
              /**
               * Format: date-time
               * @description RFC 3339 with offset
               */
              at: string
              by: {
                clientId: string
                /** @enum {string} */
                role: 'court' | 'mediation'
              }
              note: string | null
            } | null
            /** @description 续报，按时间先后 / follow-ups, oldest first */
            followUps: {
              /**
               * Format: date-time
               * @description RFC 3339 with offset
               */
              at: string
              by: {
                clientId: string
                /** @enum {string} */
                role: 'court' | 'mediation'
              }
              report: string
            }[]
            closedAt: string | null
            closure: {
              /**
               * Format: date-time
               * @description RFC 3339 with offset
               */
              at: string
              by: {
                clientId: string
                /** @enum {string} */
                role: 'court' | 'mediation'
              }
              report: string
            } | null
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_json`, `idempotency_key_required` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 冲突 / conflict: `idempotency_key_in_use`, `illegal_transition` */
      409: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 版本号不一致 / If-Match is stale: `version_mismatch` */
      412: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求体过大 / body too large: `payload_too_large` */
      413: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不支持的内容类型 / unsupported media type: `unsupported_media_type` */
      415: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 违反业务规则 / business rule violated: `idempotency_key_reused` */
      422: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  postV1WarningsIdFollowUp: {
    parameters: {
      query?: never
      header: {
        /** @description 幂等键（1–255 个可见 ASCII 字符），同一调用方内唯一；保存至少 24 小时。重放返回所存状态与应答体，其中个人信息按调用方重放时的权限显示（完整显示时记入访问记录）。Idempotency key, scoped to the calling client. A replay answers the stored status and body, with personal data as the caller may see it at the replay (recorded in the access log when shown in full). */
        'idempotency-key': string
        /** @description 乐观并发控制：期望的版本号，如 "3"（GET 应答的 ETag）；不一致 → 412 version_mismatch。Optimistic concurrency: the expected version (the ETag of GET); stale → 412 version_mismatch. */
        'if-match'?: string
      }
      path: {
        /** @description 资源标识 / resource id */
        id: string
      }
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "report": "涉事企业已垫付 60% 工资，其余部分约定月底前支付，现场情绪平稳"
         *     }
         */
        'application/json': {
          /** @description 报告内容，可分行；其中的身份证号、手机号在接收时即脱敏存储 / the report; ID and mobile numbers in it are masked on receipt */
          report: string
        }
      }
    }
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          /** @description 签名回执：JWS 紧凑序列化，载荷 { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }，eventHash 为该事件在案件哈希链中的哈希；用 GET /v1/service-keys 公布的密钥（按 kid）验证；幂等重放返回同一回执。Signed receipt: a JWS (compact serialization) whose payload is { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }, eventHash being the event’s hash in the case’s chain; verify it with the key of its `kid` from GET /v1/service-keys (alg EdDSA: Ed25519; alg SM2SM3: SM2 over SM3 with user id 1234567812345678, signature r‖s of 32 bytes each). A replay carries the same receipt. See docs/receipts.md. */
          Receipt?: string
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "id": "01a249a2-1c17-7567-b22b-a981e9cfff25",
           *       "level": "orange",
           *       "regionCode": "110105",
           *       "disputeType": "labor",
           *       "summary": "某建筑工地 60 余名农民工集中讨薪，情绪激动",
           *       "involvedPersons": 63,
           *       "referralId": null,
           *       "raisedBy": {
           *         "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d",
           *         "role": "court",
           *         "name": "北京市朝阳区人民法院"
           *       },
           *       "createdAt": "2026-12-06T04:34:50.519Z",
           *       "status": "raised",
           *       "version": 2,
           *       "updatedAt": "2026-12-06T04:34:50.598Z",
           *       "acknowledgementDueAt": "2026-12-06T16:34:50.519Z",
           *       "overdue": false,
           *       "acknowledgedAt": null,
           *       "acknowledgement": null,
           *       "followUps": [
           *         {
           *           "at": "2026-12-06T04:34:50.598Z",
           *           "by": {
           *             "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d",
           *             "role": "court"
           *           },
           *           "report": "涉事企业已垫付 60% 工资，其余部分约定月底前支付，现场情绪平稳"
           *         }
           *       ],
           *       "closedAt": null,
           *       "closure": null
           *     }
           */
          'application/json': {
            id: string
            /** @enum {string} */
            level: 'red' | 'orange' | 'yellow'
            regionCode: string
            disputeType: string
            summary: string
            involvedPersons: number
            referralId: string | null
            raisedBy: {
              clientId: string
              /** @enum {string} */
              role: 'court' | 'mediation'
              name: string
            }
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            createdAt: string
            /**
             * @description 预警状态：raised 已发布、acknowledged 已签收、closed 已结报 / lifecycle status
             * @enum {string}
             */
            status: 'raised' | 'acknowledged' | 'closed'
            /** @description 版本号（最后一个事件的序号），亦为 ETag / version, also the ETag */
            version: number
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            updatedAt: string
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            acknowledgementDueAt: string
            /** @description 是否已逾期未签收（已发出 warning.overdue）/ whether warning.overdue was sent */
            overdue: boolean
            acknowledgedAt: string | null
            acknowledgement: {
              /**
               * Format: date-time
               * @description RFC 3339 with offset
               */
              at: string
              by: {
                clientId: string
                /** @enum {string} */
                role: 'court' | 'mediation'
              }
              note: string | null
            } | null
            /** @description 续报，按时间先后 / follow-ups, oldest first */
            followUps: {
              /**
               * Format: date-time
               * @description RFC 3339 with offset
               */
              at: string
              by: {
                clientId: string
                /** @enum {string} */
                role: 'court' | 'mediation'
              }
              report: string
            }[]
            closedAt: string | null
            closure: {
              /**
               * Format: date-time
               * @description RFC 3339 with offset
               */
              at: string
              by: {
                clientId: string
                /** @enum {string} */
                role: 'court' | 'mediation'
              }
              report: string
            } | null
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_json`, `idempotency_key_required` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 冲突 / conflict: `idempotency_key_in_use`, `illegal_transition` */
      409: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 版本号不一致 / If-Match is stale: `version_mismatch` */
      412: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求体过大 / body too large: `payload_too_large` */
      413: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不支持的内容类型 / unsupported media type: `unsupported_media_type` */
      415: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 违反业务规则 / business rule violated: `idempotency_key_reused` */
      422: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  postV1WarningsIdClosure: {
    parameters: {
      query?: never
      header: {
        /** @description 幂等键（1–255 个可见 ASCII 字符），同一调用方内唯一；保存至少 24 小时。重放返回所存状态与应答体，其中个人信息按调用方重放时的权限显示（完整显示时记入访问记录）。Idempotency key, scoped to the calling client. A replay answers the stored status and body, with personal data as the caller may see it at the replay (recorded in the access log when shown in full). */
        'idempotency-key': string
        /** @description 乐观并发控制：期望的版本号，如 "3"（GET 应答的 ETag）；不一致 → 412 version_mismatch。Optimistic concurrency: the expected version (the ETag of GET); stale → 412 version_mismatch. */
        'if-match'?: string
      }
      path: {
        /** @description 资源标识 / resource id */
        id: string
      }
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "report": "工资已全部结清，农民工已返乡，预警解除"
         *     }
         */
        'application/json': {
          /** @description 报告内容，可分行；其中的身份证号、手机号在接收时即脱敏存储 / the report; ID and mobile numbers in it are masked on receipt */
          report: string
        }
      }
    }
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          /** @description 签名回执：JWS 紧凑序列化，载荷 { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }，eventHash 为该事件在案件哈希链中的哈希；用 GET /v1/service-keys 公布的密钥（按 kid）验证；幂等重放返回同一回执。Signed receipt: a JWS (compact serialization) whose payload is { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }, eventHash being the event’s hash in the case’s chain; verify it with the key of its `kid` from GET /v1/service-keys (alg EdDSA: Ed25519; alg SM2SM3: SM2 over SM3 with user id 1234567812345678, signature r‖s of 32 bytes each). A replay carries the same receipt. See docs/receipts.md. */
          Receipt?: string
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "id": "01a249a2-1c17-7567-b22b-a981e9cfff25",
           *       "level": "orange",
           *       "regionCode": "110105",
           *       "disputeType": "labor",
           *       "summary": "某建筑工地 60 余名农民工集中讨薪，情绪激动",
           *       "involvedPersons": 63,
           *       "referralId": null,
           *       "raisedBy": {
           *         "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d",
           *         "role": "court",
           *         "name": "北京市朝阳区人民法院"
           *       },
           *       "createdAt": "2026-12-06T04:34:50.519Z",
           *       "status": "closed",
           *       "version": 4,
           *       "updatedAt": "2026-12-06T04:34:50.638Z",
           *       "acknowledgementDueAt": "2026-12-06T16:34:50.519Z",
           *       "overdue": false,
           *       "acknowledgedAt": "2026-12-06T04:34:50.608Z",
           *       "acknowledgement": {
           *         "at": "2026-12-06T04:34:50.608Z",
           *         "by": {
           *           "role": "mediation",
           *           "clientId": "01a249a2-1788-7338-836c-f1a07c0b9973"
           *         },
           *         "note": "已转属地乡镇街道综治中心，人民调解员已赶赴现场"
           *       },
           *       "followUps": [
           *         {
           *           "at": "2026-12-06T04:34:50.598Z",
           *           "by": {
           *             "role": "court",
           *             "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d"
           *           },
           *           "report": "涉事企业已垫付 60% 工资，其余部分约定月底前支付，现场情绪平稳"
           *         }
           *       ],
           *       "closedAt": "2026-12-06T04:34:50.638Z",
           *       "closure": {
           *         "at": "2026-12-06T04:34:50.638Z",
           *         "by": {
           *           "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d",
           *           "role": "court"
           *         },
           *         "report": "工资已全部结清，农民工已返乡，预警解除"
           *       }
           *     }
           */
          'application/json': {
            id: string
            /** @enum {string} */
            level: 'red' | 'orange' | 'yellow'
            regionCode: string
            disputeType: string
            summary: string
            involvedPersons: number
            referralId: string | null
            raisedBy: {
              clientId: string
              /** @enum {string} */
              role: 'court' | 'mediation'
              name: string
            }
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            createdAt: string
            /**
             * @description 预警状态：raised 已发布、acknowledged 已签收、closed 已结报 / lifecycle status
             * @enum {string}
             */
            status: 'raised' | 'acknowledged' | 'closed'
            /** @description 版本号（最后一个事件的序号），亦为 ETag / version, also the ETag */
            version: number
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            updatedAt: string
            /**
             * Format: date-time
             * @description RFC 3339 with offset
             */
            acknowledgementDueAt: string
            /** @description 是否已逾期未签收（已发出 warning.overdue）/ whether warning.overdue was sent */
            overdue: boolean
            acknowledgedAt: string | null
            acknowledgement: {
              /**
               * Format: date-time
               * @description RFC 3339 with offset
               */
              at: string
              by: {
                clientId: string
                /** @enum {string} */
                role: 'court' | 'mediation'
              }
              note: string | null
            } | null
            /** @description 续报，按时间先后 / follow-ups, oldest first */
            followUps: {
              /**
               * Format: date-time
               * @description RFC 3339 with offset
               */
              at: string
              by: {
                clientId: string
                /** @enum {string} */
                role: 'court' | 'mediation'
              }
              report: string
            }[]
            closedAt: string | null
            closure: {
              /**
               * Format: date-time
               * @description RFC 3339 with offset
               */
              at: string
              by: {
                clientId: string
                /** @enum {string} */
                role: 'court' | 'mediation'
              }
              report: string
            } | null
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_json`, `idempotency_key_required` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 冲突 / conflict: `idempotency_key_in_use`, `illegal_transition` */
      409: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 版本号不一致 / If-Match is stale: `version_mismatch` */
      412: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求体过大 / body too large: `payload_too_large` */
      413: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不支持的内容类型 / unsupported media type: `unsupported_media_type` */
      415: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 违反业务规则 / business rule violated: `idempotency_key_reused` */
      422: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  getV1Stats: {
    parameters: {
      query?: {
        /** @description 起始日（含）YYYY-MM-DD */
        from?: string
        /** @description 截止日（含）YYYY-MM-DD */
        to?: string
        groupBy?: 'court' | 'organization' | 'disputeType' | 'region' | 'month'
        courtCode?: string
        /** @description 调解组织所在区域 / region of the mediation organization */
        regionCode?: string
      }
      header?: never
      path?: never
      cookie?: never
    }
    requestBody?: never
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "from": "2026-11-07",
           *       "to": "2026-12-06",
           *       "groupBy": "court",
           *       "asOf": "2026-12-06",
           *       "groups": [
           *         {
           *           "key": "京0105",
           *           "referrals": 6,
           *           "accepted": 3,
           *           "declined": 1,
           *           "agreed": 2,
           *           "terminated": 1,
           *           "successRate": 0.6667,
           *           "performanceReported": 1,
           *           "performed": 1,
           *           "autoPerformanceRate": 1,
           *           "medianDaysToOutcome": 0,
           *           "litigatedAfterFailure": 1,
           *           "confirmationsApplied": 2,
           *           "confirmationsRuledValid": 1,
           *           "confirmationsOverdue": 0,
           *           "openReferrals": 4,
           *           "openReferralMedianAgeDays": 0,
           *           "openReferralMaxAgeDays": 0
           *         }
           *       ],
           *       "overdueConfirmations": 0
           *     }
           */
          'application/json': {
            /** Format: date */
            from: string
            /** Format: date */
            to: string
            /** @enum {string} */
            groupBy: 'court' | 'organization' | 'disputeType' | 'region' | 'month'
            /**
             * Format: date
             * @description 未办结与超期数据的截止日（今日）/ the day open and overdue figures refer to
             */
            asOf: string
            groups: {
              /** @description 分组键：法院代字、组织标识、纠纷类型、6 位区划代码或 YYYY-MM / the group */
              key: string
              /** @description 期间内创建的委派案件数 / referrals created in the period */
              referrals: number
              /** @description 曾被受理 / reached accepted */
              accepted: number
              /** @description 曾被不予接受（含超时）/ reached declined (timeouts included) */
              declined: number
              /** @description 曾达成协议 / reached an agreement */
              agreed: number
              /** @description 曾调解终结（含超期）/ reached termination */
              terminated: number
              successRate: number | null
              /** @description 有履行回访的协议数 / agreements with a performance report */
              performanceReported: number
              /** @description 最新回访为已履行 / latest report: performed */
              performed: number
              autoPerformanceRate: number | null
              medianDaysToOutcome: number | null
              /** @description 调解不成后登记立案或恢复审理 / case_registered + trial_resumed */
              litigatedAfterFailure: number
              /** @description 申请司法确认 / confirmation applications */
              confirmationsApplied: number
              /** @description 裁定协议有效 / ruled valid */
              confirmationsRuledValid: number
              /** @description 审查超期（今日）/ under review past the due date, today */
              confirmationsOverdue: number
              /** @description 尚未办结（今日）/ still open today */
              openReferrals: number
              openReferralMedianAgeDays: number | null
              openReferralMaxAgeDays: number | null
            }[]
            overdueConfirmations: number
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  postV1Materials: {
    parameters: {
      query?: never
      header: {
        /** @description 幂等键（1–255 个可见 ASCII 字符），同一调用方内唯一；保存至少 24 小时。重放返回所存状态与应答体，其中个人信息按调用方重放时的权限显示（完整显示时记入访问记录）。Idempotency key, scoped to the calling client. A replay answers the stored status and body, with personal data as the caller may see it at the replay (recorded in the access log when shown in full). */
        'idempotency-key': string
        /**
         * @description 材料标题，百分号编码的 UTF-8 / title, percent-encoded UTF-8
         * @example %E8%B5%B7%E8%AF%89%E7%8A%B6.pdf
         */
        'x-material-title'?: string
      }
      path?: never
      cookie?: never
    }
    requestBody: {
      content: {
        'application/pdf': string
        'application/ofd': string
        'image/jpeg': string
        'image/png': string
        'application/vnd.openxmlformats-officedocument.wordprocessingml.document': string
      }
    }
    responses: {
      /** @description Default Response */
      201: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "id": "01a249a2-1850-7f07-8c30-ee44d67ef4f9",
           *       "sha256": "5a838678058f6de375e8635b5f2fea47a4e5f07cb1a882a44b10f39abc6f34ff",
           *       "sizeBytes": 45,
           *       "contentType": "application/pdf",
           *       "title": "调解主持证明.pdf"
           *     }
           */
          'application/json': {
            id: string
            /** @description 文件内容的 SHA-256（小写十六进制）/ lowercase hex SHA-256 of the bytes */
            sha256: string
            sizeBytes: number
            contentType: string
            title: string
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `idempotency_key_required` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 冲突 / conflict: `idempotency_key_in_use` */
      409: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求体过大 / body too large: `payload_too_large` */
      413: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不支持的内容类型 / unsupported media type: `unsupported_media_type`, `content_type_mismatch` */
      415: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 违反业务规则 / business rule violated: `idempotency_key_reused` */
      422: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 存储配额已满 / storage quota exceeded: `quota_exceeded` */
      507: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  getV1MaterialsId: {
    parameters: {
      query?: never
      header?: never
      path: {
        /** @description 资源标识 / resource id */
        id: string
      }
      cookie?: never
    }
    requestBody?: never
    responses: {
      /** @description 文件内容 / the file */
      200: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example %PDF-1.4
           *     1 0 obj<<>>endobj
           *     trailer<<>>
           *     %%EOF
           */
          'application/pdf': string
          /**
           * @example %PDF-1.4
           *     1 0 obj<<>>endobj
           *     trailer<<>>
           *     %%EOF
           */
          'application/ofd': string
          /**
           * @example %PDF-1.4
           *     1 0 obj<<>>endobj
           *     trailer<<>>
           *     %%EOF
           */
          'image/jpeg': string
          /**
           * @example %PDF-1.4
           *     1 0 obj<<>>endobj
           *     trailer<<>>
           *     %%EOF
           */
          'image/png': string
          /**
           * @example %PDF-1.4
           *     1 0 obj<<>>endobj
           *     trailer<<>>
           *     %%EOF
           */
          'application/vnd.openxmlformats-officedocument.wordprocessingml.document': string
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  getV1CalendarYear: {
    parameters: {
      query?: never
      header?: never
      path: {
        /** @description 公历年份，四位数字 2000–2100 / year, four digits, 2000–2100 */
        year: string
      }
      cookie?: never
    }
    requestBody?: never
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "year": 2026,
           *       "holidays": [
           *         "2026-01-01",
           *         "2026-01-02",
           *         "2026-01-03"
           *       ],
           *       "workdays": [
           *         "2026-01-04",
           *         "2026-02-14",
           *         "2026-02-28"
           *       ],
           *       "provisional": false
           *     }
           */
          'application/json': {
            year: number
            /** @description 放假日，升序 / days off, sorted */
            holidays: string[]
            /** @description 调休上班日，升序 / make-up working days, sorted */
            workdays: string[]
            /** @description 尚无国务院安排、按《全国年节及纪念日放假办法》法定日推定 / statutory fallback, no published arrangement */
            provisional: boolean
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 违反业务规则 / business rule violated: `calendar_unavailable` */
      422: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  putV1CalendarYear: {
    parameters: {
      query?: never
      header?: never
      path: {
        /** @description 公历年份，四位数字 2000–2100 / year, four digits, 2000–2100 */
        year: string
      }
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "holidays": [
         *         "2027-01-01",
         *         "2027-02-05",
         *         "2027-02-06",
         *         "2027-02-07",
         *         "2027-02-08",
         *         "2027-02-09",
         *         "2027-02-10",
         *         "2027-02-11",
         *         "2027-02-12"
         *       ],
         *       "workdays": [
         *         "2027-02-14",
         *         "2027-02-20"
         *       ]
         *     }
         */
        'application/json': {
          /** @description 放假日（YYYY-MM-DD，均须在该年内）/ days off, all in that year */
          holidays: string[]
          /** @description 调休上班日（周末上班）/ make-up working days */
          workdays: string[]
        }
      }
    }
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "year": 2027,
           *       "holidays": [
           *         "2027-01-06",
           *         "2027-02-10",
           *         "2027-02-11"
           *       ],
           *       "workdays": [
           *         "2027-02-19",
           *         "2027-02-25"
           *       ],
           *       "provisional": false
           *     }
           */
          'application/json': {
            year: number
            /** @description 放假日，升序 / days off, sorted */
            holidays: string[]
            /** @description 调休上班日，升序 / make-up working days, sorted */
            workdays: string[]
            /** @description 尚无国务院安排、按《全国年节及纪念日放假办法》法定日推定 / statutory fallback, no published arrangement */
            provisional: boolean
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_json` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求体过大 / body too large: `payload_too_large` */
      413: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不支持的内容类型 / unsupported media type: `unsupported_media_type` */
      415: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  getV1CodeTables: {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    requestBody?: never
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "items": [
           *         {
           *           "name": "dispute-types",
           *           "version": "1ad412e7e6757f92",
           *           "entries": [
           *             {
           *               "code": "marriage_family",
           *               "zh": "婚姻家庭",
           *               "en": "Marriage and family"
           *             },
           *             {
           *               "code": "neighbor",
           *               "zh": "邻里",
           *               "en": "Neighbours"
           *             },
           *             {
           *               "code": "housing_homestead",
           *               "zh": "房屋宅基地",
           *               "en": "Housing and homestead land"
           *             }
           *           ]
           *         },
           *         {
           *           "name": "termination-reasons",
           *           "version": "c9cd1d8496147fd5",
           *           "entries": [
           *             {
           *               "code": "settled_and_withdrawn",
           *               "zh": "当事人自行和解，撤回调解申请",
           *               "en": "Settled by the parties and withdrawn"
           *             },
           *             {
           *               "code": "party_unreachable",
           *               "zh": "调解期限内无法联系到当事人",
           *               "en": "A party could not be reached within the mediation period"
           *             },
           *             {
           *               "code": "party_refused",
           *               "zh": "当事人明确拒绝继续调解",
           *               "en": "A party refused to continue the mediation"
           *             }
           *           ]
           *         },
           *         {
           *           "name": "organization-kinds",
           *           "version": "e3176bc73aed41ec",
           *           "entries": [
           *             {
           *               "code": "village_committee",
           *               "zh": "村（居）民委员会人民调解委员会",
           *               "en": "Village or residents’ people’s mediation committee"
           *             },
           *             {
           *               "code": "township_committee",
           *               "zh": "乡镇（街道）人民调解委员会",
           *               "en": "Township or subdistrict people’s mediation committee"
           *             },
           *             {
           *               "code": "industry_committee",
           *               "zh": "行业性、专业性人民调解委员会",
           *               "en": "Industry-specific people’s mediation committee"
           *             }
           *           ]
           *         }
           *       ]
           *     }
           */
          'application/json': {
            items: {
              /** @enum {string} */
              name:
                | 'dispute-types'
                | 'termination-reasons'
                | 'organization-kinds'
                | 'suspension-reasons'
                | 'referral-statuses'
                | 'confirmation-statuses'
                | 'warning-levels'
                | 'event-types'
                | 'id-types'
              /** @description 条目的 SHA-256 摘要前 16 位十六进制，条目变化时随之变化 / first 16 hex digits of SHA-256 over the entries; changes exactly when they do */
              version: string
              /** @description 按枚举定义顺序 / in the enumeration’s order */
              entries: {
                /** @description 接口中使用的代码 / the code the API uses */
                code: string
                /** @description 中文名称 / Chinese label */
                zh: string
                /** @description 英文名称 / English label */
                en: string
              }[]
            }[]
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  getV1CodeTablesName: {
    parameters: {
      query?: never
      header?: never
      path: {
        /** @description 代码表名称：dispute-types、termination-reasons、organization-kinds、suspension-reasons、referral-statuses、confirmation-statuses、warning-levels、event-types、id-types / table name; any other answers 404 */
        name: string
      }
      cookie?: never
    }
    requestBody?: never
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "name": "dispute-types",
           *       "version": "1ad412e7e6757f92",
           *       "entries": [
           *         {
           *           "code": "marriage_family",
           *           "zh": "婚姻家庭",
           *           "en": "Marriage and family"
           *         },
           *         {
           *           "code": "neighbor",
           *           "zh": "邻里",
           *           "en": "Neighbours"
           *         },
           *         {
           *           "code": "housing_homestead",
           *           "zh": "房屋宅基地",
           *           "en": "Housing and homestead land"
           *         }
           *       ]
           *     }
           */
          'application/json': {
            /** @enum {string} */
            name:
              | 'dispute-types'
              | 'termination-reasons'
              | 'organization-kinds'
              | 'suspension-reasons'
              | 'referral-statuses'
              | 'confirmation-statuses'
              | 'warning-levels'
              | 'event-types'
              | 'id-types'
            /** @description 条目的 SHA-256 摘要前 16 位十六进制，条目变化时随之变化 / first 16 hex digits of SHA-256 over the entries; changes exactly when they do */
            version: string
            /** @description 按枚举定义顺序 / in the enumeration’s order */
            entries: {
              /** @description 接口中使用的代码 / the code the API uses */
              code: string
              /** @description 中文名称 / Chinese label */
              zh: string
              /** @description 英文名称 / English label */
              en: string
            }[]
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不存在或不在调用方范围内 / not found or outside the caller’s scope: `not_found` */
      404: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  getV1Reconciliation: {
    parameters: {
      query: {
        /** @description 上海时间日期 YYYY-MM-DD / Asia/Shanghai date */
        date: string
        /** @description referral 委派案件 / judicial_confirmation 司法确认申请 */
        kind: 'referral' | 'judicial_confirmation'
      }
      header?: never
      path?: never
      cookie?: never
    }
    requestBody?: never
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "date": "2026-12-06",
           *       "kind": "referral",
           *       "count": 6,
           *       "byStatus": {
           *         "agreed": 1,
           *         "case_registered": 1,
           *         "closed": 1,
           *         "materials_returned": 1,
           *         "referred": 2
           *       },
           *       "digest": "700801cc8957e1fcc4f66da5b00ff967649c1a34de9d36ae28b780907629627e"
           *     }
           */
          'application/json': {
            /** Format: date */
            date: string
            /**
             * @description referral 委派案件 / judicial_confirmation 司法确认申请
             * @enum {string}
             */
            kind: 'referral' | 'judicial_confirmation'
            /** @description 当日最后变更的可读案件数 / cases the caller may read last changed that day */
            count: number
            /** @description 各状态案件数，按状态名排序，无案件的状态不列出 / count per status, alphabetical, statuses without a case left out */
            byStatus: {
              [key: string]: number
            }
            /** @description 按 id 排序的各行 `<id>:<version>:<status>\n` 的 SHA-256（小写十六进制）/ SHA-256 of the lines, sorted by id */
            digest: string
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  postV1ReconciliationDiff: {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "date": "2026-12-01",
         *       "kind": "referral",
         *       "items": [
         *         {
         *           "id": "0193a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b",
         *           "version": 4
         *         }
         *       ]
         *     }
         */
        'application/json': {
          /** @description 上海时间日期 YYYY-MM-DD / Asia/Shanghai date */
          date: string
          /**
           * @description referral 委派案件 / judicial_confirmation 司法确认申请
           * @enum {string}
           */
          kind: 'referral' | 'judicial_confirmation'
          /** @description 调用方所持当日案件及其版本，至多 10000 项，id 不得重复 / the caller's cases of the day, at most 10000, no id twice */
          items: {
            /** @description 案件标识 / case id */
            id: string
            /** @description 案件版本号 / the case’s version */
            version: number
          }[]
        }
      }
    }
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "missing": [
           *         {
           *           "id": "01a249a2-1873-7c68-b027-9877cc03bf12",
           *           "version": 8
           *         },
           *         {
           *           "id": "01a249a2-197a-7833-9d6c-f2e436eeba5c",
           *           "version": 5
           *         },
           *         {
           *           "id": "01a249a2-19e0-75b7-89ed-463b299b3ebb",
           *           "version": 4
           *         }
           *       ],
           *       "unknown": [],
           *       "matched": 0
           *     }
           */
          'application/json': {
            /** @description 当日案件中调用方未持有或版本不一致者，附当前版本，按 id 排序 / cases of the day the caller lacks or holds at another version, sorted by id */
            missing: {
              id: string
              /** @description 服务端当前版本 / the current version */
              version: number
            }[]
            /** @description 服务端无此案件或调用方无权读取的 id，按请求顺序 / ids the service does not have or the caller may not read, in request order */
            unknown: string[]
            /** @description 版本一致的当日案件数 / cases of the day held at their current version */
            matched: number
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed`, `invalid_json` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求体过大 / body too large: `payload_too_large` */
      413: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 不支持的内容类型 / unsupported media type: `unsupported_media_type` */
      415: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  getV1ServiceKeys: {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    requestBody?: never
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "keys": [
           *         {
           *           "kty": "OKP",
           *           "crv": "Ed25519",
           *           "x": "skBDmMz0eSaTl5t5Ufo3hNcJcBHZt31O6vfzoVthC4I",
           *           "kid": "r20261206-4da527",
           *           "alg": "EdDSA",
           *           "use": "sig"
           *         }
           *       ]
           *     }
           */
          'application/json': {
            keys: {
              /** @description OKP (Ed25519, RFC 8037) or EC (SM2) */
              kty: 'OKP' | 'EC'
              crv: 'Ed25519' | 'SM2'
              /** @description base64url: the Ed25519 public key, or the SM2 point’s x (32 bytes) */
              x: string
              /** @description SM2 only: the point’s y (32 bytes), base64url */
              y?: string
              /** @description 密钥标识，对应回执 JWS 头部的 kid / the key id a receipt’s JWS header names */
              kid: string
              alg: 'EdDSA' | 'SM2SM3'
              /** @enum {string} */
              use: 'sig'
            }[]
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  getV1ErrorCodes: {
    parameters: {
      query?: never
      header?: never
      path?: never
      cookie?: never
    }
    requestBody?: never
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown
        }
        content: {
          /**
           * @example {
           *       "items": [
           *         {
           *           "code": "validation_failed",
           *           "status": 400,
           *           "scope": "problem",
           *           "title": {
           *             "zh": "请求内容未通过校验",
           *             "en": "Validation failed"
           *           },
           *           "description": {
           *             "zh": "请求的正文、查询参数、路径参数或请求头不符合接口约定；errors[] 逐项列出每个出错的路径及其字段错误码。",
           *             "en": "The body, query, path or headers do not match the operation’s schema; errors[] lists every offending path with its field code."
           *           }
           *         },
           *         {
           *           "code": "invalid_json",
           *           "status": 400,
           *           "scope": "problem",
           *           "title": {
           *             "zh": "请求体不是有效的 JSON",
           *             "en": "Invalid JSON"
           *           },
           *           "description": {
           *             "zh": "请求体无法按 JSON 解析。",
           *             "en": "The request body could not be parsed as JSON."
           *           }
           *         },
           *         {
           *           "code": "invalid_content_length",
           *           "status": 400,
           *           "scope": "problem",
           *           "title": {
           *             "zh": "请求体长度不符",
           *             "en": "Content-Length mismatch"
           *           },
           *           "description": {
           *             "zh": "请求体的实际长度与 Content-Length 请求头不一致。",
           *             "en": "The body’s length differs from its Content-Length header."
           *           }
           *         }
           *       ]
           *     }
           */
          'application/json': {
            items: {
              /** @description 稳定的错误码 / the stable code */
              code: string
              /** @description 应答的 HTTP 状态；字段错误码为承载它的问题的状态 / HTTP status (for field codes: of the problem carrying them) */
              status: number
              /**
               * @description problem：问题的 code；field：仅出现在 errors[].code；both：两者皆可 / problem: the top-level code; field: only in errors[].code; both: either
               * @enum {string}
               */
              scope: 'problem' | 'field' | 'both'
              title: {
                zh: string
                en: string
              }
              description: {
                zh: string
                en: string
              }
            }[]
          }
        }
      }
      /** @description 请求无效 / invalid request: `validation_failed` */
      400: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 缺少或无效的 API 密钥 / missing, unknown or revoked key: `unauthorized` */
      401: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 无权调用或超出范围 / not allowed: `forbidden` */
      403: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 请求过于频繁 / rate limited: `rate_limited`, `too_many_failed_authentications` */
      429: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 内部错误 / internal error: `internal_error` */
      500: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
      /** @description 依赖暂不可用 / a dependency is unavailable: `service_unavailable` */
      503: {
        headers: {
          [name: string]: unknown
        }
        content: {
          'application/problem+json': components['schemas']['Problem']
        }
      }
    }
  }
  webhook_referral_created: {
    parameters: {
      query?: never
      header: {
        /** @description 事件标识（即事件 id），接收方据此去重 / the event id: deduplicate on it (deliveries are at least once) */
        'webhook-id': string
        /** @description 签名时间（Unix 秒）；与本地时钟相差超过 5 分钟应拒绝 / unix seconds when signed; refuse beyond 5 minutes of your clock */
        'webhook-timestamp': string
        /** @description Standard Webhooks 签名：`v1,<base64 HMAC-SHA256>`（默认）或 `sm3,<base64 HMAC-SM3>`（signatureAlgorithm hmac-sm3，密评）；签名内容为 `<webhook-id>.<webhook-timestamp>.<原始请求体>`，密钥为订阅 secret 去掉 `whsec_` 后 base64 解码的字节；轮换期间含多个以空格分隔的签名，任一匹配即可。Signed content `<id>.<timestamp>.<raw body>`, key = base64-decoded secret after `whsec_`; several space-separated signatures during a secret rotation, one match suffices. Verify with `verifyWebhook` from `zdz-connector/client`. */
        'webhook-signature': string
      }
      path?: never
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "id": "01a249a2-1873-7c68-b027-987894a6fee1",
         *       "type": "referral.created",
         *       "occurredAt": "2026-12-06T04:34:49.586Z",
         *       "sequence": 1,
         *       "subject": {
         *         "kind": "referral",
         *         "id": "01a249a2-1873-7c68-b027-9877cc03bf12"
         *       },
         *       "caseVersion": 1,
         *       "actor": {
         *         "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d",
         *         "role": "court"
         *       },
         *       "data": {
         *         "referral": {
         *           "id": "01a249a2-1873-7c68-b027-9877cc03bf12",
         *           "recall": null,
         *           "status": "referred",
         *           "closure": null,
         *           "consent": [
         *             {
         *               "method": "written",
         *               "partyIndex": 0,
         *               "consentedAt": "2026-12-03T09:00:00+08:00"
         *             },
         *             {
         *               "method": "online",
         *               "partyIndex": 1,
         *               "consentedAt": "2026-12-03T09:30:00+08:00"
         *             }
         *           ],
         *           "decline": null,
         *           "parties": [
         *             {
         *               "kind": "natural_person",
         *               "name": "张三",
         *               "role": "applicant",
         *               "phone": "138****8000",
         *               "idType": "resident_id",
         *               "idNumber": "110***********002X"
         *             },
         *             {
         *               "kind": "natural_person",
         *               "name": "李四",
         *               "role": "respondent",
         *               "idType": "resident_id",
         *               "idNumber": "440***********0014"
         *             }
         *           ],
         *           "version": 1,
         *           "mediator": null,
         *           "agreement": null,
         *           "courtCode": "京0105",
         *           "createdAt": "2026-12-06T04:34:49.586Z",
         *           "deadlines": {
         *             "provisional": false,
         *             "mediationDueOn": null,
         *             "acceptanceDueOn": "2026-12-09"
         *           },
         *           "materials": [],
         *           "updatedAt": "2026-12-06T04:34:49.586Z",
         *           "acceptedAt": null,
         *           "caseNumber": "（2026）京0105民诉前调33934号",
         *           "extensions": [],
         *           "suspension": null,
         *           "claimAmount": "12000.00",
         *           "courtFiling": null,
         *           "designation": {
         *             "mode": "court_designated",
         *             "organizationId": "bj-cy-blz"
         *           },
         *           "disputeType": "neighbor",
         *           "performance": null,
         *           "termination": null,
         *           "claimSummary": "请求被申请人停止漏水侵害并赔偿损失",
         *           "referralType": "pre_filing",
         *           "causeOfAction": "相邻关系纠纷",
         *           "materialReturn": null,
         *           "organizationId": "bj-cy-blz"
         *         }
         *       }
         *     }
         */
        'application/json': components['schemas']['Event'] & {
          /** @constant */
          type?: 'referral.created'
        }
      }
    }
    responses: {
      /** @description 已接收 / received (any 2xx) */
      204: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 签名无效，不重试 / signature did not verify: not retried (other 4xx likewise) */
      401: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 暂不可用，稍后重试 / retried with backoff (also 408, 429 and other 5xx) */
      503: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
    }
  }
  webhook_referral_accepted: {
    parameters: {
      query?: never
      header: {
        /** @description 事件标识（即事件 id），接收方据此去重 / the event id: deduplicate on it (deliveries are at least once) */
        'webhook-id': string
        /** @description 签名时间（Unix 秒）；与本地时钟相差超过 5 分钟应拒绝 / unix seconds when signed; refuse beyond 5 minutes of your clock */
        'webhook-timestamp': string
        /** @description Standard Webhooks 签名：`v1,<base64 HMAC-SHA256>`（默认）或 `sm3,<base64 HMAC-SM3>`（signatureAlgorithm hmac-sm3，密评）；签名内容为 `<webhook-id>.<webhook-timestamp>.<原始请求体>`，密钥为订阅 secret 去掉 `whsec_` 后 base64 解码的字节；轮换期间含多个以空格分隔的签名，任一匹配即可。Signed content `<id>.<timestamp>.<raw body>`, key = base64-decoded secret after `whsec_`; several space-separated signatures during a secret rotation, one match suffices. Verify with `verifyWebhook` from `zdz-connector/client`. */
        'webhook-signature': string
      }
      path?: never
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "id": "01a249a2-18d4-7d2e-8bec-7610ab730844",
         *       "type": "referral.accepted",
         *       "occurredAt": "2026-12-06T04:34:49.673Z",
         *       "sequence": 2,
         *       "subject": {
         *         "kind": "referral",
         *         "id": "01a249a2-1873-7c68-b027-9877cc03bf12"
         *       },
         *       "caseVersion": 2,
         *       "actor": {
         *         "clientId": "01a249a2-1788-7338-836c-f1a07c0b9973",
         *         "role": "mediation"
         *       },
         *       "data": {
         *         "referral": {
         *           "id": "01a249a2-1873-7c68-b027-9877cc03bf12",
         *           "recall": null,
         *           "status": "mediating",
         *           "closure": null,
         *           "consent": [
         *             {
         *               "method": "written",
         *               "partyIndex": 0,
         *               "consentedAt": "2026-12-03T09:00:00+08:00"
         *             },
         *             {
         *               "method": "online",
         *               "partyIndex": 1,
         *               "consentedAt": "2026-12-03T09:30:00+08:00"
         *             }
         *           ],
         *           "decline": null,
         *           "parties": [
         *             {
         *               "kind": "natural_person",
         *               "name": "张三",
         *               "role": "applicant",
         *               "phone": "138****8000",
         *               "idType": "resident_id",
         *               "idNumber": "110***********002X"
         *             },
         *             {
         *               "kind": "natural_person",
         *               "name": "李四",
         *               "role": "respondent",
         *               "idType": "resident_id",
         *               "idNumber": "440***********0014"
         *             }
         *           ],
         *           "version": 2,
         *           "mediator": {
         *             "id": "M-001",
         *             "name": "王调解"
         *           },
         *           "agreement": null,
         *           "courtCode": "京0105",
         *           "createdAt": "2026-12-06T04:34:49.586Z",
         *           "deadlines": {
         *             "provisional": true,
         *             "mediationDueOn": "2027-01-05",
         *             "acceptanceDueOn": "2026-12-09"
         *           },
         *           "materials": [],
         *           "updatedAt": "2026-12-06T04:34:49.673Z",
         *           "acceptedAt": "2026-12-06T04:34:49.664Z",
         *           "caseNumber": "（2026）京0105民诉前调33934号",
         *           "extensions": [],
         *           "suspension": null,
         *           "claimAmount": "12000.00",
         *           "courtFiling": null,
         *           "designation": {
         *             "mode": "court_designated",
         *             "organizationId": "bj-cy-blz"
         *           },
         *           "disputeType": "neighbor",
         *           "performance": null,
         *           "termination": null,
         *           "claimSummary": "请求被申请人停止漏水侵害并赔偿损失",
         *           "referralType": "pre_filing",
         *           "causeOfAction": "相邻关系纠纷",
         *           "materialReturn": null,
         *           "organizationId": "bj-cy-blz"
         *         }
         *       }
         *     }
         */
        'application/json': components['schemas']['Event'] & {
          /** @constant */
          type?: 'referral.accepted'
        }
      }
    }
    responses: {
      /** @description 已接收 / received (any 2xx) */
      204: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 签名无效，不重试 / signature did not verify: not retried (other 4xx likewise) */
      401: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 暂不可用，稍后重试 / retried with backoff (also 408, 429 and other 5xx) */
      503: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
    }
  }
  webhook_referral_declined: {
    parameters: {
      query?: never
      header: {
        /** @description 事件标识（即事件 id），接收方据此去重 / the event id: deduplicate on it (deliveries are at least once) */
        'webhook-id': string
        /** @description 签名时间（Unix 秒）；与本地时钟相差超过 5 分钟应拒绝 / unix seconds when signed; refuse beyond 5 minutes of your clock */
        'webhook-timestamp': string
        /** @description Standard Webhooks 签名：`v1,<base64 HMAC-SHA256>`（默认）或 `sm3,<base64 HMAC-SM3>`（signatureAlgorithm hmac-sm3，密评）；签名内容为 `<webhook-id>.<webhook-timestamp>.<原始请求体>`，密钥为订阅 secret 去掉 `whsec_` 后 base64 解码的字节；轮换期间含多个以空格分隔的签名，任一匹配即可。Signed content `<id>.<timestamp>.<raw body>`, key = base64-decoded secret after `whsec_`; several space-separated signatures during a secret rotation, one match suffices. Verify with `verifyWebhook` from `zdz-connector/client`. */
        'webhook-signature': string
      }
      path?: never
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "id": "01a249a2-1989-7235-aaa7-377af52ef224",
         *       "type": "referral.declined",
         *       "occurredAt": "2026-12-06T04:34:49.863Z",
         *       "sequence": 2,
         *       "subject": {
         *         "kind": "referral",
         *         "id": "01a249a2-197a-7833-9d6c-f2e436eeba5c"
         *       },
         *       "caseVersion": 2,
         *       "actor": {
         *         "clientId": "01a249a2-1788-7338-836c-f1a07c0b9973",
         *         "role": "mediation"
         *       },
         *       "data": {
         *         "referral": {
         *           "id": "01a249a2-197a-7833-9d6c-f2e436eeba5c",
         *           "recall": null,
         *           "status": "declined",
         *           "closure": null,
         *           "consent": [
         *             {
         *               "method": "written",
         *               "partyIndex": 0,
         *               "consentedAt": "2026-11-27T09:00:00+08:00"
         *             },
         *             {
         *               "method": "online",
         *               "partyIndex": 1,
         *               "consentedAt": "2026-11-27T09:30:00+08:00"
         *             }
         *           ],
         *           "decline": {
         *             "by": "organization",
         *             "reason": "本组织近期无调解员可派",
         *             "declinedAt": "2026-12-06T04:34:49.863Z"
         *           },
         *           "parties": [
         *             {
         *               "kind": "natural_person",
         *               "name": "张三",
         *               "role": "applicant",
         *               "phone": "138****8000",
         *               "idType": "resident_id",
         *               "address": "北京市朝阳区*******",
         *               "idNumber": "110***********0016"
         *             },
         *             {
         *               "kind": "natural_person",
         *               "name": "李四",
         *               "role": "respondent",
         *               "idType": "resident_id",
         *               "idNumber": "440***********0021"
         *             }
         *           ],
         *           "version": 2,
         *           "mediator": null,
         *           "agreement": null,
         *           "courtCode": "京0105",
         *           "createdAt": "2026-12-06T04:34:49.850Z",
         *           "deadlines": {
         *             "provisional": false,
         *             "mediationDueOn": null,
         *             "acceptanceDueOn": "2026-12-09"
         *           },
         *           "materials": [],
         *           "updatedAt": "2026-12-06T04:34:49.863Z",
         *           "acceptedAt": null,
         *           "caseNumber": "（2026）京0105民诉前调33935号",
         *           "extensions": [],
         *           "suspension": null,
         *           "claimAmount": "12000.00",
         *           "courtFiling": null,
         *           "designation": {
         *             "mode": "court_designated",
         *             "organizationId": "bj-cy-blz"
         *           },
         *           "disputeType": "neighbor",
         *           "performance": null,
         *           "termination": null,
         *           "claimSummary": "请求被申请人停止漏水侵害并赔偿损失",
         *           "referralType": "pre_filing",
         *           "materialReturn": null,
         *           "organizationId": "bj-cy-blz"
         *         }
         *       }
         *     }
         */
        'application/json': components['schemas']['Event'] & {
          /** @constant */
          type?: 'referral.declined'
        }
      }
    }
    responses: {
      /** @description 已接收 / received (any 2xx) */
      204: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 签名无效，不重试 / signature did not verify: not retried (other 4xx likewise) */
      401: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 暂不可用，稍后重试 / retried with backoff (also 408, 429 and other 5xx) */
      503: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
    }
  }
  webhook_referral_redesignated: {
    parameters: {
      query?: never
      header: {
        /** @description 事件标识（即事件 id），接收方据此去重 / the event id: deduplicate on it (deliveries are at least once) */
        'webhook-id': string
        /** @description 签名时间（Unix 秒）；与本地时钟相差超过 5 分钟应拒绝 / unix seconds when signed; refuse beyond 5 minutes of your clock */
        'webhook-timestamp': string
        /** @description Standard Webhooks 签名：`v1,<base64 HMAC-SHA256>`（默认）或 `sm3,<base64 HMAC-SM3>`（signatureAlgorithm hmac-sm3，密评）；签名内容为 `<webhook-id>.<webhook-timestamp>.<原始请求体>`，密钥为订阅 secret 去掉 `whsec_` 后 base64 解码的字节；轮换期间含多个以空格分隔的签名，任一匹配即可。Signed content `<id>.<timestamp>.<raw body>`, key = base64-decoded secret after `whsec_`; several space-separated signatures during a secret rotation, one match suffices. Verify with `verifyWebhook` from `zdz-connector/client`. */
        'webhook-signature': string
      }
      path?: never
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "id": "01a249a2-199f-7411-ba1c-05002ec012a4",
         *       "type": "referral.redesignated",
         *       "occurredAt": "2026-12-06T04:34:49.882Z",
         *       "sequence": 3,
         *       "subject": {
         *         "kind": "referral",
         *         "id": "01a249a2-197a-7833-9d6c-f2e436eeba5c"
         *       },
         *       "caseVersion": 3,
         *       "actor": {
         *         "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d",
         *         "role": "court"
         *       },
         *       "data": {
         *         "referral": {
         *           "id": "01a249a2-197a-7833-9d6c-f2e436eeba5c",
         *           "recall": null,
         *           "status": "referred",
         *           "closure": null,
         *           "consent": [
         *             {
         *               "method": "written",
         *               "partyIndex": 0,
         *               "consentedAt": "2026-11-27T09:00:00+08:00"
         *             },
         *             {
         *               "method": "online",
         *               "partyIndex": 1,
         *               "consentedAt": "2026-11-27T09:30:00+08:00"
         *             }
         *           ],
         *           "decline": null,
         *           "parties": [
         *             {
         *               "kind": "natural_person",
         *               "name": "张三",
         *               "role": "applicant",
         *               "phone": "138****8000",
         *               "idType": "resident_id",
         *               "address": "北京市朝阳区*******",
         *               "idNumber": "110***********0016"
         *             },
         *             {
         *               "kind": "natural_person",
         *               "name": "李四",
         *               "role": "respondent",
         *               "idType": "resident_id",
         *               "idNumber": "440***********0021"
         *             }
         *           ],
         *           "version": 3,
         *           "mediator": null,
         *           "agreement": null,
         *           "courtCode": "京0105",
         *           "createdAt": "2026-12-06T04:34:49.850Z",
         *           "deadlines": {
         *             "provisional": false,
         *             "mediationDueOn": null,
         *             "acceptanceDueOn": "2026-12-09"
         *           },
         *           "materials": [],
         *           "updatedAt": "2026-12-06T04:34:49.882Z",
         *           "acceptedAt": null,
         *           "caseNumber": "（2026）京0105民诉前调33935号",
         *           "extensions": [],
         *           "suspension": null,
         *           "claimAmount": "12000.00",
         *           "courtFiling": null,
         *           "designation": {
         *             "mode": "court_designated",
         *             "organizationId": "bj-cy-blz"
         *           },
         *           "disputeType": "neighbor",
         *           "performance": null,
         *           "termination": null,
         *           "claimSummary": "请求被申请人停止漏水侵害并赔偿损失",
         *           "referralType": "pre_filing",
         *           "materialReturn": null,
         *           "organizationId": "bj-cy-blz"
         *         }
         *       }
         *     }
         */
        'application/json': components['schemas']['Event'] & {
          /** @constant */
          type?: 'referral.redesignated'
        }
      }
    }
    responses: {
      /** @description 已接收 / received (any 2xx) */
      204: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 签名无效，不重试 / signature did not verify: not retried (other 4xx likewise) */
      401: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 暂不可用，稍后重试 / retried with backoff (also 408, 429 and other 5xx) */
      503: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
    }
  }
  webhook_referral_recalled: {
    parameters: {
      query?: never
      header: {
        /** @description 事件标识（即事件 id），接收方据此去重 / the event id: deduplicate on it (deliveries are at least once) */
        'webhook-id': string
        /** @description 签名时间（Unix 秒）；与本地时钟相差超过 5 分钟应拒绝 / unix seconds when signed; refuse beyond 5 minutes of your clock */
        'webhook-timestamp': string
        /** @description Standard Webhooks 签名：`v1,<base64 HMAC-SHA256>`（默认）或 `sm3,<base64 HMAC-SM3>`（signatureAlgorithm hmac-sm3，密评）；签名内容为 `<webhook-id>.<webhook-timestamp>.<原始请求体>`，密钥为订阅 secret 去掉 `whsec_` 后 base64 解码的字节；轮换期间含多个以空格分隔的签名，任一匹配即可。Signed content `<id>.<timestamp>.<raw body>`, key = base64-decoded secret after `whsec_`; several space-separated signatures during a secret rotation, one match suffices. Verify with `verifyWebhook` from `zdz-connector/client`. */
        'webhook-signature': string
      }
      path?: never
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "id": "01a249a2-19bd-7afc-bc29-898bbd515ce7",
         *       "type": "referral.recalled",
         *       "occurredAt": "2026-12-06T04:34:49.911Z",
         *       "sequence": 4,
         *       "subject": {
         *         "kind": "referral",
         *         "id": "01a249a2-197a-7833-9d6c-f2e436eeba5c"
         *       },
         *       "caseVersion": 4,
         *       "actor": {
         *         "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d",
         *         "role": "court"
         *       },
         *       "data": {
         *         "referral": {
         *           "id": "01a249a2-197a-7833-9d6c-f2e436eeba5c",
         *           "recall": {
         *             "note": "申请人明确表示不同意调解，坚持起诉",
         *             "reason": "party_insists_on_litigation",
         *             "recalledAt": "2026-12-06T04:34:49.911Z"
         *           },
         *           "status": "recalled",
         *           "closure": null,
         *           "consent": [
         *             {
         *               "method": "written",
         *               "partyIndex": 0,
         *               "consentedAt": "2026-11-27T09:00:00+08:00"
         *             },
         *             {
         *               "method": "online",
         *               "partyIndex": 1,
         *               "consentedAt": "2026-11-27T09:30:00+08:00"
         *             }
         *           ],
         *           "decline": null,
         *           "parties": [
         *             {
         *               "kind": "natural_person",
         *               "name": "张三",
         *               "role": "applicant",
         *               "phone": "138****8000",
         *               "idType": "resident_id",
         *               "address": "北京市朝阳区*******",
         *               "idNumber": "110***********0016"
         *             },
         *             {
         *               "kind": "natural_person",
         *               "name": "李四",
         *               "role": "respondent",
         *               "idType": "resident_id",
         *               "idNumber": "440***********0021"
         *             }
         *           ],
         *           "version": 4,
         *           "mediator": null,
         *           "agreement": null,
         *           "courtCode": "京0105",
         *           "createdAt": "2026-12-06T04:34:49.850Z",
         *           "deadlines": {
         *             "provisional": false,
         *             "mediationDueOn": null,
         *             "acceptanceDueOn": "2026-12-09"
         *           },
         *           "materials": [],
         *           "updatedAt": "2026-12-06T04:34:49.911Z",
         *           "acceptedAt": null,
         *           "caseNumber": "（2026）京0105民诉前调33935号",
         *           "extensions": [],
         *           "suspension": null,
         *           "claimAmount": "12000.00",
         *           "courtFiling": null,
         *           "designation": {
         *             "mode": "court_designated",
         *             "organizationId": "bj-cy-blz"
         *           },
         *           "disputeType": "neighbor",
         *           "performance": null,
         *           "termination": null,
         *           "claimSummary": "请求被申请人停止漏水侵害并赔偿损失",
         *           "referralType": "pre_filing",
         *           "materialReturn": null,
         *           "organizationId": "bj-cy-blz"
         *         }
         *       }
         *     }
         */
        'application/json': components['schemas']['Event'] & {
          /** @constant */
          type?: 'referral.recalled'
        }
      }
    }
    responses: {
      /** @description 已接收 / received (any 2xx) */
      204: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 签名无效，不重试 / signature did not verify: not retried (other 4xx likewise) */
      401: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 暂不可用，稍后重试 / retried with backoff (also 408, 429 and other 5xx) */
      503: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
    }
  }
  webhook_referral_assigned: {
    parameters: {
      query?: never
      header: {
        /** @description 事件标识（即事件 id），接收方据此去重 / the event id: deduplicate on it (deliveries are at least once) */
        'webhook-id': string
        /** @description 签名时间（Unix 秒）；与本地时钟相差超过 5 分钟应拒绝 / unix seconds when signed; refuse beyond 5 minutes of your clock */
        'webhook-timestamp': string
        /** @description Standard Webhooks 签名：`v1,<base64 HMAC-SHA256>`（默认）或 `sm3,<base64 HMAC-SM3>`（signatureAlgorithm hmac-sm3，密评）；签名内容为 `<webhook-id>.<webhook-timestamp>.<原始请求体>`，密钥为订阅 secret 去掉 `whsec_` 后 base64 解码的字节；轮换期间含多个以空格分隔的签名，任一匹配即可。Signed content `<id>.<timestamp>.<raw body>`, key = base64-decoded secret after `whsec_`; several space-separated signatures during a secret rotation, one match suffices. Verify with `verifyWebhook` from `zdz-connector/client`. */
        'webhook-signature': string
      }
      path?: never
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "id": "01a249a2-1a69-70dc-9316-0c8d6301137a",
         *       "type": "referral.assigned",
         *       "occurredAt": "2026-12-06T04:34:50.080Z",
         *       "sequence": 2,
         *       "subject": {
         *         "kind": "referral",
         *         "id": "01a249a2-1a41-7b7b-9b56-1aaacf32223d"
         *       },
         *       "caseVersion": 2,
         *       "actor": {
         *         "clientId": "01a249a2-1788-7338-836c-f1a07c0b9973",
         *         "role": "mediation"
         *       },
         *       "data": {
         *         "referral": {
         *           "id": "01a249a2-1a41-7b7b-9b56-1aaacf32223d",
         *           "recall": null,
         *           "status": "referred",
         *           "closure": null,
         *           "consent": [
         *             {
         *               "method": "written",
         *               "partyIndex": 0,
         *               "consentedAt": "2026-11-27T09:00:00+08:00"
         *             },
         *             {
         *               "method": "online",
         *               "partyIndex": 1,
         *               "consentedAt": "2026-11-27T09:30:00+08:00"
         *             }
         *           ],
         *           "decline": null,
         *           "parties": [
         *             {
         *               "kind": "natural_person",
         *               "name": "张三",
         *               "role": "applicant",
         *               "phone": "138****8000",
         *               "idType": "resident_id",
         *               "address": "北京市朝阳区*******",
         *               "idNumber": "110***********0059"
         *             },
         *             {
         *               "kind": "natural_person",
         *               "name": "李四",
         *               "role": "respondent",
         *               "idType": "resident_id",
         *               "idNumber": "440***********0064"
         *             }
         *           ],
         *           "version": 2,
         *           "mediator": null,
         *           "agreement": null,
         *           "courtCode": "京0105",
         *           "createdAt": "2026-12-06T04:34:50.048Z",
         *           "deadlines": {
         *             "provisional": false,
         *             "mediationDueOn": null,
         *             "acceptanceDueOn": "2026-12-09"
         *           },
         *           "materials": [],
         *           "updatedAt": "2026-12-06T04:34:50.080Z",
         *           "acceptedAt": null,
         *           "caseNumber": "（2026）京0105民诉前调33938号",
         *           "extensions": [],
         *           "suspension": null,
         *           "claimAmount": "12000.00",
         *           "courtFiling": null,
         *           "designation": {
         *             "mode": "court_designated",
         *             "organizationId": "bj-cy-centre"
         *           },
         *           "disputeType": "neighbor",
         *           "performance": null,
         *           "termination": null,
         *           "claimSummary": "请求被申请人停止漏水侵害并赔偿损失",
         *           "referralType": "pre_filing",
         *           "materialReturn": null,
         *           "organizationId": "bj-cy-blz"
         *         }
         *       }
         *     }
         */
        'application/json': components['schemas']['Event'] & {
          /** @constant */
          type?: 'referral.assigned'
        }
      }
    }
    responses: {
      /** @description 已接收 / received (any 2xx) */
      204: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 签名无效，不重试 / signature did not verify: not retried (other 4xx likewise) */
      401: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 暂不可用，稍后重试 / retried with backoff (also 408, 429 and other 5xx) */
      503: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
    }
  }
  webhook_referral_suspended: {
    parameters: {
      query?: never
      header: {
        /** @description 事件标识（即事件 id），接收方据此去重 / the event id: deduplicate on it (deliveries are at least once) */
        'webhook-id': string
        /** @description 签名时间（Unix 秒）；与本地时钟相差超过 5 分钟应拒绝 / unix seconds when signed; refuse beyond 5 minutes of your clock */
        'webhook-timestamp': string
        /** @description Standard Webhooks 签名：`v1,<base64 HMAC-SHA256>`（默认）或 `sm3,<base64 HMAC-SM3>`（signatureAlgorithm hmac-sm3，密评）；签名内容为 `<webhook-id>.<webhook-timestamp>.<原始请求体>`，密钥为订阅 secret 去掉 `whsec_` 后 base64 解码的字节；轮换期间含多个以空格分隔的签名，任一匹配即可。Signed content `<id>.<timestamp>.<raw body>`, key = base64-decoded secret after `whsec_`; several space-separated signatures during a secret rotation, one match suffices. Verify with `verifyWebhook` from `zdz-connector/client`. */
        'webhook-signature': string
      }
      path?: never
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "id": "01a249a2-18e6-7657-9a50-ba535fcd70ff",
         *       "type": "referral.suspended",
         *       "occurredAt": "2026-12-06T04:34:49.699Z",
         *       "sequence": 3,
         *       "subject": {
         *         "kind": "referral",
         *         "id": "01a249a2-1873-7c68-b027-9877cc03bf12"
         *       },
         *       "caseVersion": 3,
         *       "actor": {
         *         "clientId": "01a249a2-1788-7338-836c-f1a07c0b9973",
         *         "role": "mediation"
         *       },
         *       "data": {
         *         "referral": {
         *           "id": "01a249a2-1873-7c68-b027-9877cc03bf12",
         *           "recall": null,
         *           "status": "suspended",
         *           "closure": null,
         *           "consent": [
         *             {
         *               "method": "written",
         *               "partyIndex": 0,
         *               "consentedAt": "2026-12-03T09:00:00+08:00"
         *             },
         *             {
         *               "method": "online",
         *               "partyIndex": 1,
         *               "consentedAt": "2026-12-03T09:30:00+08:00"
         *             }
         *           ],
         *           "decline": null,
         *           "parties": [
         *             {
         *               "kind": "natural_person",
         *               "name": "张三",
         *               "role": "applicant",
         *               "phone": "138****8000",
         *               "idType": "resident_id",
         *               "idNumber": "110***********002X"
         *             },
         *             {
         *               "kind": "natural_person",
         *               "name": "李四",
         *               "role": "respondent",
         *               "idType": "resident_id",
         *               "idNumber": "440***********0014"
         *             }
         *           ],
         *           "version": 3,
         *           "mediator": {
         *             "id": "M-001",
         *             "name": "王调解"
         *           },
         *           "agreement": null,
         *           "courtCode": "京0105",
         *           "createdAt": "2026-12-06T04:34:49.586Z",
         *           "deadlines": {
         *             "provisional": true,
         *             "mediationDueOn": "2027-01-05",
         *             "acceptanceDueOn": "2026-12-09"
         *           },
         *           "materials": [],
         *           "updatedAt": "2026-12-06T04:34:49.699Z",
         *           "acceptedAt": "2026-12-06T04:34:49.664Z",
         *           "caseNumber": "（2026）京0105民诉前调33934号",
         *           "extensions": [],
         *           "suspension": {
         *             "note": "委托房屋漏水原因鉴定",
         *             "reason": "appraisal",
         *             "suspendedAt": "2026-12-06T04:34:49.699Z",
         *             "suspendedOn": "2026-12-06"
         *           },
         *           "claimAmount": "12000.00",
         *           "courtFiling": null,
         *           "designation": {
         *             "mode": "court_designated",
         *             "organizationId": "bj-cy-blz"
         *           },
         *           "disputeType": "neighbor",
         *           "performance": null,
         *           "termination": null,
         *           "claimSummary": "请求被申请人停止漏水侵害并赔偿损失",
         *           "referralType": "pre_filing",
         *           "causeOfAction": "相邻关系纠纷",
         *           "materialReturn": null,
         *           "organizationId": "bj-cy-blz"
         *         }
         *       }
         *     }
         */
        'application/json': components['schemas']['Event'] & {
          /** @constant */
          type?: 'referral.suspended'
        }
      }
    }
    responses: {
      /** @description 已接收 / received (any 2xx) */
      204: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 签名无效，不重试 / signature did not verify: not retried (other 4xx likewise) */
      401: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 暂不可用，稍后重试 / retried with backoff (also 408, 429 and other 5xx) */
      503: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
    }
  }
  webhook_referral_resumed: {
    parameters: {
      query?: never
      header: {
        /** @description 事件标识（即事件 id），接收方据此去重 / the event id: deduplicate on it (deliveries are at least once) */
        'webhook-id': string
        /** @description 签名时间（Unix 秒）；与本地时钟相差超过 5 分钟应拒绝 / unix seconds when signed; refuse beyond 5 minutes of your clock */
        'webhook-timestamp': string
        /** @description Standard Webhooks 签名：`v1,<base64 HMAC-SHA256>`（默认）或 `sm3,<base64 HMAC-SM3>`（signatureAlgorithm hmac-sm3，密评）；签名内容为 `<webhook-id>.<webhook-timestamp>.<原始请求体>`，密钥为订阅 secret 去掉 `whsec_` 后 base64 解码的字节；轮换期间含多个以空格分隔的签名，任一匹配即可。Signed content `<id>.<timestamp>.<raw body>`, key = base64-decoded secret after `whsec_`; several space-separated signatures during a secret rotation, one match suffices. Verify with `verifyWebhook` from `zdz-connector/client`. */
        'webhook-signature': string
      }
      path?: never
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "id": "01a249a2-18f9-7f43-a68a-e894d180f4cf",
         *       "type": "referral.resumed",
         *       "occurredAt": "2026-12-06T04:34:49.718Z",
         *       "sequence": 4,
         *       "subject": {
         *         "kind": "referral",
         *         "id": "01a249a2-1873-7c68-b027-9877cc03bf12"
         *       },
         *       "caseVersion": 4,
         *       "actor": {
         *         "clientId": "01a249a2-1788-7338-836c-f1a07c0b9973",
         *         "role": "mediation"
         *       },
         *       "data": {
         *         "referral": {
         *           "id": "01a249a2-1873-7c68-b027-9877cc03bf12",
         *           "recall": null,
         *           "status": "mediating",
         *           "closure": null,
         *           "consent": [
         *             {
         *               "method": "written",
         *               "partyIndex": 0,
         *               "consentedAt": "2026-12-03T09:00:00+08:00"
         *             },
         *             {
         *               "method": "online",
         *               "partyIndex": 1,
         *               "consentedAt": "2026-12-03T09:30:00+08:00"
         *             }
         *           ],
         *           "decline": null,
         *           "parties": [
         *             {
         *               "kind": "natural_person",
         *               "name": "张三",
         *               "role": "applicant",
         *               "phone": "138****8000",
         *               "idType": "resident_id",
         *               "idNumber": "110***********002X"
         *             },
         *             {
         *               "kind": "natural_person",
         *               "name": "李四",
         *               "role": "respondent",
         *               "idType": "resident_id",
         *               "idNumber": "440***********0014"
         *             }
         *           ],
         *           "version": 4,
         *           "mediator": {
         *             "id": "M-001",
         *             "name": "王调解"
         *           },
         *           "agreement": null,
         *           "courtCode": "京0105",
         *           "createdAt": "2026-12-06T04:34:49.586Z",
         *           "deadlines": {
         *             "provisional": true,
         *             "mediationDueOn": "2027-01-05",
         *             "acceptanceDueOn": "2026-12-09"
         *           },
         *           "materials": [],
         *           "updatedAt": "2026-12-06T04:34:49.718Z",
         *           "acceptedAt": "2026-12-06T04:34:49.664Z",
         *           "caseNumber": "（2026）京0105民诉前调33934号",
         *           "extensions": [],
         *           "suspension": null,
         *           "claimAmount": "12000.00",
         *           "courtFiling": null,
         *           "designation": {
         *             "mode": "court_designated",
         *             "organizationId": "bj-cy-blz"
         *           },
         *           "disputeType": "neighbor",
         *           "performance": null,
         *           "termination": null,
         *           "claimSummary": "请求被申请人停止漏水侵害并赔偿损失",
         *           "referralType": "pre_filing",
         *           "causeOfAction": "相邻关系纠纷",
         *           "materialReturn": null,
         *           "organizationId": "bj-cy-blz"
         *         }
         *       }
         *     }
         */
        'application/json': components['schemas']['Event'] & {
          /** @constant */
          type?: 'referral.resumed'
        }
      }
    }
    responses: {
      /** @description 已接收 / received (any 2xx) */
      204: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 签名无效，不重试 / signature did not verify: not retried (other 4xx likewise) */
      401: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 暂不可用，稍后重试 / retried with backoff (also 408, 429 and other 5xx) */
      503: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
    }
  }
  webhook_referral_extended: {
    parameters: {
      query?: never
      header: {
        /** @description 事件标识（即事件 id），接收方据此去重 / the event id: deduplicate on it (deliveries are at least once) */
        'webhook-id': string
        /** @description 签名时间（Unix 秒）；与本地时钟相差超过 5 分钟应拒绝 / unix seconds when signed; refuse beyond 5 minutes of your clock */
        'webhook-timestamp': string
        /** @description Standard Webhooks 签名：`v1,<base64 HMAC-SHA256>`（默认）或 `sm3,<base64 HMAC-SM3>`（signatureAlgorithm hmac-sm3，密评）；签名内容为 `<webhook-id>.<webhook-timestamp>.<原始请求体>`，密钥为订阅 secret 去掉 `whsec_` 后 base64 解码的字节；轮换期间含多个以空格分隔的签名，任一匹配即可。Signed content `<id>.<timestamp>.<raw body>`, key = base64-decoded secret after `whsec_`; several space-separated signatures during a secret rotation, one match suffices. Verify with `verifyWebhook` from `zdz-connector/client`. */
        'webhook-signature': string
      }
      path?: never
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "id": "01a249a2-1912-7e5f-9757-d382c95aa63c",
         *       "type": "referral.extended",
         *       "occurredAt": "2026-12-06T04:34:49.741Z",
         *       "sequence": 5,
         *       "subject": {
         *         "kind": "referral",
         *         "id": "01a249a2-1873-7c68-b027-9877cc03bf12"
         *       },
         *       "caseVersion": 5,
         *       "actor": {
         *         "clientId": "01a249a2-1788-7338-836c-f1a07c0b9973",
         *         "role": "mediation"
         *       },
         *       "data": {
         *         "referral": {
         *           "id": "01a249a2-1873-7c68-b027-9877cc03bf12",
         *           "recall": null,
         *           "status": "mediating",
         *           "closure": null,
         *           "consent": [
         *             {
         *               "method": "written",
         *               "partyIndex": 0,
         *               "consentedAt": "2026-12-03T09:00:00+08:00"
         *             },
         *             {
         *               "method": "online",
         *               "partyIndex": 1,
         *               "consentedAt": "2026-12-03T09:30:00+08:00"
         *             }
         *           ],
         *           "decline": null,
         *           "parties": [
         *             {
         *               "kind": "natural_person",
         *               "name": "张三",
         *               "role": "applicant",
         *               "phone": "138****8000",
         *               "idType": "resident_id",
         *               "idNumber": "110***********002X"
         *             },
         *             {
         *               "kind": "natural_person",
         *               "name": "李四",
         *               "role": "respondent",
         *               "idType": "resident_id",
         *               "idNumber": "440***********0014"
         *             }
         *           ],
         *           "version": 5,
         *           "mediator": {
         *             "id": "M-001",
         *             "name": "王调解"
         *           },
         *           "agreement": null,
         *           "courtCode": "京0105",
         *           "createdAt": "2026-12-06T04:34:49.586Z",
         *           "deadlines": {
         *             "provisional": true,
         *             "mediationDueOn": "2027-01-20",
         *             "acceptanceDueOn": "2026-12-09"
         *           },
         *           "materials": [],
         *           "updatedAt": "2026-12-06T04:34:49.741Z",
         *           "acceptedAt": "2026-12-06T04:34:49.664Z",
         *           "caseNumber": "（2026）京0105民诉前调33934号",
         *           "extensions": [
         *             {
         *               "consent": [
         *                 {
         *                   "method": "written",
         *                   "partyIndex": 0,
         *                   "consentedAt": "2026-12-06T12:34:49.732+08:00"
         *                 },
         *                 {
         *                   "method": "written",
         *                   "partyIndex": 1,
         *                   "consentedAt": "2026-12-06T12:34:49.732+08:00"
         *                 }
         *               ],
         *               "newDueOn": "2027-01-20",
         *               "extendedAt": "2026-12-06T04:34:49.741Z",
         *               "previousDueOn": "2027-01-05"
         *             }
         *           ],
         *           "suspension": null,
         *           "claimAmount": "12000.00",
         *           "courtFiling": null,
         *           "designation": {
         *             "mode": "court_designated",
         *             "organizationId": "bj-cy-blz"
         *           },
         *           "disputeType": "neighbor",
         *           "performance": null,
         *           "termination": null,
         *           "claimSummary": "请求被申请人停止漏水侵害并赔偿损失",
         *           "referralType": "pre_filing",
         *           "causeOfAction": "相邻关系纠纷",
         *           "materialReturn": null,
         *           "organizationId": "bj-cy-blz"
         *         }
         *       }
         *     }
         */
        'application/json': components['schemas']['Event'] & {
          /** @constant */
          type?: 'referral.extended'
        }
      }
    }
    responses: {
      /** @description 已接收 / received (any 2xx) */
      204: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 签名无效，不重试 / signature did not verify: not retried (other 4xx likewise) */
      401: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 暂不可用，稍后重试 / retried with backoff (also 408, 429 and other 5xx) */
      503: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
    }
  }
  webhook_referral_agreement_recorded: {
    parameters: {
      query?: never
      header: {
        /** @description 事件标识（即事件 id），接收方据此去重 / the event id: deduplicate on it (deliveries are at least once) */
        'webhook-id': string
        /** @description 签名时间（Unix 秒）；与本地时钟相差超过 5 分钟应拒绝 / unix seconds when signed; refuse beyond 5 minutes of your clock */
        'webhook-timestamp': string
        /** @description Standard Webhooks 签名：`v1,<base64 HMAC-SHA256>`（默认）或 `sm3,<base64 HMAC-SM3>`（signatureAlgorithm hmac-sm3，密评）；签名内容为 `<webhook-id>.<webhook-timestamp>.<原始请求体>`，密钥为订阅 secret 去掉 `whsec_` 后 base64 解码的字节；轮换期间含多个以空格分隔的签名，任一匹配即可。Signed content `<id>.<timestamp>.<raw body>`, key = base64-decoded secret after `whsec_`; several space-separated signatures during a secret rotation, one match suffices. Verify with `verifyWebhook` from `zdz-connector/client`. */
        'webhook-signature': string
      }
      path?: never
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "id": "01a249a2-1924-7d13-a186-0738b9afa42c",
         *       "type": "referral.agreement_recorded",
         *       "occurredAt": "2026-12-06T04:34:49.760Z",
         *       "sequence": 6,
         *       "subject": {
         *         "kind": "referral",
         *         "id": "01a249a2-1873-7c68-b027-9877cc03bf12"
         *       },
         *       "caseVersion": 6,
         *       "actor": {
         *         "clientId": "01a249a2-1788-7338-836c-f1a07c0b9973",
         *         "role": "mediation"
         *       },
         *       "data": {
         *         "referral": {
         *           "id": "01a249a2-1873-7c68-b027-9877cc03bf12",
         *           "recall": null,
         *           "status": "agreed",
         *           "closure": null,
         *           "consent": [
         *             {
         *               "method": "written",
         *               "partyIndex": 0,
         *               "consentedAt": "2026-12-03T09:00:00+08:00"
         *             },
         *             {
         *               "method": "online",
         *               "partyIndex": 1,
         *               "consentedAt": "2026-12-03T09:30:00+08:00"
         *             }
         *           ],
         *           "decline": null,
         *           "parties": [
         *             {
         *               "kind": "natural_person",
         *               "name": "张三",
         *               "role": "applicant",
         *               "phone": "138****8000",
         *               "idType": "resident_id",
         *               "idNumber": "110***********002X"
         *             },
         *             {
         *               "kind": "natural_person",
         *               "name": "李四",
         *               "role": "respondent",
         *               "idType": "resident_id",
         *               "idNumber": "440***********0014"
         *             }
         *           ],
         *           "version": 6,
         *           "mediator": {
         *             "id": "M-001",
         *             "name": "王调解"
         *           },
         *           "agreement": {
         *             "form": "written",
         *             "terms": "李四于本协议生效后三十日内赔偿张三5000元。",
         *             "amount": "5000.00",
         *             "sha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
         *             "sealedAt": "2026-12-06T12:34:49.754+08:00",
         *             "recordedAt": "2026-12-06T04:34:49.760Z",
         *             "signatures": [
         *               {
         *                 "signedAt": "2026-12-06T12:34:49.754+08:00",
         *                 "partyIndex": 0
         *               },
         *               {
         *                 "signedAt": "2026-12-06T12:34:49.754+08:00",
         *                 "partyIndex": 1
         *               }
         *             ],
         *             "effectiveAt": "2026-12-06T04:34:49.754Z",
         *             "performance": {
         *               "dueOn": "2027-01-05",
         *               "method": "deferred"
         *             },
         *             "agreementNumber": "朝八调〔2026〕17号",
         *             "mediatorSignedAt": "2026-12-06T12:34:49.754+08:00"
         *           },
         *           "courtCode": "京0105",
         *           "createdAt": "2026-12-06T04:34:49.586Z",
         *           "deadlines": {
         *             "provisional": true,
         *             "mediationDueOn": "2027-01-20",
         *             "acceptanceDueOn": "2026-12-09"
         *           },
         *           "materials": [],
         *           "updatedAt": "2026-12-06T04:34:49.760Z",
         *           "acceptedAt": "2026-12-06T04:34:49.664Z",
         *           "caseNumber": "（2026）京0105民诉前调33934号",
         *           "extensions": [
         *             {
         *               "consent": [
         *                 {
         *                   "method": "written",
         *                   "partyIndex": 0,
         *                   "consentedAt": "2026-12-06T12:34:49.732+08:00"
         *                 },
         *                 {
         *                   "method": "written",
         *                   "partyIndex": 1,
         *                   "consentedAt": "2026-12-06T12:34:49.732+08:00"
         *                 }
         *               ],
         *               "newDueOn": "2027-01-20",
         *               "extendedAt": "2026-12-06T04:34:49.741Z",
         *               "previousDueOn": "2027-01-05"
         *             }
         *           ],
         *           "suspension": null,
         *           "claimAmount": "12000.00",
         *           "courtFiling": null,
         *           "designation": {
         *             "mode": "court_designated",
         *             "organizationId": "bj-cy-blz"
         *           },
         *           "disputeType": "neighbor",
         *           "performance": null,
         *           "termination": null,
         *           "claimSummary": "请求被申请人停止漏水侵害并赔偿损失",
         *           "referralType": "pre_filing",
         *           "causeOfAction": "相邻关系纠纷",
         *           "materialReturn": null,
         *           "organizationId": "bj-cy-blz"
         *         }
         *       }
         *     }
         */
        'application/json': components['schemas']['Event'] & {
          /** @constant */
          type?: 'referral.agreement_recorded'
        }
      }
    }
    responses: {
      /** @description 已接收 / received (any 2xx) */
      204: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 签名无效，不重试 / signature did not verify: not retried (other 4xx likewise) */
      401: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 暂不可用，稍后重试 / retried with backoff (also 408, 429 and other 5xx) */
      503: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
    }
  }
  webhook_referral_terminated: {
    parameters: {
      query?: never
      header: {
        /** @description 事件标识（即事件 id），接收方据此去重 / the event id: deduplicate on it (deliveries are at least once) */
        'webhook-id': string
        /** @description 签名时间（Unix 秒）；与本地时钟相差超过 5 分钟应拒绝 / unix seconds when signed; refuse beyond 5 minutes of your clock */
        'webhook-timestamp': string
        /** @description Standard Webhooks 签名：`v1,<base64 HMAC-SHA256>`（默认）或 `sm3,<base64 HMAC-SM3>`（signatureAlgorithm hmac-sm3，密评）；签名内容为 `<webhook-id>.<webhook-timestamp>.<原始请求体>`，密钥为订阅 secret 去掉 `whsec_` 后 base64 解码的字节；轮换期间含多个以空格分隔的签名，任一匹配即可。Signed content `<id>.<timestamp>.<raw body>`, key = base64-decoded secret after `whsec_`; several space-separated signatures during a secret rotation, one match suffices. Verify with `verifyWebhook` from `zdz-connector/client`. */
        'webhook-signature': string
      }
      path?: never
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "id": "01a249a2-1a11-7870-a3dc-b188ecd74e06",
         *       "type": "referral.terminated",
         *       "occurredAt": "2026-12-06T04:34:49.990Z",
         *       "sequence": 3,
         *       "subject": {
         *         "kind": "referral",
         *         "id": "01a249a2-19e0-75b7-89ed-463b299b3ebb"
         *       },
         *       "caseVersion": 3,
         *       "actor": {
         *         "clientId": "01a249a2-1788-7338-836c-f1a07c0b9973",
         *         "role": "mediation"
         *       },
         *       "data": {
         *         "referral": {
         *           "id": "01a249a2-19e0-75b7-89ed-463b299b3ebb",
         *           "recall": null,
         *           "status": "terminated",
         *           "closure": null,
         *           "consent": [
         *             {
         *               "method": "written",
         *               "partyIndex": 0,
         *               "consentedAt": "2026-11-27T09:00:00+08:00"
         *             },
         *             {
         *               "method": "online",
         *               "partyIndex": 1,
         *               "consentedAt": "2026-11-27T09:30:00+08:00"
         *             }
         *           ],
         *           "decline": null,
         *           "parties": [
         *             {
         *               "kind": "natural_person",
         *               "name": "张三",
         *               "role": "applicant",
         *               "phone": "138****8000",
         *               "idType": "resident_id",
         *               "address": "北京市朝阳区*******",
         *               "idNumber": "110***********0032"
         *             },
         *             {
         *               "kind": "natural_person",
         *               "name": "李四",
         *               "role": "respondent",
         *               "idType": "resident_id",
         *               "idNumber": "440***********0048"
         *             }
         *           ],
         *           "version": 3,
         *           "mediator": {
         *             "name": "王调解"
         *           },
         *           "agreement": null,
         *           "courtCode": "京0105",
         *           "createdAt": "2026-12-06T04:34:49.952Z",
         *           "deadlines": {
         *             "provisional": true,
         *             "mediationDueOn": "2027-01-05",
         *             "acceptanceDueOn": "2026-12-09"
         *           },
         *           "materials": [],
         *           "updatedAt": "2026-12-06T04:34:49.990Z",
         *           "acceptedAt": "2026-12-06T04:34:49.964Z",
         *           "caseNumber": "（2026）京0105民诉前调33937号",
         *           "extensions": [],
         *           "suspension": null,
         *           "claimAmount": "12000.00",
         *           "courtFiling": null,
         *           "designation": {
         *             "mode": "court_designated",
         *             "organizationId": "bj-cy-blz"
         *           },
         *           "disputeType": "neighbor",
         *           "performance": null,
         *           "termination": {
         *             "by": "organization",
         *             "reason": "gap_too_large",
         *             "report": "双方对赔偿数额分歧过大，调解不成。",
         *             "terminatedAt": "2026-12-06T04:34:49.990Z",
         *             "undisputedFacts": [
         *               {
         *                 "statement": "漏水源自被申请人住宅卫生间",
         *                 "confirmedBy": [
         *                   0,
         *                   1
         *                 ]
         *               }
         *             ]
         *           },
         *           "claimSummary": "请求被申请人停止漏水侵害并赔偿损失",
         *           "referralType": "pre_filing",
         *           "materialReturn": null,
         *           "organizationId": "bj-cy-blz"
         *         }
         *       }
         *     }
         */
        'application/json': components['schemas']['Event'] & {
          /** @constant */
          type?: 'referral.terminated'
        }
      }
    }
    responses: {
      /** @description 已接收 / received (any 2xx) */
      204: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 签名无效，不重试 / signature did not verify: not retried (other 4xx likewise) */
      401: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 暂不可用，稍后重试 / retried with backoff (also 408, 429 and other 5xx) */
      503: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
    }
  }
  webhook_referral_materials_returned: {
    parameters: {
      query?: never
      header: {
        /** @description 事件标识（即事件 id），接收方据此去重 / the event id: deduplicate on it (deliveries are at least once) */
        'webhook-id': string
        /** @description 签名时间（Unix 秒）；与本地时钟相差超过 5 分钟应拒绝 / unix seconds when signed; refuse beyond 5 minutes of your clock */
        'webhook-timestamp': string
        /** @description Standard Webhooks 签名：`v1,<base64 HMAC-SHA256>`（默认）或 `sm3,<base64 HMAC-SM3>`（signatureAlgorithm hmac-sm3，密评）；签名内容为 `<webhook-id>.<webhook-timestamp>.<原始请求体>`，密钥为订阅 secret 去掉 `whsec_` 后 base64 解码的字节；轮换期间含多个以空格分隔的签名，任一匹配即可。Signed content `<id>.<timestamp>.<raw body>`, key = base64-decoded secret after `whsec_`; several space-separated signatures during a secret rotation, one match suffices. Verify with `verifyWebhook` from `zdz-connector/client`. */
        'webhook-signature': string
      }
      path?: never
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "id": "01a249a2-1a2d-79bd-9ac1-d8a83ee30e54",
         *       "type": "referral.materials_returned",
         *       "occurredAt": "2026-12-06T04:34:50.025Z",
         *       "sequence": 4,
         *       "subject": {
         *         "kind": "referral",
         *         "id": "01a249a2-19e0-75b7-89ed-463b299b3ebb"
         *       },
         *       "caseVersion": 4,
         *       "actor": {
         *         "clientId": "01a249a2-1788-7338-836c-f1a07c0b9973",
         *         "role": "mediation"
         *       },
         *       "data": {
         *         "referral": {
         *           "id": "01a249a2-19e0-75b7-89ed-463b299b3ebb",
         *           "recall": null,
         *           "status": "materials_returned",
         *           "closure": null,
         *           "consent": [
         *             {
         *               "method": "written",
         *               "partyIndex": 0,
         *               "consentedAt": "2026-11-27T09:00:00+08:00"
         *             },
         *             {
         *               "method": "online",
         *               "partyIndex": 1,
         *               "consentedAt": "2026-11-27T09:30:00+08:00"
         *             }
         *           ],
         *           "decline": null,
         *           "parties": [
         *             {
         *               "kind": "natural_person",
         *               "name": "张三",
         *               "role": "applicant",
         *               "phone": "138****8000",
         *               "idType": "resident_id",
         *               "address": "北京市朝阳区*******",
         *               "idNumber": "110***********0032"
         *             },
         *             {
         *               "kind": "natural_person",
         *               "name": "李四",
         *               "role": "respondent",
         *               "idType": "resident_id",
         *               "idNumber": "440***********0048"
         *             }
         *           ],
         *           "version": 4,
         *           "mediator": {
         *             "name": "王调解"
         *           },
         *           "agreement": null,
         *           "courtCode": "京0105",
         *           "createdAt": "2026-12-06T04:34:49.952Z",
         *           "deadlines": {
         *             "provisional": true,
         *             "mediationDueOn": "2027-01-05",
         *             "acceptanceDueOn": "2026-12-09"
         *           },
         *           "materials": [],
         *           "updatedAt": "2026-12-06T04:34:50.025Z",
         *           "acceptedAt": "2026-12-06T04:34:49.964Z",
         *           "caseNumber": "（2026）京0105民诉前调33937号",
         *           "extensions": [],
         *           "suspension": null,
         *           "claimAmount": "12000.00",
         *           "courtFiling": null,
         *           "designation": {
         *             "mode": "court_designated",
         *             "organizationId": "bj-cy-blz"
         *           },
         *           "disputeType": "neighbor",
         *           "performance": null,
         *           "termination": {
         *             "by": "organization",
         *             "reason": "gap_too_large",
         *             "report": "双方对赔偿数额分歧过大，调解不成。",
         *             "terminatedAt": "2026-12-06T04:34:49.990Z",
         *             "undisputedFacts": [
         *               {
         *                 "statement": "漏水源自被申请人住宅卫生间",
         *                 "confirmedBy": [
         *                   0,
         *                   1
         *                 ]
         *               }
         *             ]
         *           },
         *           "claimSummary": "请求被申请人停止漏水侵害并赔偿损失",
         *           "referralType": "pre_filing",
         *           "materialReturn": {
         *             "report": "调解终结报告：双方分歧过大。纸质卷宗另行移送。",
         *             "materials": [],
         *             "returnedAt": "2026-12-06T04:34:50.020Z"
         *           },
         *           "organizationId": "bj-cy-blz"
         *         }
         *       }
         *     }
         */
        'application/json': components['schemas']['Event'] & {
          /** @constant */
          type?: 'referral.materials_returned'
        }
      }
    }
    responses: {
      /** @description 已接收 / received (any 2xx) */
      204: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 签名无效，不重试 / signature did not verify: not retried (other 4xx likewise) */
      401: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 暂不可用，稍后重试 / retried with backoff (also 408, 429 and other 5xx) */
      503: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
    }
  }
  webhook_referral_case_registered: {
    parameters: {
      query?: never
      header: {
        /** @description 事件标识（即事件 id），接收方据此去重 / the event id: deduplicate on it (deliveries are at least once) */
        'webhook-id': string
        /** @description 签名时间（Unix 秒）；与本地时钟相差超过 5 分钟应拒绝 / unix seconds when signed; refuse beyond 5 minutes of your clock */
        'webhook-timestamp': string
        /** @description Standard Webhooks 签名：`v1,<base64 HMAC-SHA256>`（默认）或 `sm3,<base64 HMAC-SM3>`（signatureAlgorithm hmac-sm3，密评）；签名内容为 `<webhook-id>.<webhook-timestamp>.<原始请求体>`，密钥为订阅 secret 去掉 `whsec_` 后 base64 解码的字节；轮换期间含多个以空格分隔的签名，任一匹配即可。Signed content `<id>.<timestamp>.<raw body>`, key = base64-decoded secret after `whsec_`; several space-separated signatures during a secret rotation, one match suffices. Verify with `verifyWebhook` from `zdz-connector/client`. */
        'webhook-signature': string
      }
      path?: never
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "id": "01a249a2-19d0-7bb0-b1ad-dfb4030416bc",
         *       "type": "referral.case_registered",
         *       "occurredAt": "2026-12-06T04:34:49.934Z",
         *       "sequence": 5,
         *       "subject": {
         *         "kind": "referral",
         *         "id": "01a249a2-197a-7833-9d6c-f2e436eeba5c"
         *       },
         *       "caseVersion": 5,
         *       "actor": {
         *         "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d",
         *         "role": "court"
         *       },
         *       "data": {
         *         "referral": {
         *           "id": "01a249a2-197a-7833-9d6c-f2e436eeba5c",
         *           "recall": {
         *             "note": "申请人明确表示不同意调解，坚持起诉",
         *             "reason": "party_insists_on_litigation",
         *             "recalledAt": "2026-12-06T04:34:49.911Z"
         *           },
         *           "status": "case_registered",
         *           "closure": null,
         *           "consent": [
         *             {
         *               "method": "written",
         *               "partyIndex": 0,
         *               "consentedAt": "2026-11-27T09:00:00+08:00"
         *             },
         *             {
         *               "method": "online",
         *               "partyIndex": 1,
         *               "consentedAt": "2026-11-27T09:30:00+08:00"
         *             }
         *           ],
         *           "decline": null,
         *           "parties": [
         *             {
         *               "kind": "natural_person",
         *               "name": "张三",
         *               "role": "applicant",
         *               "phone": "138****8000",
         *               "idType": "resident_id",
         *               "address": "北京市朝阳区*******",
         *               "idNumber": "110***********0016"
         *             },
         *             {
         *               "kind": "natural_person",
         *               "name": "李四",
         *               "role": "respondent",
         *               "idType": "resident_id",
         *               "idNumber": "440***********0021"
         *             }
         *           ],
         *           "version": 5,
         *           "mediator": null,
         *           "agreement": null,
         *           "courtCode": "京0105",
         *           "createdAt": "2026-12-06T04:34:49.850Z",
         *           "deadlines": {
         *             "provisional": false,
         *             "mediationDueOn": null,
         *             "acceptanceDueOn": "2026-12-09"
         *           },
         *           "materials": [],
         *           "updatedAt": "2026-12-06T04:34:49.934Z",
         *           "acceptedAt": null,
         *           "caseNumber": "（2026）京0105民诉前调33935号",
         *           "extensions": [],
         *           "suspension": null,
         *           "claimAmount": "12000.00",
         *           "courtFiling": {
         *             "action": "case_registered",
         *             "filedOn": "2026-12-06",
         *             "caseNumber": "（2026）京0105民初33936号"
         *           },
         *           "designation": {
         *             "mode": "court_designated",
         *             "organizationId": "bj-cy-blz"
         *           },
         *           "disputeType": "neighbor",
         *           "performance": null,
         *           "termination": null,
         *           "claimSummary": "请求被申请人停止漏水侵害并赔偿损失",
         *           "referralType": "pre_filing",
         *           "materialReturn": null,
         *           "organizationId": "bj-cy-blz"
         *         }
         *       }
         *     }
         */
        'application/json': components['schemas']['Event'] & {
          /** @constant */
          type?: 'referral.case_registered'
        }
      }
    }
    responses: {
      /** @description 已接收 / received (any 2xx) */
      204: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 签名无效，不重试 / signature did not verify: not retried (other 4xx likewise) */
      401: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 暂不可用，稍后重试 / retried with backoff (also 408, 429 and other 5xx) */
      503: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
    }
  }
  webhook_referral_trial_resumed: {
    parameters: {
      query?: never
      header: {
        /** @description 事件标识（即事件 id），接收方据此去重 / the event id: deduplicate on it (deliveries are at least once) */
        'webhook-id': string
        /** @description 签名时间（Unix 秒）；与本地时钟相差超过 5 分钟应拒绝 / unix seconds when signed; refuse beyond 5 minutes of your clock */
        'webhook-timestamp': string
        /** @description Standard Webhooks 签名：`v1,<base64 HMAC-SHA256>`（默认）或 `sm3,<base64 HMAC-SM3>`（signatureAlgorithm hmac-sm3，密评）；签名内容为 `<webhook-id>.<webhook-timestamp>.<原始请求体>`，密钥为订阅 secret 去掉 `whsec_` 后 base64 解码的字节；轮换期间含多个以空格分隔的签名，任一匹配即可。Signed content `<id>.<timestamp>.<raw body>`, key = base64-decoded secret after `whsec_`; several space-separated signatures during a secret rotation, one match suffices. Verify with `verifyWebhook` from `zdz-connector/client`. */
        'webhook-signature': string
      }
      path?: never
      cookie?: never
    }
    requestBody: {
      content: {
        'application/json': components['schemas']['Event'] & {
          /** @constant */
          type?: 'referral.trial_resumed'
        }
      }
    }
    responses: {
      /** @description 已接收 / received (any 2xx) */
      204: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 签名无效，不重试 / signature did not verify: not retried (other 4xx likewise) */
      401: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 暂不可用，稍后重试 / retried with backoff (also 408, 429 and other 5xx) */
      503: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
    }
  }
  webhook_referral_closed: {
    parameters: {
      query?: never
      header: {
        /** @description 事件标识（即事件 id），接收方据此去重 / the event id: deduplicate on it (deliveries are at least once) */
        'webhook-id': string
        /** @description 签名时间（Unix 秒）；与本地时钟相差超过 5 分钟应拒绝 / unix seconds when signed; refuse beyond 5 minutes of your clock */
        'webhook-timestamp': string
        /** @description Standard Webhooks 签名：`v1,<base64 HMAC-SHA256>`（默认）或 `sm3,<base64 HMAC-SM3>`（signatureAlgorithm hmac-sm3，密评）；签名内容为 `<webhook-id>.<webhook-timestamp>.<原始请求体>`，密钥为订阅 secret 去掉 `whsec_` 后 base64 解码的字节；轮换期间含多个以空格分隔的签名，任一匹配即可。Signed content `<id>.<timestamp>.<raw body>`, key = base64-decoded secret after `whsec_`; several space-separated signatures during a secret rotation, one match suffices. Verify with `verifyWebhook` from `zdz-connector/client`. */
        'webhook-signature': string
      }
      path?: never
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "id": "01a249a2-1950-7cc8-8415-e3c6b454f90c",
         *       "type": "referral.closed",
         *       "occurredAt": "2026-12-06T04:34:49.806Z",
         *       "sequence": 8,
         *       "subject": {
         *         "kind": "referral",
         *         "id": "01a249a2-1873-7c68-b027-9877cc03bf12"
         *       },
         *       "caseVersion": 8,
         *       "actor": {
         *         "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d",
         *         "role": "court"
         *       },
         *       "data": {
         *         "referral": {
         *           "id": "01a249a2-1873-7c68-b027-9877cc03bf12",
         *           "recall": null,
         *           "status": "closed",
         *           "closure": {
         *             "closedAt": "2026-12-06T04:34:49.806Z",
         *             "disposition": "agreement_filed"
         *           },
         *           "consent": [
         *             {
         *               "method": "written",
         *               "partyIndex": 0,
         *               "consentedAt": "2026-12-03T09:00:00+08:00"
         *             },
         *             {
         *               "method": "online",
         *               "partyIndex": 1,
         *               "consentedAt": "2026-12-03T09:30:00+08:00"
         *             }
         *           ],
         *           "decline": null,
         *           "parties": [
         *             {
         *               "kind": "natural_person",
         *               "name": "张三",
         *               "role": "applicant",
         *               "phone": "138****8000",
         *               "idType": "resident_id",
         *               "idNumber": "110***********002X"
         *             },
         *             {
         *               "kind": "natural_person",
         *               "name": "李四",
         *               "role": "respondent",
         *               "idType": "resident_id",
         *               "idNumber": "440***********0014"
         *             }
         *           ],
         *           "version": 8,
         *           "mediator": {
         *             "id": "M-001",
         *             "name": "王调解"
         *           },
         *           "agreement": {
         *             "form": "written",
         *             "terms": "李四于本协议生效后三十日内赔偿张三5000元。",
         *             "amount": "5000.00",
         *             "sha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
         *             "sealedAt": "2026-12-06T12:34:49.754+08:00",
         *             "recordedAt": "2026-12-06T04:34:49.760Z",
         *             "signatures": [
         *               {
         *                 "signedAt": "2026-12-06T12:34:49.754+08:00",
         *                 "partyIndex": 0
         *               },
         *               {
         *                 "signedAt": "2026-12-06T12:34:49.754+08:00",
         *                 "partyIndex": 1
         *               }
         *             ],
         *             "effectiveAt": "2026-12-06T04:34:49.754Z",
         *             "performance": {
         *               "dueOn": "2027-01-05",
         *               "method": "deferred"
         *             },
         *             "agreementNumber": "朝八调〔2026〕17号",
         *             "mediatorSignedAt": "2026-12-06T12:34:49.754+08:00"
         *           },
         *           "courtCode": "京0105",
         *           "createdAt": "2026-12-06T04:34:49.586Z",
         *           "deadlines": {
         *             "provisional": true,
         *             "mediationDueOn": "2027-01-20",
         *             "acceptanceDueOn": "2026-12-09"
         *           },
         *           "materials": [],
         *           "updatedAt": "2026-12-06T04:34:49.806Z",
         *           "acceptedAt": "2026-12-06T04:34:49.664Z",
         *           "caseNumber": "（2026）京0105民诉前调33934号",
         *           "extensions": [
         *             {
         *               "consent": [
         *                 {
         *                   "method": "written",
         *                   "partyIndex": 0,
         *                   "consentedAt": "2026-12-06T12:34:49.732+08:00"
         *                 },
         *                 {
         *                   "method": "written",
         *                   "partyIndex": 1,
         *                   "consentedAt": "2026-12-06T12:34:49.732+08:00"
         *                 }
         *               ],
         *               "newDueOn": "2027-01-20",
         *               "extendedAt": "2026-12-06T04:34:49.741Z",
         *               "previousDueOn": "2027-01-05"
         *             }
         *           ],
         *           "suspension": null,
         *           "claimAmount": "12000.00",
         *           "courtFiling": null,
         *           "designation": {
         *             "mode": "court_designated",
         *             "organizationId": "bj-cy-blz"
         *           },
         *           "disputeType": "neighbor",
         *           "performance": {
         *             "note": "回访确认已全额履行",
         *             "status": "performed",
         *             "reportedAt": "2026-12-06T04:34:49.788Z",
         *             "reportedOn": "2026-12-06"
         *           },
         *           "termination": null,
         *           "claimSummary": "请求被申请人停止漏水侵害并赔偿损失",
         *           "referralType": "pre_filing",
         *           "causeOfAction": "相邻关系纠纷",
         *           "materialReturn": null,
         *           "organizationId": "bj-cy-blz"
         *         }
         *       }
         *     }
         */
        'application/json': components['schemas']['Event'] & {
          /** @constant */
          type?: 'referral.closed'
        }
      }
    }
    responses: {
      /** @description 已接收 / received (any 2xx) */
      204: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 签名无效，不重试 / signature did not verify: not retried (other 4xx likewise) */
      401: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 暂不可用，稍后重试 / retried with backoff (also 408, 429 and other 5xx) */
      503: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
    }
  }
  webhook_referral_performance_reported: {
    parameters: {
      query?: never
      header: {
        /** @description 事件标识（即事件 id），接收方据此去重 / the event id: deduplicate on it (deliveries are at least once) */
        'webhook-id': string
        /** @description 签名时间（Unix 秒）；与本地时钟相差超过 5 分钟应拒绝 / unix seconds when signed; refuse beyond 5 minutes of your clock */
        'webhook-timestamp': string
        /** @description Standard Webhooks 签名：`v1,<base64 HMAC-SHA256>`（默认）或 `sm3,<base64 HMAC-SM3>`（signatureAlgorithm hmac-sm3，密评）；签名内容为 `<webhook-id>.<webhook-timestamp>.<原始请求体>`，密钥为订阅 secret 去掉 `whsec_` 后 base64 解码的字节；轮换期间含多个以空格分隔的签名，任一匹配即可。Signed content `<id>.<timestamp>.<raw body>`, key = base64-decoded secret after `whsec_`; several space-separated signatures during a secret rotation, one match suffices. Verify with `verifyWebhook` from `zdz-connector/client`. */
        'webhook-signature': string
      }
      path?: never
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "id": "01a249a2-1942-7129-8aa4-0cc008422241",
         *       "type": "referral.performance_reported",
         *       "occurredAt": "2026-12-06T04:34:49.788Z",
         *       "sequence": 7,
         *       "subject": {
         *         "kind": "referral",
         *         "id": "01a249a2-1873-7c68-b027-9877cc03bf12"
         *       },
         *       "caseVersion": 7,
         *       "actor": {
         *         "clientId": "01a249a2-1788-7338-836c-f1a07c0b9973",
         *         "role": "mediation"
         *       },
         *       "data": {
         *         "referral": {
         *           "id": "01a249a2-1873-7c68-b027-9877cc03bf12",
         *           "recall": null,
         *           "status": "agreed",
         *           "closure": null,
         *           "consent": [
         *             {
         *               "method": "written",
         *               "partyIndex": 0,
         *               "consentedAt": "2026-12-03T09:00:00+08:00"
         *             },
         *             {
         *               "method": "online",
         *               "partyIndex": 1,
         *               "consentedAt": "2026-12-03T09:30:00+08:00"
         *             }
         *           ],
         *           "decline": null,
         *           "parties": [
         *             {
         *               "kind": "natural_person",
         *               "name": "张三",
         *               "role": "applicant",
         *               "phone": "138****8000",
         *               "idType": "resident_id",
         *               "idNumber": "110***********002X"
         *             },
         *             {
         *               "kind": "natural_person",
         *               "name": "李四",
         *               "role": "respondent",
         *               "idType": "resident_id",
         *               "idNumber": "440***********0014"
         *             }
         *           ],
         *           "version": 7,
         *           "mediator": {
         *             "id": "M-001",
         *             "name": "王调解"
         *           },
         *           "agreement": {
         *             "form": "written",
         *             "terms": "李四于本协议生效后三十日内赔偿张三5000元。",
         *             "amount": "5000.00",
         *             "sha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
         *             "sealedAt": "2026-12-06T12:34:49.754+08:00",
         *             "recordedAt": "2026-12-06T04:34:49.760Z",
         *             "signatures": [
         *               {
         *                 "signedAt": "2026-12-06T12:34:49.754+08:00",
         *                 "partyIndex": 0
         *               },
         *               {
         *                 "signedAt": "2026-12-06T12:34:49.754+08:00",
         *                 "partyIndex": 1
         *               }
         *             ],
         *             "effectiveAt": "2026-12-06T04:34:49.754Z",
         *             "performance": {
         *               "dueOn": "2027-01-05",
         *               "method": "deferred"
         *             },
         *             "agreementNumber": "朝八调〔2026〕17号",
         *             "mediatorSignedAt": "2026-12-06T12:34:49.754+08:00"
         *           },
         *           "courtCode": "京0105",
         *           "createdAt": "2026-12-06T04:34:49.586Z",
         *           "deadlines": {
         *             "provisional": true,
         *             "mediationDueOn": "2027-01-20",
         *             "acceptanceDueOn": "2026-12-09"
         *           },
         *           "materials": [],
         *           "updatedAt": "2026-12-06T04:34:49.788Z",
         *           "acceptedAt": "2026-12-06T04:34:49.664Z",
         *           "caseNumber": "（2026）京0105民诉前调33934号",
         *           "extensions": [
         *             {
         *               "consent": [
         *                 {
         *                   "method": "written",
         *                   "partyIndex": 0,
         *                   "consentedAt": "2026-12-06T12:34:49.732+08:00"
         *                 },
         *                 {
         *                   "method": "written",
         *                   "partyIndex": 1,
         *                   "consentedAt": "2026-12-06T12:34:49.732+08:00"
         *                 }
         *               ],
         *               "newDueOn": "2027-01-20",
         *               "extendedAt": "2026-12-06T04:34:49.741Z",
         *               "previousDueOn": "2027-01-05"
         *             }
         *           ],
         *           "suspension": null,
         *           "claimAmount": "12000.00",
         *           "courtFiling": null,
         *           "designation": {
         *             "mode": "court_designated",
         *             "organizationId": "bj-cy-blz"
         *           },
         *           "disputeType": "neighbor",
         *           "performance": {
         *             "note": "回访确认已全额履行",
         *             "status": "performed",
         *             "reportedAt": "2026-12-06T04:34:49.788Z",
         *             "reportedOn": "2026-12-06"
         *           },
         *           "termination": null,
         *           "claimSummary": "请求被申请人停止漏水侵害并赔偿损失",
         *           "referralType": "pre_filing",
         *           "causeOfAction": "相邻关系纠纷",
         *           "materialReturn": null,
         *           "organizationId": "bj-cy-blz"
         *         }
         *       }
         *     }
         */
        'application/json': components['schemas']['Event'] & {
          /** @constant */
          type?: 'referral.performance_reported'
        }
      }
    }
    responses: {
      /** @description 已接收 / received (any 2xx) */
      204: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 签名无效，不重试 / signature did not verify: not retried (other 4xx likewise) */
      401: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 暂不可用，稍后重试 / retried with backoff (also 408, 429 and other 5xx) */
      503: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
    }
  }
  webhook_referral_deadlines_changed: {
    parameters: {
      query?: never
      header: {
        /** @description 事件标识（即事件 id），接收方据此去重 / the event id: deduplicate on it (deliveries are at least once) */
        'webhook-id': string
        /** @description 签名时间（Unix 秒）；与本地时钟相差超过 5 分钟应拒绝 / unix seconds when signed; refuse beyond 5 minutes of your clock */
        'webhook-timestamp': string
        /** @description Standard Webhooks 签名：`v1,<base64 HMAC-SHA256>`（默认）或 `sm3,<base64 HMAC-SM3>`（signatureAlgorithm hmac-sm3，密评）；签名内容为 `<webhook-id>.<webhook-timestamp>.<原始请求体>`，密钥为订阅 secret 去掉 `whsec_` 后 base64 解码的字节；轮换期间含多个以空格分隔的签名，任一匹配即可。Signed content `<id>.<timestamp>.<raw body>`, key = base64-decoded secret after `whsec_`; several space-separated signatures during a secret rotation, one match suffices. Verify with `verifyWebhook` from `zdz-connector/client`. */
        'webhook-signature': string
      }
      path?: never
      cookie?: never
    }
    requestBody: {
      content: {
        'application/json': components['schemas']['Event'] & {
          /** @constant */
          type?: 'referral.deadlines_changed'
        }
      }
    }
    responses: {
      /** @description 已接收 / received (any 2xx) */
      204: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 签名无效，不重试 / signature did not verify: not retried (other 4xx likewise) */
      401: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 暂不可用，稍后重试 / retried with backoff (also 408, 429 and other 5xx) */
      503: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
    }
  }
  webhook_confirmation_applied: {
    parameters: {
      query?: never
      header: {
        /** @description 事件标识（即事件 id），接收方据此去重 / the event id: deduplicate on it (deliveries are at least once) */
        'webhook-id': string
        /** @description 签名时间（Unix 秒）；与本地时钟相差超过 5 分钟应拒绝 / unix seconds when signed; refuse beyond 5 minutes of your clock */
        'webhook-timestamp': string
        /** @description Standard Webhooks 签名：`v1,<base64 HMAC-SHA256>`（默认）或 `sm3,<base64 HMAC-SM3>`（signatureAlgorithm hmac-sm3，密评）；签名内容为 `<webhook-id>.<webhook-timestamp>.<原始请求体>`，密钥为订阅 secret 去掉 `whsec_` 后 base64 解码的字节；轮换期间含多个以空格分隔的签名，任一匹配即可。Signed content `<id>.<timestamp>.<raw body>`, key = base64-decoded secret after `whsec_`; several space-separated signatures during a secret rotation, one match suffices. Verify with `verifyWebhook` from `zdz-connector/client`. */
        'webhook-signature': string
      }
      path?: never
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "id": "01a249a2-1a8c-7553-8bcf-1c935f20cadc",
         *       "type": "confirmation.applied",
         *       "occurredAt": "2026-12-06T04:34:50.116Z",
         *       "sequence": 1,
         *       "subject": {
         *         "kind": "judicial_confirmation",
         *         "id": "01a249a2-1a8b-70f3-a7e4-6bb4bc85f4a8"
         *       },
         *       "caseVersion": 1,
         *       "actor": {
         *         "clientId": "01a249a2-1788-7338-836c-f1a07c0b9973",
         *         "role": "mediation"
         *       },
         *       "data": {
         *         "confirmation": {
         *           "id": "01a249a2-1a8b-70f3-a7e4-6bb4bc85f4a8",
         *           "late": false,
         *           "venue": null,
         *           "ruling": null,
         *           "status": "applied",
         *           "overdue": false,
         *           "parties": [
         *             {
         *               "kind": "natural_person",
         *               "name": "张三",
         *               "role": "applicant",
         *               "phone": "138****8000",
         *               "idType": "resident_id",
         *               "idNumber": "110***********002X"
         *             },
         *             {
         *               "kind": "natural_person",
         *               "name": "李四",
         *               "role": "respondent",
         *               "idType": "resident_id",
         *               "idNumber": "440***********0014"
         *             }
         *           ],
         *           "subject": "ordinary",
         *           "version": 1,
         *           "agreement": {
         *             "form": "written",
         *             "terms": "李四于本协议生效后三十日内赔偿张三5000元。",
         *             "amount": "5000.00",
         *             "sha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
         *             "sealedAt": "2026-12-06T12:34:49.754+08:00",
         *             "recordedAt": "2026-12-06T04:34:49.760Z",
         *             "signatures": [
         *               {
         *                 "signedAt": "2026-12-06T12:34:49.754+08:00",
         *                 "partyIndex": 0
         *               },
         *               {
         *                 "signedAt": "2026-12-06T12:34:49.754+08:00",
         *                 "partyIndex": 1
         *               }
         *             ],
         *             "effectiveAt": "2026-12-06T04:34:49.754Z",
         *             "performance": {
         *               "dueOn": "2027-01-05",
         *               "method": "deferred"
         *             },
         *             "agreementNumber": "朝八调〔2026〕17号",
         *             "mediatorSignedAt": "2026-12-06T12:34:49.754+08:00"
         *           },
         *           "appliedAt": "2026-12-06T04:34:50.103Z",
         *           "courtCode": "京0105",
         *           "createdAt": "2026-12-06T04:34:50.116Z",
         *           "materials": [],
         *           "updatedAt": "2026-12-06T04:34:50.116Z",
         *           "acceptance": null,
         *           "applicants": [
         *             0,
         *             1
         *           ],
         *           "caseNumber": null,
         *           "lateReason": null,
         *           "objections": [],
         *           "referralId": "01a249a2-1873-7c68-b027-9877cc03bf12",
         *           "withdrawal": null,
         *           "notAccepted": null,
         *           "provisional": true,
         *           "reviewDueOn": null,
         *           "objectionDueOn": null,
         *           "organizationId": "bj-cy-blz",
         *           "reviewTargetOn": null,
         *           "agreementSha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
         *           "applicationDueOn": "2027-01-05",
         *           "deemedWithdrawal": null,
         *           "materialRequests": [],
         *           "reviewExtensions": [],
         *           "requestedMaterials": null
         *         }
         *       }
         *     }
         */
        'application/json': components['schemas']['Event'] & {
          /** @constant */
          type?: 'confirmation.applied'
        }
      }
    }
    responses: {
      /** @description 已接收 / received (any 2xx) */
      204: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 签名无效，不重试 / signature did not verify: not retried (other 4xx likewise) */
      401: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 暂不可用，稍后重试 / retried with backoff (also 408, 429 and other 5xx) */
      503: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
    }
  }
  webhook_confirmation_accepted: {
    parameters: {
      query?: never
      header: {
        /** @description 事件标识（即事件 id），接收方据此去重 / the event id: deduplicate on it (deliveries are at least once) */
        'webhook-id': string
        /** @description 签名时间（Unix 秒）；与本地时钟相差超过 5 分钟应拒绝 / unix seconds when signed; refuse beyond 5 minutes of your clock */
        'webhook-timestamp': string
        /** @description Standard Webhooks 签名：`v1,<base64 HMAC-SHA256>`（默认）或 `sm3,<base64 HMAC-SM3>`（signatureAlgorithm hmac-sm3，密评）；签名内容为 `<webhook-id>.<webhook-timestamp>.<原始请求体>`，密钥为订阅 secret 去掉 `whsec_` 后 base64 解码的字节；轮换期间含多个以空格分隔的签名，任一匹配即可。Signed content `<id>.<timestamp>.<raw body>`, key = base64-decoded secret after `whsec_`; several space-separated signatures during a secret rotation, one match suffices. Verify with `verifyWebhook` from `zdz-connector/client`. */
        'webhook-signature': string
      }
      path?: never
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "id": "01a249a2-1b08-7f8d-a2ae-fea8013a1d3d",
         *       "type": "confirmation.accepted",
         *       "occurredAt": "2026-12-06T04:34:50.243Z",
         *       "sequence": 2,
         *       "subject": {
         *         "kind": "judicial_confirmation",
         *         "id": "01a249a2-1a8b-70f3-a7e4-6bb4bc85f4a8"
         *       },
         *       "caseVersion": 2,
         *       "actor": {
         *         "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d",
         *         "role": "court"
         *       },
         *       "data": {
         *         "confirmation": {
         *           "id": "01a249a2-1a8b-70f3-a7e4-6bb4bc85f4a8",
         *           "late": false,
         *           "venue": null,
         *           "ruling": null,
         *           "status": "under_review",
         *           "overdue": false,
         *           "parties": [
         *             {
         *               "kind": "natural_person",
         *               "name": "张三",
         *               "role": "applicant",
         *               "phone": "138****8000",
         *               "idType": "resident_id",
         *               "idNumber": "110***********002X"
         *             },
         *             {
         *               "kind": "natural_person",
         *               "name": "李四",
         *               "role": "respondent",
         *               "idType": "resident_id",
         *               "idNumber": "440***********0014"
         *             }
         *           ],
         *           "subject": "ordinary",
         *           "version": 2,
         *           "agreement": {
         *             "form": "written",
         *             "terms": "李四于本协议生效后三十日内赔偿张三5000元。",
         *             "amount": "5000.00",
         *             "sha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
         *             "sealedAt": "2026-12-06T12:34:49.754+08:00",
         *             "recordedAt": "2026-12-06T04:34:49.760Z",
         *             "signatures": [
         *               {
         *                 "signedAt": "2026-12-06T12:34:49.754+08:00",
         *                 "partyIndex": 0
         *               },
         *               {
         *                 "signedAt": "2026-12-06T12:34:49.754+08:00",
         *                 "partyIndex": 1
         *               }
         *             ],
         *             "effectiveAt": "2026-12-06T04:34:49.754Z",
         *             "performance": {
         *               "dueOn": "2027-01-05",
         *               "method": "deferred"
         *             },
         *             "agreementNumber": "朝八调〔2026〕17号",
         *             "mediatorSignedAt": "2026-12-06T12:34:49.754+08:00"
         *           },
         *           "appliedAt": "2026-12-06T04:34:50.103Z",
         *           "courtCode": "京0105",
         *           "createdAt": "2026-12-06T04:34:50.116Z",
         *           "materials": [],
         *           "updatedAt": "2026-12-06T04:34:50.243Z",
         *           "acceptance": {
         *             "acceptedAt": "2026-12-06T04:34:50.243Z",
         *             "acceptedOn": "2026-12-06",
         *             "caseNumber": "（2026）京0105诉前调确33939号"
         *           },
         *           "applicants": [
         *             0,
         *             1
         *           ],
         *           "caseNumber": "（2026）京0105诉前调确33939号",
         *           "lateReason": null,
         *           "objections": [],
         *           "referralId": "01a249a2-1873-7c68-b027-9877cc03bf12",
         *           "withdrawal": null,
         *           "notAccepted": null,
         *           "provisional": true,
         *           "reviewDueOn": "2027-01-05",
         *           "objectionDueOn": null,
         *           "organizationId": "bj-cy-blz",
         *           "reviewTargetOn": "2026-12-21",
         *           "agreementSha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
         *           "applicationDueOn": "2027-01-05",
         *           "deemedWithdrawal": null,
         *           "materialRequests": [],
         *           "reviewExtensions": [],
         *           "requestedMaterials": null
         *         }
         *       }
         *     }
         */
        'application/json': components['schemas']['Event'] & {
          /** @constant */
          type?: 'confirmation.accepted'
        }
      }
    }
    responses: {
      /** @description 已接收 / received (any 2xx) */
      204: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 签名无效，不重试 / signature did not verify: not retried (other 4xx likewise) */
      401: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 暂不可用，稍后重试 / retried with backoff (also 408, 429 and other 5xx) */
      503: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
    }
  }
  webhook_confirmation_not_accepted: {
    parameters: {
      query?: never
      header: {
        /** @description 事件标识（即事件 id），接收方据此去重 / the event id: deduplicate on it (deliveries are at least once) */
        'webhook-id': string
        /** @description 签名时间（Unix 秒）；与本地时钟相差超过 5 分钟应拒绝 / unix seconds when signed; refuse beyond 5 minutes of your clock */
        'webhook-timestamp': string
        /** @description Standard Webhooks 签名：`v1,<base64 HMAC-SHA256>`（默认）或 `sm3,<base64 HMAC-SM3>`（signatureAlgorithm hmac-sm3，密评）；签名内容为 `<webhook-id>.<webhook-timestamp>.<原始请求体>`，密钥为订阅 secret 去掉 `whsec_` 后 base64 解码的字节；轮换期间含多个以空格分隔的签名，任一匹配即可。Signed content `<id>.<timestamp>.<raw body>`, key = base64-decoded secret after `whsec_`; several space-separated signatures during a secret rotation, one match suffices. Verify with `verifyWebhook` from `zdz-connector/client`. */
        'webhook-signature': string
      }
      path?: never
      cookie?: never
    }
    requestBody: {
      content: {
        'application/json': components['schemas']['Event'] & {
          /** @constant */
          type?: 'confirmation.not_accepted'
        }
      }
    }
    responses: {
      /** @description 已接收 / received (any 2xx) */
      204: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 签名无效，不重试 / signature did not verify: not retried (other 4xx likewise) */
      401: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 暂不可用，稍后重试 / retried with backoff (also 408, 429 and other 5xx) */
      503: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
    }
  }
  webhook_confirmation_withdrawn: {
    parameters: {
      query?: never
      header: {
        /** @description 事件标识（即事件 id），接收方据此去重 / the event id: deduplicate on it (deliveries are at least once) */
        'webhook-id': string
        /** @description 签名时间（Unix 秒）；与本地时钟相差超过 5 分钟应拒绝 / unix seconds when signed; refuse beyond 5 minutes of your clock */
        'webhook-timestamp': string
        /** @description Standard Webhooks 签名：`v1,<base64 HMAC-SHA256>`（默认）或 `sm3,<base64 HMAC-SM3>`（signatureAlgorithm hmac-sm3，密评）；签名内容为 `<webhook-id>.<webhook-timestamp>.<原始请求体>`，密钥为订阅 secret 去掉 `whsec_` 后 base64 解码的字节；轮换期间含多个以空格分隔的签名，任一匹配即可。Signed content `<id>.<timestamp>.<raw body>`, key = base64-decoded secret after `whsec_`; several space-separated signatures during a secret rotation, one match suffices. Verify with `verifyWebhook` from `zdz-connector/client`. */
        'webhook-signature': string
      }
      path?: never
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "id": "01a249a2-1c0b-776c-a982-0dedc768277e",
         *       "type": "confirmation.withdrawn",
         *       "occurredAt": "2026-12-06T04:34:50.504Z",
         *       "sequence": 2,
         *       "subject": {
         *         "kind": "judicial_confirmation",
         *         "id": "01a249a2-1bfd-7808-af16-29317d838a1f"
         *       },
         *       "caseVersion": 2,
         *       "actor": {
         *         "clientId": "01a249a2-1788-7338-836c-f1a07c0b9973",
         *         "role": "mediation"
         *       },
         *       "data": {
         *         "confirmation": {
         *           "id": "01a249a2-1bfd-7808-af16-29317d838a1f",
         *           "late": false,
         *           "venue": null,
         *           "ruling": null,
         *           "status": "withdrawn",
         *           "overdue": false,
         *           "parties": [
         *             {
         *               "kind": "natural_person",
         *               "name": "张三",
         *               "role": "applicant",
         *               "phone": "138****8000",
         *               "idType": "resident_id",
         *               "address": "北京市朝阳区*******",
         *               "idNumber": "110***********0075"
         *             },
         *             {
         *               "kind": "natural_person",
         *               "name": "李四",
         *               "role": "respondent",
         *               "idType": "resident_id",
         *               "idNumber": "440***********0080"
         *             }
         *           ],
         *           "subject": "ordinary",
         *           "version": 2,
         *           "agreement": {
         *             "form": "written",
         *             "terms": "李四于本协议生效后三十日内赔偿张三5000元。",
         *             "amount": "5000.00",
         *             "sha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
         *             "sealedAt": "2026-12-06T12:34:50.459+08:00",
         *             "recordedAt": "2026-12-06T04:34:50.466Z",
         *             "signatures": [
         *               {
         *                 "signedAt": "2026-12-06T12:34:50.459+08:00",
         *                 "partyIndex": 0
         *               },
         *               {
         *                 "signedAt": "2026-12-06T12:34:50.459+08:00",
         *                 "partyIndex": 1
         *               }
         *             ],
         *             "effectiveAt": "2026-12-06T04:34:50.459Z",
         *             "performance": {
         *               "dueOn": "2027-01-05",
         *               "method": "deferred"
         *             },
         *             "agreementNumber": "朝八调〔2026〕17号",
         *             "mediatorSignedAt": "2026-12-06T12:34:50.459+08:00"
         *           },
         *           "appliedAt": "2026-12-06T04:34:50.479Z",
         *           "courtCode": "京0105",
         *           "createdAt": "2026-12-06T04:34:50.490Z",
         *           "materials": [],
         *           "updatedAt": "2026-12-06T04:34:50.504Z",
         *           "acceptance": null,
         *           "applicants": [
         *             0,
         *             1
         *           ],
         *           "caseNumber": null,
         *           "lateReason": null,
         *           "objections": [],
         *           "referralId": "01a249a2-1bc3-7a82-bdee-5628601f60c0",
         *           "withdrawal": {
         *             "reason": "当事人已自动履行完毕",
         *             "withdrawnAt": "2026-12-06T04:34:50.504Z"
         *           },
         *           "notAccepted": null,
         *           "provisional": true,
         *           "reviewDueOn": null,
         *           "objectionDueOn": null,
         *           "organizationId": "bj-cy-blz",
         *           "reviewTargetOn": null,
         *           "agreementSha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
         *           "applicationDueOn": "2027-01-05",
         *           "deemedWithdrawal": null,
         *           "materialRequests": [],
         *           "reviewExtensions": [],
         *           "requestedMaterials": null
         *         }
         *       }
         *     }
         */
        'application/json': components['schemas']['Event'] & {
          /** @constant */
          type?: 'confirmation.withdrawn'
        }
      }
    }
    responses: {
      /** @description 已接收 / received (any 2xx) */
      204: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 签名无效，不重试 / signature did not verify: not retried (other 4xx likewise) */
      401: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 暂不可用，稍后重试 / retried with backoff (also 408, 429 and other 5xx) */
      503: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
    }
  }
  webhook_confirmation_ruled: {
    parameters: {
      query?: never
      header: {
        /** @description 事件标识（即事件 id），接收方据此去重 / the event id: deduplicate on it (deliveries are at least once) */
        'webhook-id': string
        /** @description 签名时间（Unix 秒）；与本地时钟相差超过 5 分钟应拒绝 / unix seconds when signed; refuse beyond 5 minutes of your clock */
        'webhook-timestamp': string
        /** @description Standard Webhooks 签名：`v1,<base64 HMAC-SHA256>`（默认）或 `sm3,<base64 HMAC-SM3>`（signatureAlgorithm hmac-sm3，密评）；签名内容为 `<webhook-id>.<webhook-timestamp>.<原始请求体>`，密钥为订阅 secret 去掉 `whsec_` 后 base64 解码的字节；轮换期间含多个以空格分隔的签名，任一匹配即可。Signed content `<id>.<timestamp>.<raw body>`, key = base64-decoded secret after `whsec_`; several space-separated signatures during a secret rotation, one match suffices. Verify with `verifyWebhook` from `zdz-connector/client`. */
        'webhook-signature': string
      }
      path?: never
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "id": "01a249a2-1b61-70e7-93a0-12333684ab82",
         *       "type": "confirmation.ruled",
         *       "occurredAt": "2026-12-06T04:34:50.333Z",
         *       "sequence": 6,
         *       "subject": {
         *         "kind": "judicial_confirmation",
         *         "id": "01a249a2-1a8b-70f3-a7e4-6bb4bc85f4a8"
         *       },
         *       "caseVersion": 6,
         *       "actor": {
         *         "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d",
         *         "role": "court"
         *       },
         *       "data": {
         *         "confirmation": {
         *           "id": "01a249a2-1a8b-70f3-a7e4-6bb4bc85f4a8",
         *           "late": false,
         *           "venue": null,
         *           "ruling": {
         *             "result": "valid",
         *             "ruledOn": "2026-12-06",
         *             "servedOn": "2026-12-06",
         *             "recordedAt": "2026-12-06T04:34:50.333Z",
         *             "rulingNumber": "（2026）京0105诉前调确33940号",
         *             "agreementSha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286"
         *           },
         *           "status": "ruled_valid",
         *           "overdue": false,
         *           "parties": [
         *             {
         *               "kind": "natural_person",
         *               "name": "张三",
         *               "role": "applicant",
         *               "phone": "138****8000",
         *               "idType": "resident_id",
         *               "idNumber": "110***********002X"
         *             },
         *             {
         *               "kind": "natural_person",
         *               "name": "李四",
         *               "role": "respondent",
         *               "idType": "resident_id",
         *               "idNumber": "440***********0014"
         *             }
         *           ],
         *           "subject": "ordinary",
         *           "version": 6,
         *           "agreement": {
         *             "form": "written",
         *             "terms": "李四于本协议生效后三十日内赔偿张三5000元。",
         *             "amount": "5000.00",
         *             "sha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
         *             "sealedAt": "2026-12-06T12:34:49.754+08:00",
         *             "recordedAt": "2026-12-06T04:34:49.760Z",
         *             "signatures": [
         *               {
         *                 "signedAt": "2026-12-06T12:34:49.754+08:00",
         *                 "partyIndex": 0
         *               },
         *               {
         *                 "signedAt": "2026-12-06T12:34:49.754+08:00",
         *                 "partyIndex": 1
         *               }
         *             ],
         *             "effectiveAt": "2026-12-06T04:34:49.754Z",
         *             "performance": {
         *               "dueOn": "2027-01-05",
         *               "method": "deferred"
         *             },
         *             "agreementNumber": "朝八调〔2026〕17号",
         *             "mediatorSignedAt": "2026-12-06T12:34:49.754+08:00"
         *           },
         *           "appliedAt": "2026-12-06T04:34:50.103Z",
         *           "courtCode": "京0105",
         *           "createdAt": "2026-12-06T04:34:50.116Z",
         *           "materials": [
         *             {
         *               "materialId": "01a249a2-1850-7f07-8c30-ee44d67ef4f9"
         *             }
         *           ],
         *           "updatedAt": "2026-12-06T04:34:50.333Z",
         *           "acceptance": {
         *             "acceptedAt": "2026-12-06T04:34:50.243Z",
         *             "acceptedOn": "2026-12-06",
         *             "caseNumber": "（2026）京0105诉前调确33939号"
         *           },
         *           "applicants": [
         *             0,
         *             1
         *           ],
         *           "caseNumber": "（2026）京0105诉前调确33939号",
         *           "lateReason": null,
         *           "objections": [],
         *           "referralId": "01a249a2-1873-7c68-b027-9877cc03bf12",
         *           "withdrawal": null,
         *           "notAccepted": null,
         *           "provisional": true,
         *           "reviewDueOn": "2027-02-04",
         *           "objectionDueOn": "2026-12-21",
         *           "organizationId": "bj-cy-blz",
         *           "reviewTargetOn": "2026-12-21",
         *           "agreementSha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
         *           "applicationDueOn": "2027-01-05",
         *           "deemedWithdrawal": null,
         *           "materialRequests": [
         *             {
         *               "dueOn": "2026-12-20",
         *               "items": [
         *                 "调解组织主持调解的证明",
         *                 "申请人身份证明"
         *               ],
         *               "supplied": {
         *                 "note": "已补充主持调解证明",
         *                 "materials": [
         *                   {
         *                     "materialId": "01a249a2-1850-7f07-8c30-ee44d67ef4f9"
         *                   }
         *                 ],
         *                 "suppliedAt": "2026-12-06T04:34:50.307Z"
         *               },
         *               "requestedAt": "2026-12-06T04:34:50.290Z"
         *             }
         *           ],
         *           "reviewExtensions": [
         *             {
         *               "reason": "案情复杂，经院长批准延长",
         *               "newDueOn": "2027-02-04",
         *               "extendedAt": "2026-12-06T04:34:50.262Z",
         *               "previousDueOn": "2027-01-05"
         *             }
         *           ],
         *           "requestedMaterials": null
         *         }
         *       }
         *     }
         */
        'application/json': components['schemas']['Event'] & {
          /** @constant */
          type?: 'confirmation.ruled'
        }
      }
    }
    responses: {
      /** @description 已接收 / received (any 2xx) */
      204: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 签名无效，不重试 / signature did not verify: not retried (other 4xx likewise) */
      401: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 暂不可用，稍后重试 / retried with backoff (also 408, 429 and other 5xx) */
      503: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
    }
  }
  webhook_confirmation_deadlines_changed: {
    parameters: {
      query?: never
      header: {
        /** @description 事件标识（即事件 id），接收方据此去重 / the event id: deduplicate on it (deliveries are at least once) */
        'webhook-id': string
        /** @description 签名时间（Unix 秒）；与本地时钟相差超过 5 分钟应拒绝 / unix seconds when signed; refuse beyond 5 minutes of your clock */
        'webhook-timestamp': string
        /** @description Standard Webhooks 签名：`v1,<base64 HMAC-SHA256>`（默认）或 `sm3,<base64 HMAC-SM3>`（signatureAlgorithm hmac-sm3，密评）；签名内容为 `<webhook-id>.<webhook-timestamp>.<原始请求体>`，密钥为订阅 secret 去掉 `whsec_` 后 base64 解码的字节；轮换期间含多个以空格分隔的签名，任一匹配即可。Signed content `<id>.<timestamp>.<raw body>`, key = base64-decoded secret after `whsec_`; several space-separated signatures during a secret rotation, one match suffices. Verify with `verifyWebhook` from `zdz-connector/client`. */
        'webhook-signature': string
      }
      path?: never
      cookie?: never
    }
    requestBody: {
      content: {
        'application/json': components['schemas']['Event'] & {
          /** @constant */
          type?: 'confirmation.deadlines_changed'
        }
      }
    }
    responses: {
      /** @description 已接收 / received (any 2xx) */
      204: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 签名无效，不重试 / signature did not verify: not retried (other 4xx likewise) */
      401: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 暂不可用，稍后重试 / retried with backoff (also 408, 429 and other 5xx) */
      503: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
    }
  }
  webhook_confirmation_materials_requested: {
    parameters: {
      query?: never
      header: {
        /** @description 事件标识（即事件 id），接收方据此去重 / the event id: deduplicate on it (deliveries are at least once) */
        'webhook-id': string
        /** @description 签名时间（Unix 秒）；与本地时钟相差超过 5 分钟应拒绝 / unix seconds when signed; refuse beyond 5 minutes of your clock */
        'webhook-timestamp': string
        /** @description Standard Webhooks 签名：`v1,<base64 HMAC-SHA256>`（默认）或 `sm3,<base64 HMAC-SM3>`（signatureAlgorithm hmac-sm3，密评）；签名内容为 `<webhook-id>.<webhook-timestamp>.<原始请求体>`，密钥为订阅 secret 去掉 `whsec_` 后 base64 解码的字节；轮换期间含多个以空格分隔的签名，任一匹配即可。Signed content `<id>.<timestamp>.<raw body>`, key = base64-decoded secret after `whsec_`; several space-separated signatures during a secret rotation, one match suffices. Verify with `verifyWebhook` from `zdz-connector/client`. */
        'webhook-signature': string
      }
      path?: never
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "id": "01a249a2-1b36-771b-aaac-f3f411172f94",
         *       "type": "confirmation.materials_requested",
         *       "occurredAt": "2026-12-06T04:34:50.290Z",
         *       "sequence": 4,
         *       "subject": {
         *         "kind": "judicial_confirmation",
         *         "id": "01a249a2-1a8b-70f3-a7e4-6bb4bc85f4a8"
         *       },
         *       "caseVersion": 4,
         *       "actor": {
         *         "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d",
         *         "role": "court"
         *       },
         *       "data": {
         *         "confirmation": {
         *           "id": "01a249a2-1a8b-70f3-a7e4-6bb4bc85f4a8",
         *           "late": false,
         *           "venue": null,
         *           "ruling": null,
         *           "status": "materials_requested",
         *           "overdue": false,
         *           "parties": [
         *             {
         *               "kind": "natural_person",
         *               "name": "张三",
         *               "role": "applicant",
         *               "phone": "138****8000",
         *               "idType": "resident_id",
         *               "idNumber": "110***********002X"
         *             },
         *             {
         *               "kind": "natural_person",
         *               "name": "李四",
         *               "role": "respondent",
         *               "idType": "resident_id",
         *               "idNumber": "440***********0014"
         *             }
         *           ],
         *           "subject": "ordinary",
         *           "version": 4,
         *           "agreement": {
         *             "form": "written",
         *             "terms": "李四于本协议生效后三十日内赔偿张三5000元。",
         *             "amount": "5000.00",
         *             "sha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
         *             "sealedAt": "2026-12-06T12:34:49.754+08:00",
         *             "recordedAt": "2026-12-06T04:34:49.760Z",
         *             "signatures": [
         *               {
         *                 "signedAt": "2026-12-06T12:34:49.754+08:00",
         *                 "partyIndex": 0
         *               },
         *               {
         *                 "signedAt": "2026-12-06T12:34:49.754+08:00",
         *                 "partyIndex": 1
         *               }
         *             ],
         *             "effectiveAt": "2026-12-06T04:34:49.754Z",
         *             "performance": {
         *               "dueOn": "2027-01-05",
         *               "method": "deferred"
         *             },
         *             "agreementNumber": "朝八调〔2026〕17号",
         *             "mediatorSignedAt": "2026-12-06T12:34:49.754+08:00"
         *           },
         *           "appliedAt": "2026-12-06T04:34:50.103Z",
         *           "courtCode": "京0105",
         *           "createdAt": "2026-12-06T04:34:50.116Z",
         *           "materials": [],
         *           "updatedAt": "2026-12-06T04:34:50.290Z",
         *           "acceptance": {
         *             "acceptedAt": "2026-12-06T04:34:50.243Z",
         *             "acceptedOn": "2026-12-06",
         *             "caseNumber": "（2026）京0105诉前调确33939号"
         *           },
         *           "applicants": [
         *             0,
         *             1
         *           ],
         *           "caseNumber": "（2026）京0105诉前调确33939号",
         *           "lateReason": null,
         *           "objections": [],
         *           "referralId": "01a249a2-1873-7c68-b027-9877cc03bf12",
         *           "withdrawal": null,
         *           "notAccepted": null,
         *           "provisional": true,
         *           "reviewDueOn": "2027-02-04",
         *           "objectionDueOn": null,
         *           "organizationId": "bj-cy-blz",
         *           "reviewTargetOn": "2026-12-21",
         *           "agreementSha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
         *           "applicationDueOn": "2027-01-05",
         *           "deemedWithdrawal": null,
         *           "materialRequests": [
         *             {
         *               "dueOn": "2026-12-20",
         *               "items": [
         *                 "调解组织主持调解的证明",
         *                 "申请人身份证明"
         *               ],
         *               "requestedAt": "2026-12-06T04:34:50.290Z"
         *             }
         *           ],
         *           "reviewExtensions": [
         *             {
         *               "reason": "案情复杂，经院长批准延长",
         *               "newDueOn": "2027-02-04",
         *               "extendedAt": "2026-12-06T04:34:50.262Z",
         *               "previousDueOn": "2027-01-05"
         *             }
         *           ],
         *           "requestedMaterials": {
         *             "dueOn": "2026-12-20",
         *             "items": [
         *               "调解组织主持调解的证明",
         *               "申请人身份证明"
         *             ]
         *           }
         *         }
         *       }
         *     }
         */
        'application/json': components['schemas']['Event'] & {
          /** @constant */
          type?: 'confirmation.materials_requested'
        }
      }
    }
    responses: {
      /** @description 已接收 / received (any 2xx) */
      204: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 签名无效，不重试 / signature did not verify: not retried (other 4xx likewise) */
      401: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 暂不可用，稍后重试 / retried with backoff (also 408, 429 and other 5xx) */
      503: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
    }
  }
  webhook_confirmation_materials_supplemented: {
    parameters: {
      query?: never
      header: {
        /** @description 事件标识（即事件 id），接收方据此去重 / the event id: deduplicate on it (deliveries are at least once) */
        'webhook-id': string
        /** @description 签名时间（Unix 秒）；与本地时钟相差超过 5 分钟应拒绝 / unix seconds when signed; refuse beyond 5 minutes of your clock */
        'webhook-timestamp': string
        /** @description Standard Webhooks 签名：`v1,<base64 HMAC-SHA256>`（默认）或 `sm3,<base64 HMAC-SM3>`（signatureAlgorithm hmac-sm3，密评）；签名内容为 `<webhook-id>.<webhook-timestamp>.<原始请求体>`，密钥为订阅 secret 去掉 `whsec_` 后 base64 解码的字节；轮换期间含多个以空格分隔的签名，任一匹配即可。Signed content `<id>.<timestamp>.<raw body>`, key = base64-decoded secret after `whsec_`; several space-separated signatures during a secret rotation, one match suffices. Verify with `verifyWebhook` from `zdz-connector/client`. */
        'webhook-signature': string
      }
      path?: never
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "id": "01a249a2-1b4d-77c3-9427-10c5d696989d",
         *       "type": "confirmation.materials_supplemented",
         *       "occurredAt": "2026-12-06T04:34:50.307Z",
         *       "sequence": 5,
         *       "subject": {
         *         "kind": "judicial_confirmation",
         *         "id": "01a249a2-1a8b-70f3-a7e4-6bb4bc85f4a8"
         *       },
         *       "caseVersion": 5,
         *       "actor": {
         *         "clientId": "01a249a2-1788-7338-836c-f1a07c0b9973",
         *         "role": "mediation"
         *       },
         *       "data": {
         *         "confirmation": {
         *           "id": "01a249a2-1a8b-70f3-a7e4-6bb4bc85f4a8",
         *           "late": false,
         *           "venue": null,
         *           "ruling": null,
         *           "status": "under_review",
         *           "overdue": false,
         *           "parties": [
         *             {
         *               "kind": "natural_person",
         *               "name": "张三",
         *               "role": "applicant",
         *               "phone": "138****8000",
         *               "idType": "resident_id",
         *               "idNumber": "110***********002X"
         *             },
         *             {
         *               "kind": "natural_person",
         *               "name": "李四",
         *               "role": "respondent",
         *               "idType": "resident_id",
         *               "idNumber": "440***********0014"
         *             }
         *           ],
         *           "subject": "ordinary",
         *           "version": 5,
         *           "agreement": {
         *             "form": "written",
         *             "terms": "李四于本协议生效后三十日内赔偿张三5000元。",
         *             "amount": "5000.00",
         *             "sha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
         *             "sealedAt": "2026-12-06T12:34:49.754+08:00",
         *             "recordedAt": "2026-12-06T04:34:49.760Z",
         *             "signatures": [
         *               {
         *                 "signedAt": "2026-12-06T12:34:49.754+08:00",
         *                 "partyIndex": 0
         *               },
         *               {
         *                 "signedAt": "2026-12-06T12:34:49.754+08:00",
         *                 "partyIndex": 1
         *               }
         *             ],
         *             "effectiveAt": "2026-12-06T04:34:49.754Z",
         *             "performance": {
         *               "dueOn": "2027-01-05",
         *               "method": "deferred"
         *             },
         *             "agreementNumber": "朝八调〔2026〕17号",
         *             "mediatorSignedAt": "2026-12-06T12:34:49.754+08:00"
         *           },
         *           "appliedAt": "2026-12-06T04:34:50.103Z",
         *           "courtCode": "京0105",
         *           "createdAt": "2026-12-06T04:34:50.116Z",
         *           "materials": [
         *             {
         *               "materialId": "01a249a2-1850-7f07-8c30-ee44d67ef4f9"
         *             }
         *           ],
         *           "updatedAt": "2026-12-06T04:34:50.307Z",
         *           "acceptance": {
         *             "acceptedAt": "2026-12-06T04:34:50.243Z",
         *             "acceptedOn": "2026-12-06",
         *             "caseNumber": "（2026）京0105诉前调确33939号"
         *           },
         *           "applicants": [
         *             0,
         *             1
         *           ],
         *           "caseNumber": "（2026）京0105诉前调确33939号",
         *           "lateReason": null,
         *           "objections": [],
         *           "referralId": "01a249a2-1873-7c68-b027-9877cc03bf12",
         *           "withdrawal": null,
         *           "notAccepted": null,
         *           "provisional": true,
         *           "reviewDueOn": "2027-02-04",
         *           "objectionDueOn": null,
         *           "organizationId": "bj-cy-blz",
         *           "reviewTargetOn": "2026-12-21",
         *           "agreementSha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
         *           "applicationDueOn": "2027-01-05",
         *           "deemedWithdrawal": null,
         *           "materialRequests": [
         *             {
         *               "dueOn": "2026-12-20",
         *               "items": [
         *                 "调解组织主持调解的证明",
         *                 "申请人身份证明"
         *               ],
         *               "supplied": {
         *                 "note": "已补充主持调解证明",
         *                 "materials": [
         *                   {
         *                     "materialId": "01a249a2-1850-7f07-8c30-ee44d67ef4f9"
         *                   }
         *                 ],
         *                 "suppliedAt": "2026-12-06T04:34:50.307Z"
         *               },
         *               "requestedAt": "2026-12-06T04:34:50.290Z"
         *             }
         *           ],
         *           "reviewExtensions": [
         *             {
         *               "reason": "案情复杂，经院长批准延长",
         *               "newDueOn": "2027-02-04",
         *               "extendedAt": "2026-12-06T04:34:50.262Z",
         *               "previousDueOn": "2027-01-05"
         *             }
         *           ],
         *           "requestedMaterials": null
         *         }
         *       }
         *     }
         */
        'application/json': components['schemas']['Event'] & {
          /** @constant */
          type?: 'confirmation.materials_supplemented'
        }
      }
    }
    responses: {
      /** @description 已接收 / received (any 2xx) */
      204: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 签名无效，不重试 / signature did not verify: not retried (other 4xx likewise) */
      401: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 暂不可用，稍后重试 / retried with backoff (also 408, 429 and other 5xx) */
      503: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
    }
  }
  webhook_confirmation_deemed_withdrawn: {
    parameters: {
      query?: never
      header: {
        /** @description 事件标识（即事件 id），接收方据此去重 / the event id: deduplicate on it (deliveries are at least once) */
        'webhook-id': string
        /** @description 签名时间（Unix 秒）；与本地时钟相差超过 5 分钟应拒绝 / unix seconds when signed; refuse beyond 5 minutes of your clock */
        'webhook-timestamp': string
        /** @description Standard Webhooks 签名：`v1,<base64 HMAC-SHA256>`（默认）或 `sm3,<base64 HMAC-SM3>`（signatureAlgorithm hmac-sm3，密评）；签名内容为 `<webhook-id>.<webhook-timestamp>.<原始请求体>`，密钥为订阅 secret 去掉 `whsec_` 后 base64 解码的字节；轮换期间含多个以空格分隔的签名，任一匹配即可。Signed content `<id>.<timestamp>.<raw body>`, key = base64-decoded secret after `whsec_`; several space-separated signatures during a secret rotation, one match suffices. Verify with `verifyWebhook` from `zdz-connector/client`. */
        'webhook-signature': string
      }
      path?: never
      cookie?: never
    }
    requestBody: {
      content: {
        'application/json': components['schemas']['Event'] & {
          /** @constant */
          type?: 'confirmation.deemed_withdrawn'
        }
      }
    }
    responses: {
      /** @description 已接收 / received (any 2xx) */
      204: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 签名无效，不重试 / signature did not verify: not retried (other 4xx likewise) */
      401: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 暂不可用，稍后重试 / retried with backoff (also 408, 429 and other 5xx) */
      503: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
    }
  }
  webhook_confirmation_review_extended: {
    parameters: {
      query?: never
      header: {
        /** @description 事件标识（即事件 id），接收方据此去重 / the event id: deduplicate on it (deliveries are at least once) */
        'webhook-id': string
        /** @description 签名时间（Unix 秒）；与本地时钟相差超过 5 分钟应拒绝 / unix seconds when signed; refuse beyond 5 minutes of your clock */
        'webhook-timestamp': string
        /** @description Standard Webhooks 签名：`v1,<base64 HMAC-SHA256>`（默认）或 `sm3,<base64 HMAC-SM3>`（signatureAlgorithm hmac-sm3，密评）；签名内容为 `<webhook-id>.<webhook-timestamp>.<原始请求体>`，密钥为订阅 secret 去掉 `whsec_` 后 base64 解码的字节；轮换期间含多个以空格分隔的签名，任一匹配即可。Signed content `<id>.<timestamp>.<raw body>`, key = base64-decoded secret after `whsec_`; several space-separated signatures during a secret rotation, one match suffices. Verify with `verifyWebhook` from `zdz-connector/client`. */
        'webhook-signature': string
      }
      path?: never
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "id": "01a249a2-1b1d-79c2-be27-8153beda77a2",
         *       "type": "confirmation.review_extended",
         *       "occurredAt": "2026-12-06T04:34:50.262Z",
         *       "sequence": 3,
         *       "subject": {
         *         "kind": "judicial_confirmation",
         *         "id": "01a249a2-1a8b-70f3-a7e4-6bb4bc85f4a8"
         *       },
         *       "caseVersion": 3,
         *       "actor": {
         *         "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d",
         *         "role": "court"
         *       },
         *       "data": {
         *         "confirmation": {
         *           "id": "01a249a2-1a8b-70f3-a7e4-6bb4bc85f4a8",
         *           "late": false,
         *           "venue": null,
         *           "ruling": null,
         *           "status": "under_review",
         *           "overdue": false,
         *           "parties": [
         *             {
         *               "kind": "natural_person",
         *               "name": "张三",
         *               "role": "applicant",
         *               "phone": "138****8000",
         *               "idType": "resident_id",
         *               "idNumber": "110***********002X"
         *             },
         *             {
         *               "kind": "natural_person",
         *               "name": "李四",
         *               "role": "respondent",
         *               "idType": "resident_id",
         *               "idNumber": "440***********0014"
         *             }
         *           ],
         *           "subject": "ordinary",
         *           "version": 3,
         *           "agreement": {
         *             "form": "written",
         *             "terms": "李四于本协议生效后三十日内赔偿张三5000元。",
         *             "amount": "5000.00",
         *             "sha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
         *             "sealedAt": "2026-12-06T12:34:49.754+08:00",
         *             "recordedAt": "2026-12-06T04:34:49.760Z",
         *             "signatures": [
         *               {
         *                 "signedAt": "2026-12-06T12:34:49.754+08:00",
         *                 "partyIndex": 0
         *               },
         *               {
         *                 "signedAt": "2026-12-06T12:34:49.754+08:00",
         *                 "partyIndex": 1
         *               }
         *             ],
         *             "effectiveAt": "2026-12-06T04:34:49.754Z",
         *             "performance": {
         *               "dueOn": "2027-01-05",
         *               "method": "deferred"
         *             },
         *             "agreementNumber": "朝八调〔2026〕17号",
         *             "mediatorSignedAt": "2026-12-06T12:34:49.754+08:00"
         *           },
         *           "appliedAt": "2026-12-06T04:34:50.103Z",
         *           "courtCode": "京0105",
         *           "createdAt": "2026-12-06T04:34:50.116Z",
         *           "materials": [],
         *           "updatedAt": "2026-12-06T04:34:50.262Z",
         *           "acceptance": {
         *             "acceptedAt": "2026-12-06T04:34:50.243Z",
         *             "acceptedOn": "2026-12-06",
         *             "caseNumber": "（2026）京0105诉前调确33939号"
         *           },
         *           "applicants": [
         *             0,
         *             1
         *           ],
         *           "caseNumber": "（2026）京0105诉前调确33939号",
         *           "lateReason": null,
         *           "objections": [],
         *           "referralId": "01a249a2-1873-7c68-b027-9877cc03bf12",
         *           "withdrawal": null,
         *           "notAccepted": null,
         *           "provisional": true,
         *           "reviewDueOn": "2027-02-04",
         *           "objectionDueOn": null,
         *           "organizationId": "bj-cy-blz",
         *           "reviewTargetOn": "2026-12-21",
         *           "agreementSha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
         *           "applicationDueOn": "2027-01-05",
         *           "deemedWithdrawal": null,
         *           "materialRequests": [],
         *           "reviewExtensions": [
         *             {
         *               "reason": "案情复杂，经院长批准延长",
         *               "newDueOn": "2027-02-04",
         *               "extendedAt": "2026-12-06T04:34:50.262Z",
         *               "previousDueOn": "2027-01-05"
         *             }
         *           ],
         *           "requestedMaterials": null
         *         }
         *       }
         *     }
         */
        'application/json': components['schemas']['Event'] & {
          /** @constant */
          type?: 'confirmation.review_extended'
        }
      }
    }
    responses: {
      /** @description 已接收 / received (any 2xx) */
      204: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 签名无效，不重试 / signature did not verify: not retried (other 4xx likewise) */
      401: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 暂不可用，稍后重试 / retried with backoff (also 408, 429 and other 5xx) */
      503: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
    }
  }
  webhook_confirmation_objection_filed: {
    parameters: {
      query?: never
      header: {
        /** @description 事件标识（即事件 id），接收方据此去重 / the event id: deduplicate on it (deliveries are at least once) */
        'webhook-id': string
        /** @description 签名时间（Unix 秒）；与本地时钟相差超过 5 分钟应拒绝 / unix seconds when signed; refuse beyond 5 minutes of your clock */
        'webhook-timestamp': string
        /** @description Standard Webhooks 签名：`v1,<base64 HMAC-SHA256>`（默认）或 `sm3,<base64 HMAC-SM3>`（signatureAlgorithm hmac-sm3，密评）；签名内容为 `<webhook-id>.<webhook-timestamp>.<原始请求体>`，密钥为订阅 secret 去掉 `whsec_` 后 base64 解码的字节；轮换期间含多个以空格分隔的签名，任一匹配即可。Signed content `<id>.<timestamp>.<raw body>`, key = base64-decoded secret after `whsec_`; several space-separated signatures during a secret rotation, one match suffices. Verify with `verifyWebhook` from `zdz-connector/client`. */
        'webhook-signature': string
      }
      path?: never
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "id": "01a249a2-1b7a-751e-bc9c-710cecbdc896",
         *       "type": "confirmation.objection_filed",
         *       "occurredAt": "2026-12-06T04:34:50.357Z",
         *       "sequence": 7,
         *       "subject": {
         *         "kind": "judicial_confirmation",
         *         "id": "01a249a2-1a8b-70f3-a7e4-6bb4bc85f4a8"
         *       },
         *       "caseVersion": 7,
         *       "actor": {
         *         "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d",
         *         "role": "court"
         *       },
         *       "data": {
         *         "confirmation": {
         *           "id": "01a249a2-1a8b-70f3-a7e4-6bb4bc85f4a8",
         *           "late": false,
         *           "venue": null,
         *           "ruling": {
         *             "result": "valid",
         *             "ruledOn": "2026-12-06",
         *             "servedOn": "2026-12-06",
         *             "recordedAt": "2026-12-06T04:34:50.333Z",
         *             "rulingNumber": "（2026）京0105诉前调确33940号",
         *             "agreementSha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286"
         *           },
         *           "status": "objection_filed",
         *           "overdue": false,
         *           "parties": [
         *             {
         *               "kind": "natural_person",
         *               "name": "张三",
         *               "role": "applicant",
         *               "phone": "138****8000",
         *               "idType": "resident_id",
         *               "idNumber": "110***********002X"
         *             },
         *             {
         *               "kind": "natural_person",
         *               "name": "李四",
         *               "role": "respondent",
         *               "idType": "resident_id",
         *               "idNumber": "440***********0014"
         *             }
         *           ],
         *           "subject": "ordinary",
         *           "version": 7,
         *           "agreement": {
         *             "form": "written",
         *             "terms": "李四于本协议生效后三十日内赔偿张三5000元。",
         *             "amount": "5000.00",
         *             "sha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
         *             "sealedAt": "2026-12-06T12:34:49.754+08:00",
         *             "recordedAt": "2026-12-06T04:34:49.760Z",
         *             "signatures": [
         *               {
         *                 "signedAt": "2026-12-06T12:34:49.754+08:00",
         *                 "partyIndex": 0
         *               },
         *               {
         *                 "signedAt": "2026-12-06T12:34:49.754+08:00",
         *                 "partyIndex": 1
         *               }
         *             ],
         *             "effectiveAt": "2026-12-06T04:34:49.754Z",
         *             "performance": {
         *               "dueOn": "2027-01-05",
         *               "method": "deferred"
         *             },
         *             "agreementNumber": "朝八调〔2026〕17号",
         *             "mediatorSignedAt": "2026-12-06T12:34:49.754+08:00"
         *           },
         *           "appliedAt": "2026-12-06T04:34:50.103Z",
         *           "courtCode": "京0105",
         *           "createdAt": "2026-12-06T04:34:50.116Z",
         *           "materials": [
         *             {
         *               "materialId": "01a249a2-1850-7f07-8c30-ee44d67ef4f9"
         *             }
         *           ],
         *           "updatedAt": "2026-12-06T04:34:50.357Z",
         *           "acceptance": {
         *             "acceptedAt": "2026-12-06T04:34:50.243Z",
         *             "acceptedOn": "2026-12-06",
         *             "caseNumber": "（2026）京0105诉前调确33939号"
         *           },
         *           "applicants": [
         *             0,
         *             1
         *           ],
         *           "caseNumber": "（2026）京0105诉前调确33939号",
         *           "lateReason": null,
         *           "objections": [
         *             {
         *               "by": "party",
         *               "dueOn": "2026-12-21",
         *               "filedOn": "2026-12-06",
         *               "grounds": "调解协议内容违反法律强制性规定",
         *               "partyIndex": 1,
         *               "recordedAt": "2026-12-06T04:34:50.357Z"
         *             }
         *           ],
         *           "referralId": "01a249a2-1873-7c68-b027-9877cc03bf12",
         *           "withdrawal": null,
         *           "notAccepted": null,
         *           "provisional": true,
         *           "reviewDueOn": "2027-02-04",
         *           "objectionDueOn": "2026-12-21",
         *           "organizationId": "bj-cy-blz",
         *           "reviewTargetOn": "2026-12-21",
         *           "agreementSha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
         *           "applicationDueOn": "2027-01-05",
         *           "deemedWithdrawal": null,
         *           "materialRequests": [
         *             {
         *               "dueOn": "2026-12-20",
         *               "items": [
         *                 "调解组织主持调解的证明",
         *                 "申请人身份证明"
         *               ],
         *               "supplied": {
         *                 "note": "已补充主持调解证明",
         *                 "materials": [
         *                   {
         *                     "materialId": "01a249a2-1850-7f07-8c30-ee44d67ef4f9"
         *                   }
         *                 ],
         *                 "suppliedAt": "2026-12-06T04:34:50.307Z"
         *               },
         *               "requestedAt": "2026-12-06T04:34:50.290Z"
         *             }
         *           ],
         *           "reviewExtensions": [
         *             {
         *               "reason": "案情复杂，经院长批准延长",
         *               "newDueOn": "2027-02-04",
         *               "extendedAt": "2026-12-06T04:34:50.262Z",
         *               "previousDueOn": "2027-01-05"
         *             }
         *           ],
         *           "requestedMaterials": null
         *         }
         *       }
         *     }
         */
        'application/json': components['schemas']['Event'] & {
          /** @constant */
          type?: 'confirmation.objection_filed'
        }
      }
    }
    responses: {
      /** @description 已接收 / received (any 2xx) */
      204: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 签名无效，不重试 / signature did not verify: not retried (other 4xx likewise) */
      401: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 暂不可用，稍后重试 / retried with backoff (also 408, 429 and other 5xx) */
      503: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
    }
  }
  webhook_confirmation_objection_ruled: {
    parameters: {
      query?: never
      header: {
        /** @description 事件标识（即事件 id），接收方据此去重 / the event id: deduplicate on it (deliveries are at least once) */
        'webhook-id': string
        /** @description 签名时间（Unix 秒）；与本地时钟相差超过 5 分钟应拒绝 / unix seconds when signed; refuse beyond 5 minutes of your clock */
        'webhook-timestamp': string
        /** @description Standard Webhooks 签名：`v1,<base64 HMAC-SHA256>`（默认）或 `sm3,<base64 HMAC-SM3>`（signatureAlgorithm hmac-sm3，密评）；签名内容为 `<webhook-id>.<webhook-timestamp>.<原始请求体>`，密钥为订阅 secret 去掉 `whsec_` 后 base64 解码的字节；轮换期间含多个以空格分隔的签名，任一匹配即可。Signed content `<id>.<timestamp>.<raw body>`, key = base64-decoded secret after `whsec_`; several space-separated signatures during a secret rotation, one match suffices. Verify with `verifyWebhook` from `zdz-connector/client`. */
        'webhook-signature': string
      }
      path?: never
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "id": "01a249a2-1b95-713c-802f-cfa0ed9ae09d",
         *       "type": "confirmation.objection_ruled",
         *       "occurredAt": "2026-12-06T04:34:50.386Z",
         *       "sequence": 8,
         *       "subject": {
         *         "kind": "judicial_confirmation",
         *         "id": "01a249a2-1a8b-70f3-a7e4-6bb4bc85f4a8"
         *       },
         *       "caseVersion": 8,
         *       "actor": {
         *         "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d",
         *         "role": "court"
         *       },
         *       "data": {
         *         "confirmation": {
         *           "id": "01a249a2-1a8b-70f3-a7e4-6bb4bc85f4a8",
         *           "late": false,
         *           "venue": null,
         *           "ruling": {
         *             "result": "valid",
         *             "ruledOn": "2026-12-06",
         *             "servedOn": "2026-12-06",
         *             "recordedAt": "2026-12-06T04:34:50.333Z",
         *             "rulingNumber": "（2026）京0105诉前调确33940号",
         *             "agreementSha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286"
         *           },
         *           "status": "ruled_valid",
         *           "overdue": false,
         *           "parties": [
         *             {
         *               "kind": "natural_person",
         *               "name": "张三",
         *               "role": "applicant",
         *               "phone": "138****8000",
         *               "idType": "resident_id",
         *               "idNumber": "110***********002X"
         *             },
         *             {
         *               "kind": "natural_person",
         *               "name": "李四",
         *               "role": "respondent",
         *               "idType": "resident_id",
         *               "idNumber": "440***********0014"
         *             }
         *           ],
         *           "subject": "ordinary",
         *           "version": 8,
         *           "agreement": {
         *             "form": "written",
         *             "terms": "李四于本协议生效后三十日内赔偿张三5000元。",
         *             "amount": "5000.00",
         *             "sha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
         *             "sealedAt": "2026-12-06T12:34:49.754+08:00",
         *             "recordedAt": "2026-12-06T04:34:49.760Z",
         *             "signatures": [
         *               {
         *                 "signedAt": "2026-12-06T12:34:49.754+08:00",
         *                 "partyIndex": 0
         *               },
         *               {
         *                 "signedAt": "2026-12-06T12:34:49.754+08:00",
         *                 "partyIndex": 1
         *               }
         *             ],
         *             "effectiveAt": "2026-12-06T04:34:49.754Z",
         *             "performance": {
         *               "dueOn": "2027-01-05",
         *               "method": "deferred"
         *             },
         *             "agreementNumber": "朝八调〔2026〕17号",
         *             "mediatorSignedAt": "2026-12-06T12:34:49.754+08:00"
         *           },
         *           "appliedAt": "2026-12-06T04:34:50.103Z",
         *           "courtCode": "京0105",
         *           "createdAt": "2026-12-06T04:34:50.116Z",
         *           "materials": [
         *             {
         *               "materialId": "01a249a2-1850-7f07-8c30-ee44d67ef4f9"
         *             }
         *           ],
         *           "updatedAt": "2026-12-06T04:34:50.386Z",
         *           "acceptance": {
         *             "acceptedAt": "2026-12-06T04:34:50.243Z",
         *             "acceptedOn": "2026-12-06",
         *             "caseNumber": "（2026）京0105诉前调确33939号"
         *           },
         *           "applicants": [
         *             0,
         *             1
         *           ],
         *           "caseNumber": "（2026）京0105诉前调确33939号",
         *           "lateReason": null,
         *           "objections": [
         *             {
         *               "by": "party",
         *               "dueOn": "2026-12-21",
         *               "ruling": {
         *                 "result": "dismissed",
         *                 "ruledOn": "2026-12-06",
         *                 "recordedAt": "2026-12-06T04:34:50.386Z",
         *                 "rulingNumber": "（2026）京0105民特监33941号"
         *               },
         *               "filedOn": "2026-12-06",
         *               "grounds": "调解协议内容违反法律强制性规定",
         *               "partyIndex": 1,
         *               "recordedAt": "2026-12-06T04:34:50.357Z"
         *             }
         *           ],
         *           "referralId": "01a249a2-1873-7c68-b027-9877cc03bf12",
         *           "withdrawal": null,
         *           "notAccepted": null,
         *           "provisional": true,
         *           "reviewDueOn": "2027-02-04",
         *           "objectionDueOn": "2026-12-21",
         *           "organizationId": "bj-cy-blz",
         *           "reviewTargetOn": "2026-12-21",
         *           "agreementSha256": "5508239f35c4e0f22b09a06e22717a0532d0f509d701fe146fe556c20693c286",
         *           "applicationDueOn": "2027-01-05",
         *           "deemedWithdrawal": null,
         *           "materialRequests": [
         *             {
         *               "dueOn": "2026-12-20",
         *               "items": [
         *                 "调解组织主持调解的证明",
         *                 "申请人身份证明"
         *               ],
         *               "supplied": {
         *                 "note": "已补充主持调解证明",
         *                 "materials": [
         *                   {
         *                     "materialId": "01a249a2-1850-7f07-8c30-ee44d67ef4f9"
         *                   }
         *                 ],
         *                 "suppliedAt": "2026-12-06T04:34:50.307Z"
         *               },
         *               "requestedAt": "2026-12-06T04:34:50.290Z"
         *             }
         *           ],
         *           "reviewExtensions": [
         *             {
         *               "reason": "案情复杂，经院长批准延长",
         *               "newDueOn": "2027-02-04",
         *               "extendedAt": "2026-12-06T04:34:50.262Z",
         *               "previousDueOn": "2027-01-05"
         *             }
         *           ],
         *           "requestedMaterials": null
         *         }
         *       }
         *     }
         */
        'application/json': components['schemas']['Event'] & {
          /** @constant */
          type?: 'confirmation.objection_ruled'
        }
      }
    }
    responses: {
      /** @description 已接收 / received (any 2xx) */
      204: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 签名无效，不重试 / signature did not verify: not retried (other 4xx likewise) */
      401: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 暂不可用，稍后重试 / retried with backoff (also 408, 429 and other 5xx) */
      503: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
    }
  }
  webhook_warning_raised: {
    parameters: {
      query?: never
      header: {
        /** @description 事件标识（即事件 id），接收方据此去重 / the event id: deduplicate on it (deliveries are at least once) */
        'webhook-id': string
        /** @description 签名时间（Unix 秒）；与本地时钟相差超过 5 分钟应拒绝 / unix seconds when signed; refuse beyond 5 minutes of your clock */
        'webhook-timestamp': string
        /** @description Standard Webhooks 签名：`v1,<base64 HMAC-SHA256>`（默认）或 `sm3,<base64 HMAC-SM3>`（signatureAlgorithm hmac-sm3，密评）；签名内容为 `<webhook-id>.<webhook-timestamp>.<原始请求体>`，密钥为订阅 secret 去掉 `whsec_` 后 base64 解码的字节；轮换期间含多个以空格分隔的签名，任一匹配即可。Signed content `<id>.<timestamp>.<raw body>`, key = base64-decoded secret after `whsec_`; several space-separated signatures during a secret rotation, one match suffices. Verify with `verifyWebhook` from `zdz-connector/client`. */
        'webhook-signature': string
      }
      path?: never
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "id": "01a249a2-1c17-7567-b22b-a9824b424c39",
         *       "type": "warning.raised",
         *       "occurredAt": "2026-12-06T04:34:50.519Z",
         *       "sequence": 1,
         *       "subject": {
         *         "kind": "warning",
         *         "id": "01a249a2-1c17-7567-b22b-a981e9cfff25"
         *       },
         *       "caseVersion": null,
         *       "actor": {
         *         "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d",
         *         "role": "court"
         *       },
         *       "data": {
         *         "warning": {
         *           "id": "01a249a2-1c17-7567-b22b-a981e9cfff25",
         *           "level": "orange",
         *           "status": "raised",
         *           "closure": null,
         *           "overdue": false,
         *           "summary": "某建筑工地 60 余名农民工集中讨薪，情绪激动",
         *           "version": 1,
         *           "closedAt": null,
         *           "raisedBy": {
         *             "name": "北京市朝阳区人民法院",
         *             "role": "court",
         *             "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d"
         *           },
         *           "createdAt": "2026-12-06T04:34:50.519Z",
         *           "followUps": [],
         *           "updatedAt": "2026-12-06T04:34:50.519Z",
         *           "referralId": null,
         *           "regionCode": "110105",
         *           "disputeType": "labor",
         *           "acknowledgedAt": null,
         *           "acknowledgement": null,
         *           "involvedPersons": 63,
         *           "acknowledgementDueAt": "2026-12-06T16:34:50.519Z"
         *         }
         *       }
         *     }
         */
        'application/json': components['schemas']['Event'] & {
          /** @constant */
          type?: 'warning.raised'
        }
      }
    }
    responses: {
      /** @description 已接收 / received (any 2xx) */
      204: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 签名无效，不重试 / signature did not verify: not retried (other 4xx likewise) */
      401: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 暂不可用，稍后重试 / retried with backoff (also 408, 429 and other 5xx) */
      503: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
    }
  }
  webhook_warning_acknowledged: {
    parameters: {
      query?: never
      header: {
        /** @description 事件标识（即事件 id），接收方据此去重 / the event id: deduplicate on it (deliveries are at least once) */
        'webhook-id': string
        /** @description 签名时间（Unix 秒）；与本地时钟相差超过 5 分钟应拒绝 / unix seconds when signed; refuse beyond 5 minutes of your clock */
        'webhook-timestamp': string
        /** @description Standard Webhooks 签名：`v1,<base64 HMAC-SHA256>`（默认）或 `sm3,<base64 HMAC-SM3>`（signatureAlgorithm hmac-sm3，密评）；签名内容为 `<webhook-id>.<webhook-timestamp>.<原始请求体>`，密钥为订阅 secret 去掉 `whsec_` 后 base64 解码的字节；轮换期间含多个以空格分隔的签名，任一匹配即可。Signed content `<id>.<timestamp>.<raw body>`, key = base64-decoded secret after `whsec_`; several space-separated signatures during a secret rotation, one match suffices. Verify with `verifyWebhook` from `zdz-connector/client`. */
        'webhook-signature': string
      }
      path?: never
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "id": "01a249a2-1c71-71cb-9671-e7f6b1c87a7e",
         *       "type": "warning.acknowledged",
         *       "occurredAt": "2026-12-06T04:34:50.608Z",
         *       "sequence": 3,
         *       "subject": {
         *         "kind": "warning",
         *         "id": "01a249a2-1c17-7567-b22b-a981e9cfff25"
         *       },
         *       "caseVersion": 3,
         *       "actor": {
         *         "clientId": "01a249a2-1788-7338-836c-f1a07c0b9973",
         *         "role": "mediation"
         *       },
         *       "data": {
         *         "note": "已转属地乡镇街道综治中心，人民调解员已赶赴现场",
         *         "warning": {
         *           "id": "01a249a2-1c17-7567-b22b-a981e9cfff25",
         *           "level": "orange",
         *           "status": "acknowledged",
         *           "version": 3,
         *           "closedAt": null,
         *           "raisedBy": {
         *             "role": "court",
         *             "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d"
         *           },
         *           "createdAt": "2026-12-06T04:34:50.519Z",
         *           "referralId": null,
         *           "regionCode": "110105",
         *           "disputeType": "labor",
         *           "acknowledgedAt": "2026-12-06T04:34:50.608Z",
         *           "acknowledgementDueAt": "2026-12-06T16:34:50.519Z"
         *         }
         *       }
         *     }
         */
        'application/json': components['schemas']['Event'] & {
          /** @constant */
          type?: 'warning.acknowledged'
        }
      }
    }
    responses: {
      /** @description 已接收 / received (any 2xx) */
      204: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 签名无效，不重试 / signature did not verify: not retried (other 4xx likewise) */
      401: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 暂不可用，稍后重试 / retried with backoff (also 408, 429 and other 5xx) */
      503: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
    }
  }
  webhook_warning_followed_up: {
    parameters: {
      query?: never
      header: {
        /** @description 事件标识（即事件 id），接收方据此去重 / the event id: deduplicate on it (deliveries are at least once) */
        'webhook-id': string
        /** @description 签名时间（Unix 秒）；与本地时钟相差超过 5 分钟应拒绝 / unix seconds when signed; refuse beyond 5 minutes of your clock */
        'webhook-timestamp': string
        /** @description Standard Webhooks 签名：`v1,<base64 HMAC-SHA256>`（默认）或 `sm3,<base64 HMAC-SM3>`（signatureAlgorithm hmac-sm3，密评）；签名内容为 `<webhook-id>.<webhook-timestamp>.<原始请求体>`，密钥为订阅 secret 去掉 `whsec_` 后 base64 解码的字节；轮换期间含多个以空格分隔的签名，任一匹配即可。Signed content `<id>.<timestamp>.<raw body>`, key = base64-decoded secret after `whsec_`; several space-separated signatures during a secret rotation, one match suffices. Verify with `verifyWebhook` from `zdz-connector/client`. */
        'webhook-signature': string
      }
      path?: never
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "id": "01a249a2-1c68-72f8-9490-6ac761f000d5",
         *       "type": "warning.followed_up",
         *       "occurredAt": "2026-12-06T04:34:50.598Z",
         *       "sequence": 2,
         *       "subject": {
         *         "kind": "warning",
         *         "id": "01a249a2-1c17-7567-b22b-a981e9cfff25"
         *       },
         *       "caseVersion": 2,
         *       "actor": {
         *         "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d",
         *         "role": "court"
         *       },
         *       "data": {
         *         "warning": {
         *           "id": "01a249a2-1c17-7567-b22b-a981e9cfff25",
         *           "level": "orange",
         *           "status": "raised",
         *           "version": 2,
         *           "closedAt": null,
         *           "raisedBy": {
         *             "role": "court",
         *             "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d"
         *           },
         *           "createdAt": "2026-12-06T04:34:50.519Z",
         *           "referralId": null,
         *           "regionCode": "110105",
         *           "disputeType": "labor",
         *           "acknowledgedAt": null,
         *           "acknowledgementDueAt": "2026-12-06T16:34:50.519Z"
         *         },
         *         "followUp": {
         *           "at": "2026-12-06T04:34:50.598Z",
         *           "by": {
         *             "role": "court",
         *             "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d"
         *           },
         *           "report": "涉事企业已垫付 60% 工资，其余部分约定月底前支付，现场情绪平稳"
         *         }
         *       }
         *     }
         */
        'application/json': components['schemas']['Event'] & {
          /** @constant */
          type?: 'warning.followed_up'
        }
      }
    }
    responses: {
      /** @description 已接收 / received (any 2xx) */
      204: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 签名无效，不重试 / signature did not verify: not retried (other 4xx likewise) */
      401: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 暂不可用，稍后重试 / retried with backoff (also 408, 429 and other 5xx) */
      503: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
    }
  }
  webhook_warning_closed: {
    parameters: {
      query?: never
      header: {
        /** @description 事件标识（即事件 id），接收方据此去重 / the event id: deduplicate on it (deliveries are at least once) */
        'webhook-id': string
        /** @description 签名时间（Unix 秒）；与本地时钟相差超过 5 分钟应拒绝 / unix seconds when signed; refuse beyond 5 minutes of your clock */
        'webhook-timestamp': string
        /** @description Standard Webhooks 签名：`v1,<base64 HMAC-SHA256>`（默认）或 `sm3,<base64 HMAC-SM3>`（signatureAlgorithm hmac-sm3，密评）；签名内容为 `<webhook-id>.<webhook-timestamp>.<原始请求体>`，密钥为订阅 secret 去掉 `whsec_` 后 base64 解码的字节；轮换期间含多个以空格分隔的签名，任一匹配即可。Signed content `<id>.<timestamp>.<raw body>`, key = base64-decoded secret after `whsec_`; several space-separated signatures during a secret rotation, one match suffices. Verify with `verifyWebhook` from `zdz-connector/client`. */
        'webhook-signature': string
      }
      path?: never
      cookie?: never
    }
    requestBody: {
      content: {
        /**
         * @example {
         *       "id": "01a249a2-1c91-77c5-82d2-1190975bb71a",
         *       "type": "warning.closed",
         *       "occurredAt": "2026-12-06T04:34:50.638Z",
         *       "sequence": 4,
         *       "subject": {
         *         "kind": "warning",
         *         "id": "01a249a2-1c17-7567-b22b-a981e9cfff25"
         *       },
         *       "caseVersion": 4,
         *       "actor": {
         *         "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d",
         *         "role": "court"
         *       },
         *       "data": {
         *         "report": "工资已全部结清，农民工已返乡，预警解除",
         *         "warning": {
         *           "id": "01a249a2-1c17-7567-b22b-a981e9cfff25",
         *           "level": "orange",
         *           "status": "closed",
         *           "version": 4,
         *           "closedAt": "2026-12-06T04:34:50.638Z",
         *           "raisedBy": {
         *             "role": "court",
         *             "clientId": "01a249a2-177a-71f0-b6e4-1cd1a1f8fd1d"
         *           },
         *           "createdAt": "2026-12-06T04:34:50.519Z",
         *           "referralId": null,
         *           "regionCode": "110105",
         *           "disputeType": "labor",
         *           "acknowledgedAt": "2026-12-06T04:34:50.608Z",
         *           "acknowledgementDueAt": "2026-12-06T16:34:50.519Z"
         *         }
         *       }
         *     }
         */
        'application/json': components['schemas']['Event'] & {
          /** @constant */
          type?: 'warning.closed'
        }
      }
    }
    responses: {
      /** @description 已接收 / received (any 2xx) */
      204: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 签名无效，不重试 / signature did not verify: not retried (other 4xx likewise) */
      401: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 暂不可用，稍后重试 / retried with backoff (also 408, 429 and other 5xx) */
      503: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
    }
  }
  webhook_warning_overdue: {
    parameters: {
      query?: never
      header: {
        /** @description 事件标识（即事件 id），接收方据此去重 / the event id: deduplicate on it (deliveries are at least once) */
        'webhook-id': string
        /** @description 签名时间（Unix 秒）；与本地时钟相差超过 5 分钟应拒绝 / unix seconds when signed; refuse beyond 5 minutes of your clock */
        'webhook-timestamp': string
        /** @description Standard Webhooks 签名：`v1,<base64 HMAC-SHA256>`（默认）或 `sm3,<base64 HMAC-SM3>`（signatureAlgorithm hmac-sm3，密评）；签名内容为 `<webhook-id>.<webhook-timestamp>.<原始请求体>`，密钥为订阅 secret 去掉 `whsec_` 后 base64 解码的字节；轮换期间含多个以空格分隔的签名，任一匹配即可。Signed content `<id>.<timestamp>.<raw body>`, key = base64-decoded secret after `whsec_`; several space-separated signatures during a secret rotation, one match suffices. Verify with `verifyWebhook` from `zdz-connector/client`. */
        'webhook-signature': string
      }
      path?: never
      cookie?: never
    }
    requestBody: {
      content: {
        'application/json': components['schemas']['Event'] & {
          /** @constant */
          type?: 'warning.overdue'
        }
      }
    }
    responses: {
      /** @description 已接收 / received (any 2xx) */
      204: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 签名无效，不重试 / signature did not verify: not retried (other 4xx likewise) */
      401: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 暂不可用，稍后重试 / retried with backoff (also 408, 429 and other 5xx) */
      503: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
    }
  }
  webhook_delivery_exhausted: {
    parameters: {
      query?: never
      header: {
        /** @description 事件标识（即事件 id），接收方据此去重 / the event id: deduplicate on it (deliveries are at least once) */
        'webhook-id': string
        /** @description 签名时间（Unix 秒）；与本地时钟相差超过 5 分钟应拒绝 / unix seconds when signed; refuse beyond 5 minutes of your clock */
        'webhook-timestamp': string
        /** @description Standard Webhooks 签名：`v1,<base64 HMAC-SHA256>`（默认）或 `sm3,<base64 HMAC-SM3>`（signatureAlgorithm hmac-sm3，密评）；签名内容为 `<webhook-id>.<webhook-timestamp>.<原始请求体>`，密钥为订阅 secret 去掉 `whsec_` 后 base64 解码的字节；轮换期间含多个以空格分隔的签名，任一匹配即可。Signed content `<id>.<timestamp>.<raw body>`, key = base64-decoded secret after `whsec_`; several space-separated signatures during a secret rotation, one match suffices. Verify with `verifyWebhook` from `zdz-connector/client`. */
        'webhook-signature': string
      }
      path?: never
      cookie?: never
    }
    requestBody: {
      content: {
        'application/json': components['schemas']['Event'] & {
          /** @constant */
          type?: 'delivery.exhausted'
        }
      }
    }
    responses: {
      /** @description 已接收 / received (any 2xx) */
      204: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 签名无效，不重试 / signature did not verify: not retried (other 4xx likewise) */
      401: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
      /** @description 暂不可用，稍后重试 / retried with backoff (also 408, 429 and other 5xx) */
      503: {
        headers: {
          [name: string]: unknown
        }
        content?: never
      }
    }
  }
}
