"""Records, op kinds, report kinds and bounds of the sparse L3 order book (:mod:`cns.venue.l3book`).

Units everywhere: prices are integer **ticks** (``price_usd = ticks * tick_size``; for LOBSTER data one tick
is one LOBSTER price unit, USD/10 000), sizes are integer **shares** (lots), times are integer **ns**. Order
ids are ``uint64`` chosen by the caller (the exchange's ids when replaying a feed) and unique within a book.

Every field of :data:`L3_OP_DTYPE` and :data:`L3_EXEC_DTYPE` is 8 bytes wide, so the kernels see a batch as a
plain ``int64[n, k]`` matrix (``ops.view(np.int64).reshape(n, k)``): no record types cross the Numba boundary,
which keeps the per-call dispatch cost low. Report kinds and reject reasons extend the ones of
:mod:`cns.venue.dtypes` (same numbers for the same meaning).
"""

from __future__ import annotations

import numpy as np

from cns.venue.dtypes import (
    EXEC_ACK,
    EXEC_CANCELED,
    EXEC_EXPIRED,
    EXEC_FILL,
    EXEC_PARTIAL,
    EXEC_REJECTED,
    REJECT_BOOK_FULL,
    REJECT_DUPLICATE_ID,
    REJECT_NONE,
    REJECT_PRICE,
    REJECT_QTY,
    REJECT_SIDE,
    REJECT_TYPE,
    REJECT_UNKNOWN_ORDER,
    SIDE_BUY,
    SIDE_SELL,
)

# ---- op kinds (L3_OP_DTYPE.kind) ---------------------------------------------------------------------------
# active ops: the book matches them (price-time priority)
OP_LIMIT = 0  # GTC limit: match what crosses, rest the remainder
OP_MARKET = 1  # match at any price, expire the remainder (price ignored)
OP_IOC = 2  # limit, immediate-or-cancel
OP_CANCEL = 3  # cancel resting `order_id` (owner must match)
OP_FOK = 4  # fill-or-kill: the whole qty at prices up to `price`, atomically, or nothing (REJECT_FOK)
OP_POST_ONLY = 5  # maker-or-cancel: rejected (REJECT_POST_ONLY) if it would cross, else rests
OP_MODIFY = 6  # new `price` / new leaves `qty` of resting `order_id` (owner must match); see the book docs
OP_MARKET_QUOTE = 7  # market order spending (buy) / receiving (sell) up to `quote` quote units; `qty` caps
# passive ops: apply a recorded feed verbatim (the exchange already matched), never match
OP_ADD = 8  # rest `order_id` at `price` x `qty` at the tail of its level, no matching
OP_PMODIFY = 9  # set `order_id` to `price` x `qty` verbatim (same priority rules as OP_MODIFY, no matching)
OP_REDUCE = 10  # partial cancel: take `qty` shares off `order_id`, keeping its priority
OP_DELETE = 11  # remove `order_id` (no owner check)
OP_EXEC = 12  # execution of `qty` shares of resting `order_id` reported by the feed: a maker fill report
OP_PRINT = 13  # a trade print with no visible book effect (hidden / cross trade): an EXEC_PRINT report
OP_NOOP = 14  # nothing (keeps a feed row, e.g. a trading halt, aligned with its book snapshot)
N_OP_KINDS = 15
OP_NAMES: tuple[str, ...] = (
    "limit",
    "market",
    "ioc",
    "cancel",
    "fok",
    "post_only",
    "modify",
    "market_quote",
    "add",
    "pmodify",
    "reduce",
    "delete",
    "exec",
    "print",
    "noop",
)

# ---- self-trade prevention (L3_OP_DTYPE.stp; applies when taker and maker have the same owner) -----------
STP_NONE = 0  # owners may trade with themselves
STP_CANCEL_NEWEST = 1  # the incoming order's remainder is canceled, matching stops
STP_CANCEL_OLDEST = 2  # the resting order is canceled, matching goes on
STP_CANCEL_BOTH = 3  # both canceled, matching stops
STP_DECREMENT = 4  # decrement-and-cancel: both lose min(sizes) without a trade; the smaller is canceled
N_STP_MODES = 5

# ---- report kinds (L3_EXEC_DTYPE.kind): 0..5 as cns.venue.dtypes ------------------------------------------
EXEC_MODIFIED = 6  # a modify was applied (leaves = the new size, price = the new price)
EXEC_PRINT = 7  # a feed trade with no visible resting order (OP_PRINT)

# ---- reject reasons / causes (L3_EXEC_DTYPE.reason): 0..9 as cns.venue.dtypes ------------------------------
REJECT_POST_ONLY = 10  # a post-only order would have crossed
REJECT_FOK = 11  # a fill-or-kill order could not be filled completely
REJECT_STP_MODE = 12  # stp not one of STP_*
REJECT_QUOTE = 13  # quote amount <= 0 or > MAX_QUOTE
REJECT_OWNER = 14  # cancel/modify of an order of another owner
REJECT_EXCEEDS = 15  # a reduce/exec larger than the order's leaves (feed out of sync); book unchanged
REASON_STP = 16  # cause on an EXEC_CANCELED / EXEC_EXPIRED made by self-trade prevention
REASON_NAMES: dict[int, str] = {
    REJECT_NONE: "none",
    REJECT_TYPE: "op_kind",
    REJECT_SIDE: "side",
    REJECT_QTY: "qty",
    REJECT_PRICE: "price",
    REJECT_UNKNOWN_ORDER: "unknown_order",
    REJECT_DUPLICATE_ID: "duplicate_id",
    REJECT_BOOK_FULL: "book_full",
    REJECT_POST_ONLY: "post_only",
    REJECT_FOK: "fok",
    REJECT_STP_MODE: "stp_mode",
    REJECT_QUOTE: "quote",
    REJECT_OWNER: "owner",
    REJECT_EXCEEDS: "exceeds",
    REASON_STP: "stp",
}

# ---- bounds: anything outside is rejected by the kernels (no overflow is possible inside them) -------------
MAX_PRICE = 1 << 42  # ticks (4.4e12): a far-away ask at 1e9 ticks is fine
MAX_QTY = 1 << 40  # shares per order
MAX_QUOTE = 1 << 62  # quote units (ticks x shares)
MAX_ORDERS = 1 << 22  # resting orders per book: MAX_QTY * MAX_ORDERS <= 2**62, level sums never overflow

# LOBSTER's marks for an empty level in its orderbook file (and in the kernels' per-event top-of-book rows)
EMPTY_ASK_PRICE = 9_999_999_999
EMPTY_BID_PRICE = -9_999_999_999

L3_OP_DTYPE = np.dtype(
    [
        ("ts_ns", np.int64),  # event time, ns (copied to the reports; never used for ordering)
        ("order_id", np.uint64),  # the order's id (for cancel/modify/passive ops: the target)
        ("owner", np.int64),  # participant id (self-trade prevention, cancel/modify rights)
        ("kind", np.int64),  # OP_*
        ("side", np.int64),  # SIDE_BUY (1) / SIDE_SELL (-1); ignored by cancel/modify/delete/reduce/exec
        ("price", np.int64),  # ticks (limit, new price of a modify, price of an add/print)
        ("qty", np.int64),  # shares (size, new leaves of a modify, shares reduced/executed)
        ("quote", np.int64),  # OP_MARKET_QUOTE budget in quote units (ticks x shares), else 0
        ("stp", np.int64),  # STP_* of the incoming order
    ]
)
OP_FIELDS = L3_OP_DTYPE.itemsize // 8  # every field is 8 bytes

L3_EXEC_DTYPE = np.dtype(
    [
        ("ts_ns", np.int64),  # time of the op that caused the report, ns
        ("order_id", np.uint64),  # the order the report is about
        ("contra_id", np.uint64),  # fills: the other order; else 0
        ("owner", np.int64),
        ("contra_owner", np.int64),
        ("kind", np.int64),  # EXEC_*
        ("side", np.int64),  # side of `order_id`
        ("price", np.int64),  # ticks: fill price (the maker's level), limit of an ack, level of a cancel
        ("qty", np.int64),  # shares filled (fills), canceled (cancels), expired (expiries)
        ("leaves", np.int64),  # shares still open after the report (OP_MARKET_QUOTE: unspent quote units)
        (
            "reason",
            np.int64,
        ),  # REJECT_* on a reject, REASON_STP / REJECT_BOOK_FULL on a cancel/expiry, else 0
        ("maker", np.int64),  # 1 on the resting order's fill report, else 0
    ]
)
EXEC_FIELDS = L3_EXEC_DTYPE.itemsize // 8

DEPTH_DTYPE = np.dtype([("price", np.int64), ("qty", np.int64), ("orders", np.int64)])
ORDER_VIEW_DTYPE = np.dtype(
    [("side", np.int64), ("price", np.int64), ("order_id", np.uint64), ("owner", np.int64), ("qty", np.int64)]
)

__all__ = [
    "DEPTH_DTYPE",
    "EMPTY_ASK_PRICE",
    "EMPTY_BID_PRICE",
    "EXEC_ACK",
    "EXEC_CANCELED",
    "EXEC_EXPIRED",
    "EXEC_FIELDS",
    "EXEC_FILL",
    "EXEC_MODIFIED",
    "EXEC_PARTIAL",
    "EXEC_PRINT",
    "EXEC_REJECTED",
    "L3_EXEC_DTYPE",
    "L3_OP_DTYPE",
    "MAX_ORDERS",
    "MAX_PRICE",
    "MAX_QTY",
    "MAX_QUOTE",
    "N_OP_KINDS",
    "N_STP_MODES",
    "OP_ADD",
    "OP_CANCEL",
    "OP_DELETE",
    "OP_EXEC",
    "OP_FIELDS",
    "OP_FOK",
    "OP_IOC",
    "OP_LIMIT",
    "OP_MARKET",
    "OP_MARKET_QUOTE",
    "OP_MODIFY",
    "OP_NAMES",
    "OP_NOOP",
    "OP_PMODIFY",
    "OP_POST_ONLY",
    "OP_PRINT",
    "OP_REDUCE",
    "ORDER_VIEW_DTYPE",
    "REASON_NAMES",
    "REASON_STP",
    "REJECT_BOOK_FULL",
    "REJECT_DUPLICATE_ID",
    "REJECT_EXCEEDS",
    "REJECT_FOK",
    "REJECT_NONE",
    "REJECT_OWNER",
    "REJECT_POST_ONLY",
    "REJECT_PRICE",
    "REJECT_QTY",
    "REJECT_QUOTE",
    "REJECT_SIDE",
    "REJECT_STP_MODE",
    "REJECT_TYPE",
    "REJECT_UNKNOWN_ORDER",
    "SIDE_BUY",
    "SIDE_SELL",
    "STP_CANCEL_BOTH",
    "STP_CANCEL_NEWEST",
    "STP_CANCEL_OLDEST",
    "STP_DECREMENT",
    "STP_NONE",
]
