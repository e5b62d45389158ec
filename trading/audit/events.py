"""Audit event types: ranges per app, never renumbered."""

from enum import IntEnum, unique

from django.utils.translation import gettext_lazy as _


@unique
class AuditEvent(IntEnum):
    # 1xx trading
    SECTION_CREATED = 101
    SECTION_PUBLISHED = 102
    SECTION_TRANSITION = 103
    CLARIFICATION_ISSUED = 104
    DOCUMENT_UPLOADED = 105
    SECTION_SUSPENDED = 106
    SECTION_RESUMED = 107
    SEALED_ENTRIES_RELEASED = 108
    SEALED_CHAINS_ANCHORED = 109
    SIGNIN = 110
    SIGNIN_FAILED = 111
    SIGNIN_LOCKED = 112
    CALENDAR_CHANGED = 120
    RULE_REFUSED = 130
    # 2xx bidding
    REGISTERED = 201
    DOCUMENT_DOWNLOADED = 202
    BID_SUBMITTED = 203
    BID_WITHDRAWN = 204
    BID_REPLACED = 205
    BIDS_SEALED_ROOT = 206
    OPENING_KEY_GENERATED = 210
    OPENING_STARTED = 220
    OPENING_FAILED = 221
    OPENING_CHECKIN = 222
    OPENING_DECRYPTION_BEGUN = 223
    OPENING_SHARE_PRESENTED = 224
    OPENING_QUORUM = 225
    OPENING_BIDDER_UNLOCKED = 226
    BID_OPENED = 227
    BID_OPEN_FAILED = 228
    OPENING_READOUT = 229
    OPENING_OBJECTION = 230
    OPENING_OBJECTION_ANSWERED = 231
    OPENING_RECORD = 232
    OPENING_TRANSITION = 233
    # 25x-27x evaluation and award (bidding.evaluation)
    EXPERTS_IMPORTED = 250
    DRAW_COMMITTED = 251
    DRAW_MADE = 252
    DRAW_REPLACEMENT = 253
    DRAW_SEED_REVEALED = 254
    EXPERT_RESPONDED = 255
    EVALUATION_SESSION_STARTED = 256
    SCORES_SUBMITTED = 257
    COLLUSION_SCANNED = 258
    EVALUATION_REPORTED = 259
    CANDIDATES_PUBLICIZED = 260
    CANDIDATE_OBJECTION = 261
    CANDIDATE_OBJECTION_ANSWERED = 262
    CANDIDATE_DISQUALIFIED = 263
    AWARDED = 264
    CONTRACT_RECORDED = 265
    CONTRACT_OVERDUE = 266
    EXPERT_RECUSED = 267
    AWARD_REFUSED = 268
    EXPERT_KEY_REGISTERED = 269
    EXPERT_REPLACED = 270
    REPRESENTATIVE_APPOINTED = 271
    DRAW_SUPPLEMENT = 272
    # 3xx escrow
    DEPOSIT_PAID = 301
    DEPOSIT_REFUNDED = 302
    DEPOSIT_FORFEITED = 303
    DEPOSIT_NOTIFICATION_REFUSED = 304
    DEPOSIT_SAME_PAYER = 305
    DEPOSIT_REFUND_OVERDUE = 306
    DEPOSIT_LOOKED_UP = 307
    DEPOSIT_INTEREST = 308
    DEPOSIT_PAYERS_READ = 309
    DEPOSIT_TERMS_SET = 310
    RECONCILIATION_RUN = 311
    # 4xx livestream
    STREAM_EVENT = 401
    STREAM_CREATED = 402
    STREAM_CLOSED = 403
    # 5xx supervision
    ALERT_RAISED = 501
    ALERT_HANDLED = 502
    NOTICE_ISSUED = 510
    NOTICE_ANSWERED = 511
    OBJECTION_FILED = 520
    OBJECTION_ANSWERED = 521
    COMPLAINT_FILED = 530
    COMPLAINT_ACCEPTED = 531
    COMPLAINT_REJECTED = 532
    COMPLAINT_DECIDED = 533
    AWARD_REPORT_FILED = 540
    # 28x sales (bidding.auction): listing and limited-time bidding
    SALE_SET_UP = 280
    SALE_LISTING_STARTED = 281
    SALE_OFFER = 282
    SALE_COUNTDOWN_STARTED = 283
    SALE_FROZEN = 284
    SALE_RESUMED = 285
    SALE_ENDED = 286
    SALE_DEPOSIT_TO_PRICE = 287


# Events that reveal a bidder's participation: hidden from everyone but the bidder before opening.
BIDDER_PRIVATE_EVENTS = frozenset(
    {
        AuditEvent.REGISTERED,
        AuditEvent.DOCUMENT_DOWNLOADED,
        AuditEvent.BID_SUBMITTED,
        AuditEvent.BID_WITHDRAWN,
        AuditEvent.BID_REPLACED,
        AuditEvent.DEPOSIT_PAID,
        AuditEvent.DEPOSIT_REFUNDED,
        AuditEvent.DEPOSIT_FORFEITED,
        AuditEvent.DEPOSIT_SAME_PAYER,
        AuditEvent.DEPOSIT_REFUND_OVERDUE,
        AuditEvent.DEPOSIT_LOOKED_UP,
        AuditEvent.DEPOSIT_INTEREST,
        # The opening's own acts by a bidder name it by its account until the bids are opened.
        AuditEvent.OPENING_CHECKIN,
        AuditEvent.OPENING_BIDDER_UNLOCKED,
        AuditEvent.OPENING_OBJECTION,
        # who objects or complains is a potential bidder (supervision)
        AuditEvent.OBJECTION_FILED,
        AuditEvent.COMPLAINT_FILED,
    }
)

# Sign-in events name accounts: for officials only.
SIGNIN_EVENTS = frozenset({AuditEvent.SIGNIN, AuditEvent.SIGNIN_FAILED, AuditEvent.SIGNIN_LOCKED})


# What the public audit page calls each event, in the page's language (the number stays beside it).
EVENT_LABELS = {
    AuditEvent.SECTION_CREATED: _("创建标段"),
    AuditEvent.SECTION_PUBLISHED: _("发布标段"),
    AuditEvent.SECTION_TRANSITION: _("标段状态变更"),
    AuditEvent.CLARIFICATION_ISSUED: _("发布澄清"),
    AuditEvent.DOCUMENT_UPLOADED: _("上传招标文件"),
    AuditEvent.SECTION_SUSPENDED: _("暂停标段"),
    AuditEvent.SECTION_RESUMED: _("恢复标段"),
    AuditEvent.SEALED_ENTRIES_RELEASED: _("开标后公开投标人记录"),
    AuditEvent.SEALED_CHAINS_ANCHORED: _("密封记录链锚定"),
    AuditEvent.SIGNIN: _("登录"),
    AuditEvent.SIGNIN_FAILED: _("登录失败"),
    AuditEvent.SIGNIN_LOCKED: _("账户锁定"),
    AuditEvent.CALENDAR_CHANGED: _("工作日历变更"),
    AuditEvent.RULE_REFUSED: _("规则拒绝操作"),
    AuditEvent.REGISTERED: _("报名"),
    AuditEvent.DOCUMENT_DOWNLOADED: _("下载招标文件"),
    AuditEvent.BID_SUBMITTED: _("递交投标文件"),
    AuditEvent.BID_WITHDRAWN: _("撤回投标文件"),
    AuditEvent.BID_REPLACED: _("替换投标文件"),
    AuditEvent.BIDS_SEALED_ROOT: _("投标文件封存"),
    AuditEvent.OPENING_KEY_GENERATED: _("生成开标密钥"),
    AuditEvent.OPENING_STARTED: _("开标开始"),
    AuditEvent.OPENING_FAILED: _("开标失败"),
    AuditEvent.OPENING_CHECKIN: _("开标签到"),
    AuditEvent.OPENING_DECRYPTION_BEGUN: _("开始解密"),
    AuditEvent.OPENING_SHARE_PRESENTED: _("出示密钥分片"),
    AuditEvent.OPENING_QUORUM: _("密钥分片达到门限"),
    AuditEvent.OPENING_BIDDER_UNLOCKED: _("投标人自行解密"),
    AuditEvent.BID_OPENED: _("投标文件解密"),
    AuditEvent.BID_OPEN_FAILED: _("投标文件解密失败"),
    AuditEvent.OPENING_READOUT: _("唱标"),
    AuditEvent.OPENING_OBJECTION: _("开标异议"),
    AuditEvent.OPENING_OBJECTION_ANSWERED: _("答复开标异议"),
    AuditEvent.OPENING_RECORD: _("开标记录签署"),
    AuditEvent.OPENING_TRANSITION: _("开标状态变更"),
    AuditEvent.EXPERTS_IMPORTED: _("导入评标专家"),
    AuditEvent.DRAW_COMMITTED: _("公布抽取承诺"),
    AuditEvent.DRAW_MADE: _("抽取评标专家"),
    AuditEvent.DRAW_REPLACEMENT: _("补抽评标专家"),
    AuditEvent.DRAW_SEED_REVEALED: _("公布抽取种子"),
    AuditEvent.EXPERT_RESPONDED: _("专家答复邀请"),
    AuditEvent.EVALUATION_SESSION_STARTED: _("评标开始"),
    AuditEvent.SCORES_SUBMITTED: _("提交评分"),
    AuditEvent.COLLUSION_SCANNED: _("串标分析"),
    AuditEvent.EVALUATION_REPORTED: _("评标报告"),
    AuditEvent.CANDIDATES_PUBLICIZED: _("中标候选人公示"),
    AuditEvent.CANDIDATE_OBJECTION: _("对候选人提出异议"),
    AuditEvent.CANDIDATE_OBJECTION_ANSWERED: _("答复候选人异议"),
    AuditEvent.CANDIDATE_DISQUALIFIED: _("取消候选人资格"),
    AuditEvent.AWARDED: _("确定中标人"),
    AuditEvent.CONTRACT_RECORDED: _("合同备案"),
    AuditEvent.CONTRACT_OVERDUE: _("合同逾期未签"),
    AuditEvent.EXPERT_RECUSED: _("专家回避"),
    AuditEvent.AWARD_REFUSED: _("拒绝定标"),
    AuditEvent.EXPERT_KEY_REGISTERED: _("登记专家签名密钥"),
    AuditEvent.EXPERT_REPLACED: _("更换评标专家"),
    AuditEvent.REPRESENTATIVE_APPOINTED: _("委派招标人代表"),
    AuditEvent.DRAW_SUPPLEMENT: _("补充抽取评标专家"),
    AuditEvent.DEPOSIT_PAID: _("缴纳保证金"),
    AuditEvent.DEPOSIT_REFUNDED: _("退还保证金"),
    AuditEvent.DEPOSIT_FORFEITED: _("没收保证金"),
    AuditEvent.DEPOSIT_NOTIFICATION_REFUSED: _("拒收到账通知"),
    AuditEvent.DEPOSIT_SAME_PAYER: _("同一账户缴纳保证金"),
    AuditEvent.DEPOSIT_REFUND_OVERDUE: _("保证金逾期未退"),
    AuditEvent.DEPOSIT_LOOKED_UP: _("查询保证金"),
    AuditEvent.DEPOSIT_INTEREST: _("保证金利息"),
    AuditEvent.DEPOSIT_PAYERS_READ: _("查阅缴款人"),
    AuditEvent.DEPOSIT_TERMS_SET: _("设定保证金条款"),
    AuditEvent.RECONCILIATION_RUN: _("对账"),
    AuditEvent.STREAM_EVENT: _("直播事件"),
    AuditEvent.STREAM_CREATED: _("创建直播"),
    AuditEvent.STREAM_CLOSED: _("结束直播"),
    AuditEvent.ALERT_RAISED: _("预警"),
    AuditEvent.ALERT_HANDLED: _("处理预警"),
    AuditEvent.NOTICE_ISSUED: _("发出督办"),
    AuditEvent.NOTICE_ANSWERED: _("答复督办"),
    AuditEvent.OBJECTION_FILED: _("提出异议"),
    AuditEvent.OBJECTION_ANSWERED: _("答复异议"),
    AuditEvent.COMPLAINT_FILED: _("提出投诉"),
    AuditEvent.COMPLAINT_ACCEPTED: _("受理投诉"),
    AuditEvent.COMPLAINT_REJECTED: _("不予受理投诉"),
    AuditEvent.COMPLAINT_DECIDED: _("投诉处理决定"),
    AuditEvent.AWARD_REPORT_FILED: _("提交招标投标情况书面报告"),
    AuditEvent.SALE_SET_UP: _("设立竞价"),
    AuditEvent.SALE_LISTING_STARTED: _("挂牌开始"),
    AuditEvent.SALE_OFFER: _("报价"),
    AuditEvent.SALE_COUNTDOWN_STARTED: _("限时竞价开始"),
    AuditEvent.SALE_FROZEN: _("竞价冻结"),
    AuditEvent.SALE_RESUMED: _("竞价恢复"),
    AuditEvent.SALE_ENDED: _("竞价结束"),
    AuditEvent.SALE_DEPOSIT_TO_PRICE: _("保证金转价款"),
}


def event_label(event: int) -> str:
    """The event's name in the current language; the number alone for one this table does not know."""
    try:
        return str(EVENT_LABELS[AuditEvent(event)])
    except (KeyError, ValueError):
        return str(event)
