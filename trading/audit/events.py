"""Audit event types: ranges per app, never renumbered."""

from enum import IntEnum, unique


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
    # 25x sales (bidding.auction): listing and limited-time bidding
    SALE_SET_UP = 250
    SALE_LISTING_STARTED = 251
    SALE_OFFER = 252
    SALE_COUNTDOWN_STARTED = 253
    SALE_FROZEN = 254
    SALE_RESUMED = 255
    SALE_ENDED = 256
    SALE_DEPOSIT_TO_PRICE = 257


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
    }
)

# Sign-in events name accounts: for officials only.
SIGNIN_EVENTS = frozenset({AuditEvent.SIGNIN, AuditEvent.SIGNIN_FAILED, AuditEvent.SIGNIN_LOCKED})
