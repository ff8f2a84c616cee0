"""Order-entry and execution records exchanged between trading/ and venue/.

Prices in USD (float64), quantities in shares (int64, always positive; the side says the direction),
times in ns since epoch. Instruments are ticker dictionary codes (``uint32``).
"""

from __future__ import annotations

import numpy as np

SIDE_BUY = 1
SIDE_SELL = -1

ORDER_LIMIT = 0
ORDER_MARKET = 1
ORDER_IOC = 2  # limit, immediate-or-cancel
ORDER_CANCEL = 3  # cancels order `target_id`

# execution report kinds
EXEC_ACK = 0
EXEC_FILL = 1  # complete fill of the remaining quantity
EXEC_PARTIAL = 2
EXEC_CANCELED = 3
EXEC_REJECTED = 4
EXEC_EXPIRED = 5  # IOC / market remainder not filled

# reject reasons (EXEC_DTYPE.reason; 0 on every report that is not EXEC_REJECTED)
REJECT_NONE = 0
REJECT_TYPE = 1  # unknown ORDER_* type
REJECT_INSTRUMENT = 2  # instrument code not listed on the venue
REJECT_SIDE = 3  # side is not SIDE_BUY / SIDE_SELL
REJECT_QTY = 4  # qty <= 0
REJECT_PRICE = 5  # limit price not finite or <= 0
REJECT_PRICE_BAND = 6  # limit price outside the instrument's price band
REJECT_UNKNOWN_ORDER = 7  # cancel of an order that is not resting (unknown, filled or already canceled)
REJECT_DUPLICATE_ID = 8  # (owner, order_id) already resting
REJECT_BOOK_FULL = 9  # the venue's order pool is full; the unfilled remainder is not rested
REJECT_SELF_TRADE = 10  # on EXEC_CANCELED: canceled by self-trade prevention (see STP_*), not a reject
REJECT_NAMES: tuple[str, ...] = (
    "none",
    "type",
    "instrument",
    "side",
    "qty",
    "price",
    "price_band",
    "unknown_order",
    "duplicate_id",
    "book_full",
    "self_trade",
)

# liquidity flag of a fill (EXEC_DTYPE.liquidity; 0 on every report that is not a fill)
LIQ_NONE = 0
LIQ_MAKER = 1  # the resting order: added liquidity, pays the maker fee (a rebate when negative)
LIQ_TAKER = 2  # the incoming order: removed liquidity, pays the taker fee

# self-trade prevention: what the book does when an incoming order would match a resting order of the same
# owner (the book's mode, cns.venue.book.allocate_book(stp=...))
STP_NONE = 0  # let them trade (the owner's position does not change; fees are still charged)
STP_CANCEL_NEWEST = 1  # cancel the incoming order's remainder (default); the resting order stays
STP_CANCEL_OLDEST = 2  # cancel the resting order and go on matching
STP_CANCEL_BOTH = 3  # cancel both
STP_NAMES: tuple[str, ...] = ("none", "cancel_newest", "cancel_oldest", "cancel_both")

ORDER_DTYPE = np.dtype(
    [
        ("order_id", np.uint64),
        ("target_id", np.uint64),  # for ORDER_CANCEL: the order to cancel
        ("owner", np.uint32),  # trader id (0 = CNS, others = simulated competitors/background)
        ("instrument", np.uint32),  # ticker dictionary code
        ("side", np.int8),  # SIDE_*
        ("type", np.uint8),  # ORDER_*
        ("qty", np.int64),  # shares
        ("price", np.float64),  # USD limit price (ignored for market orders)
        ("ts_ns", np.int64),  # time the order was sent
        ("news_id", np.uint64),  # the news item that caused it (0 = none)
    ],
    align=True,
)

EXEC_DTYPE = np.dtype(
    [
        ("order_id", np.uint64),
        ("owner", np.uint32),
        ("instrument", np.uint32),
        ("kind", np.uint8),  # EXEC_*
        ("side", np.int8),
        ("reason", np.uint8),  # REJECT_* for EXEC_REJECTED, REJECT_SELF_TRADE for an STP cancel, else 0
        ("liquidity", np.uint8),  # LIQ_MAKER / LIQ_TAKER on a fill, else LIQ_NONE (in former padding)
        ("qty", np.int64),  # shares filled by this report (0 for ack/cancel)
        ("leaves", np.int64),  # shares still open after this report
        ("price", np.float64),  # USD fill price
        ("ts_ns", np.int64),  # venue time of the report
        ("fee", np.float64),  # USD charged for this fill by the venue's fee schedule: > 0 paid, < 0 rebate
    ],
    align=True,
)
