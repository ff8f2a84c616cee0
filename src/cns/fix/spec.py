"""FIX 4.4 facts used by the codec and the session: tag numbers, message types, the required tags of each
supported message (the CNS profile of FIX 4.4) and the value formats the codec checks.

The CNS profile is FIX 4.4 as in the FIX 4.4 specification (and QuickFIX's ``FIX44.xml``) with two stricter
rules for order entry: ``Symbol (55)`` and ``OrderQty (38)`` are required on NewOrderSingle, cancel and
cancel/replace (the spec leaves the Instrument and OrderQtyData components without required fields), and
``Price (44)`` is required when ``OrdType (40)`` is limit (2) or stop limit (4). Tags the profile does not
know are accepted and ignored (as QuickFIX with ``AllowUnknownMsgFields=Y``); every tag it knows is checked
for format, and a known tag may appear once unless it belongs to a repeating group.
"""

from __future__ import annotations

import re
from typing import Final

BEGIN_STRING: Final = b"FIX.4.4"
SOH: Final = b"\x01"

# ----------------------------------------------------------------------------------------- tags
BEGIN_STRING_TAG = 8
BODY_LENGTH = 9
CHECKSUM = 10
MSG_TYPE = 35
SENDER_COMP_ID = 49
TARGET_COMP_ID = 56
MSG_SEQ_NUM = 34
SENDING_TIME = 52
POSS_DUP_FLAG = 43
POSS_RESEND = 97
ORIG_SENDING_TIME = 122
SENDER_SUB_ID = 50
TARGET_SUB_ID = 57
ON_BEHALF_OF_COMP_ID = 115
DELIVER_TO_COMP_ID = 128

BEGIN_SEQ_NO = 7
END_SEQ_NO = 16
NEW_SEQ_NO = 36
GAP_FILL_FLAG = 123
REF_SEQ_NUM = 45
REF_TAG_ID = 371
REF_MSG_TYPE = 372
SESSION_REJECT_REASON = 373
TEXT = 58
TEST_REQ_ID = 112
ENCRYPT_METHOD = 98
HEART_BT_INT = 108
RESET_SEQ_NUM_FLAG = 141
USERNAME = 553
PASSWORD = 554

ACCOUNT = 1
AVG_PX = 6
CL_ORD_ID = 11
CUM_QTY = 14
EXEC_ID = 17
LAST_PX = 31
LAST_QTY = 32
ORDER_ID = 37
ORDER_QTY = 38
ORD_STATUS = 39
ORD_TYPE = 40
ORIG_CL_ORD_ID = 41
PRICE = 44
SIDE = 54
SYMBOL = 55
TIME_IN_FORCE = 59
TRANSACT_TIME = 60
STOP_PX = 99
CXL_REJ_REASON = 102
ORD_REJ_REASON = 103
EXEC_TYPE = 150
LEAVES_QTY = 151
CXL_REJ_RESPONSE_TO = 434
MASS_CANCEL_REQUEST_TYPE = 530
MASS_CANCEL_RESPONSE = 531
MASS_CANCEL_REJECT_REASON = 532
TOTAL_AFFECTED_ORDERS = 533
NO_AFFECTED_ORDERS = 534
ORIG_CL_ORD_ID_AFFECTED = 535  # AffectedOrderID
AFFECTED_SECONDARY_ORDER_ID = 536
BUSINESS_REJECT_REASON = 380
BUSINESS_REJECT_REF_ID = 379
MIN_QTY = 110
MAX_FLOOR = 111

#: tags whose values are credentials or identities: :func:`cns.fix.codec.redact` masks them in any text
#: meant for a log
SECRET_TAGS: Final = frozenset(
    {
        SENDER_COMP_ID,
        TARGET_COMP_ID,
        SENDER_SUB_ID,
        TARGET_SUB_ID,
        ON_BEHALF_OF_COMP_ID,
        DELIVER_TO_COMP_ID,
        USERNAME,
        PASSWORD,
    }
)

# ----------------------------------------------------------------------------------------- message types
HEARTBEAT = "0"
TEST_REQUEST = "1"
RESEND_REQUEST = "2"
REJECT = "3"
SEQUENCE_RESET = "4"
LOGOUT = "5"
LOGON = "A"
EXECUTION_REPORT = "8"
ORDER_CANCEL_REJECT = "9"
NEW_ORDER_SINGLE = "D"
ORDER_CANCEL_REQUEST = "F"
ORDER_CANCEL_REPLACE_REQUEST = "G"
BUSINESS_MESSAGE_REJECT = "j"
ORDER_MASS_CANCEL_REQUEST = "q"
ORDER_MASS_CANCEL_REPORT = "r"

#: session (administrative) messages: gap-filled, never resent (as QuickFIX's ``isAdminMsgType``)
ADMIN_TYPES: Final = frozenset(
    {HEARTBEAT, TEST_REQUEST, RESEND_REQUEST, REJECT, SEQUENCE_RESET, LOGOUT, LOGON}
)
APP_TYPES: Final = frozenset(
    {
        EXECUTION_REPORT,
        ORDER_CANCEL_REJECT,
        NEW_ORDER_SINGLE,
        ORDER_CANCEL_REQUEST,
        ORDER_CANCEL_REPLACE_REQUEST,
        BUSINESS_MESSAGE_REJECT,
        ORDER_MASS_CANCEL_REQUEST,
        ORDER_MASS_CANCEL_REPORT,
    }
)
MSG_TYPES: Final = ADMIN_TYPES | APP_TYPES

HEADER_REQUIRED: Final = (SENDER_COMP_ID, TARGET_COMP_ID, MSG_SEQ_NUM, SENDING_TIME)

#: required body tags per message type (FIX 4.4 plus the CNS order-entry profile, see the module doc)
REQUIRED: Final[dict[str, tuple[int, ...]]] = {
    HEARTBEAT: (),
    TEST_REQUEST: (TEST_REQ_ID,),
    RESEND_REQUEST: (BEGIN_SEQ_NO, END_SEQ_NO),
    REJECT: (REF_SEQ_NUM,),
    SEQUENCE_RESET: (NEW_SEQ_NO,),
    LOGOUT: (),
    LOGON: (ENCRYPT_METHOD, HEART_BT_INT),
    NEW_ORDER_SINGLE: (CL_ORD_ID, SYMBOL, SIDE, TRANSACT_TIME, ORDER_QTY, ORD_TYPE),
    ORDER_CANCEL_REQUEST: (ORIG_CL_ORD_ID, CL_ORD_ID, SYMBOL, SIDE, TRANSACT_TIME),
    ORDER_CANCEL_REPLACE_REQUEST: (
        ORIG_CL_ORD_ID,
        CL_ORD_ID,
        SYMBOL,
        SIDE,
        TRANSACT_TIME,
        ORDER_QTY,
        ORD_TYPE,
    ),
    EXECUTION_REPORT: (ORDER_ID, EXEC_ID, EXEC_TYPE, ORD_STATUS, SIDE, LEAVES_QTY, CUM_QTY, AVG_PX),
    ORDER_CANCEL_REJECT: (ORDER_ID, CL_ORD_ID, ORIG_CL_ORD_ID, ORD_STATUS, CXL_REJ_RESPONSE_TO),
    BUSINESS_MESSAGE_REJECT: (REF_MSG_TYPE, BUSINESS_REJECT_REASON),
    ORDER_MASS_CANCEL_REQUEST: (CL_ORD_ID, MASS_CANCEL_REQUEST_TYPE, TRANSACT_TIME),
    ORDER_MASS_CANCEL_REPORT: (ORDER_ID, MASS_CANCEL_REQUEST_TYPE, MASS_CANCEL_RESPONSE),
}

# ----------------------------------------------------------------------------------------- value formats
F_INT, F_SEQ, F_QTY, F_PRICE, F_BOOL, F_CHAR, F_TIME = range(7)

FORMATS: Final[dict[int, int]] = {
    MSG_SEQ_NUM: F_SEQ,
    BEGIN_SEQ_NO: F_SEQ,
    NEW_SEQ_NO: F_SEQ,
    REF_SEQ_NUM: F_INT,
    END_SEQ_NO: F_INT,
    HEART_BT_INT: F_INT,
    ENCRYPT_METHOD: F_INT,
    SESSION_REJECT_REASON: F_INT,
    REF_TAG_ID: F_INT,
    CXL_REJ_REASON: F_INT,
    ORD_REJ_REASON: F_INT,
    BUSINESS_REJECT_REASON: F_INT,
    TOTAL_AFFECTED_ORDERS: F_INT,
    NO_AFFECTED_ORDERS: F_INT,
    MASS_CANCEL_REJECT_REASON: F_INT,
    ORDER_QTY: F_QTY,
    CUM_QTY: F_QTY,
    LEAVES_QTY: F_QTY,
    LAST_QTY: F_QTY,
    MIN_QTY: F_QTY,
    MAX_FLOOR: F_QTY,
    PRICE: F_PRICE,
    LAST_PX: F_PRICE,
    AVG_PX: F_PRICE,
    STOP_PX: F_PRICE,
    POSS_DUP_FLAG: F_BOOL,
    POSS_RESEND: F_BOOL,
    GAP_FILL_FLAG: F_BOOL,
    RESET_SEQ_NUM_FLAG: F_BOOL,
    SIDE: F_CHAR,
    ORD_TYPE: F_CHAR,
    TIME_IN_FORCE: F_CHAR,
    EXEC_TYPE: F_CHAR,
    ORD_STATUS: F_CHAR,
    CXL_REJ_RESPONSE_TO: F_CHAR,
    MASS_CANCEL_REQUEST_TYPE: F_CHAR,
    MASS_CANCEL_RESPONSE: F_CHAR,
    SENDING_TIME: F_TIME,
    ORIG_SENDING_TIME: F_TIME,
    TRANSACT_TIME: F_TIME,
}

#: members of repeating groups the profile accepts more than once (Parties, NoAffectedOrders, ...)
GROUP_TAGS: Final = frozenset({448, 447, 452, 453, 802, 523, 803, 535, 536, 537, 534, 41})

RE_INT: Final = re.compile(rb"-?[0-9]{1,18}\Z")
RE_DECIMAL: Final = re.compile(rb"-?(?:[0-9]{1,15}(?:\.[0-9]{0,12})?|\.[0-9]{1,12})\Z")  # no NaN/Inf/exponent
RE_TIME: Final = re.compile(
    rb"[0-9]{8}-[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{3}(?:[0-9]{3}(?:[0-9]{3})?)?)?\Z"
)

MAX_HEART_BT_INT = 3600  # s; larger Logon values are refused (Reject reason 5, then Logout)

# ----------------------------------------------------------------------------------------- SessionRejectReason (373)
R_INVALID_TAG = 0
R_REQUIRED_MISSING = 1
R_NOT_DEFINED_FOR_TYPE = 2
R_UNDEFINED_TAG = 3
R_NO_VALUE = 4
R_VALUE_INCORRECT = 5
R_BAD_FORMAT = 6
R_COMP_ID = 9
R_SENDING_TIME = 10
R_INVALID_MSG_TYPE = 11
R_REPEATED_TAG = 13
R_OUT_OF_ORDER = 14
R_OTHER = 99

# ExecType (150) / OrdStatus (39) values used by the gateway and the report decoder
EXEC_NEW = b"0"
EXEC_PARTIAL_FILL = b"1"  # FIX 4.2 value, accepted on input
EXEC_FILL = b"2"  # FIX 4.2 value, accepted on input
EXEC_CANCELED = b"4"
EXEC_REPLACED = b"5"
EXEC_REJECTED = b"8"
EXEC_EXPIRED = b"C"
EXEC_TRADE = b"F"
EXEC_ORDER_STATUS = b"I"

ST_NEW = b"0"
ST_PARTIAL = b"1"
ST_FILLED = b"2"
ST_CANCELED = b"4"
ST_REJECTED = b"8"
ST_EXPIRED = b"C"
