"""Layout of the arrays the compiled kernels share (plain int constants: numba folds them).

Everything is int64: the message rows are read through an int64 view of the store's record
array (10 words a row; word 0 packs kind, flag and the bid count), the levels through an
int64 view (price, size). Prices index dense arrays as ``price - PBASE``.
"""

from __future__ import annotations

from typing import Final

# --- message rows viewed as int64[n, 10] (see mmtrio.data.layout.MSG_DTYPE) -----------------------
W_HEAD: Final = 0  # kind (byte 0), flag (byte 1), n_bids (bytes 4..7)
W_LOCAL: Final = 1
W_TS: Final = 2
W_A: Final = 3
W_B: Final = 4
W_C: Final = 5
W_D: Final = 6
W_E: Final = 7
W_START: Final = 8
W_NASKS: Final = 9
MSG_WORDS: Final = 10

NONE: Final = -1
INF: Final = 1 << 62
BUY: Final = 0
SELL: Final = 1

# --- scalar state S[...] --------------------------------------------------------------------------
S_EP: Final = 0  # engine cursor: next row
S_VP: Final = 1  # view cursor: next row
S_NROWS: Final = 2
S_START: Final = 3  # first snapshot row (nothing before it is replayed)
S_E_LAST: Final = 4  # engine: running max exchange time
S_E_LASTAR: Final = 5  # engine: running max arrival (for the run's end)
S_V_LASTE: Final = 6  # view: running max exchange time
S_V_LASTAR: Final = 7  # view: running max arrival
S_OFFSET: Final = 8
S_BASE: Final = 9
S_RECORDED: Final = 10
S_TICKERS: Final = 11  # bookTicker rows reach the strategy
S_NEXT_REQ: Final = 12  # next request due at the venue (Python's queue)
S_PY_AT: Final = 13  # next time Python acts for the strategy (answers, timer)
S_FUND_DUE: Final = 14
S_MID_EVERY: Final = 15
S_NEXT_MID: Final = 16
S_FIRST: Final = 17
S_EBB: Final = 18  # engine best bid index
S_EBA: Final = 19
S_VBB: Final = 20  # view best bid index
S_VBA: Final = 21
S_VSYNC: Final = 22
S_VLAT: Final = 23  # latest market message's feed latency is over the guard's limit
S_MAXLAT: Final = 24
S_D_SYNC: Final = 25  # features at the last decision
S_D_BP: Final = 26
S_D_BQ: Final = 27
S_D_AP: Final = 28
S_D_AQ: Final = 29
S_D_LAT: Final = 30
S_NUPD: Final = 31  # rows written to U
S_NVOUT: Final = 32  # rows written to V
S_NMID: Final = 33  # rows written to M
S_EVENTS: Final = 34  # depth levels of diffs + trades (after sync)
S_GAPS: Final = 35
S_POS: Final = 36
S_NEXT_OID: Final = 37
S_REST_SEQ: Final = 38
S_GRP_SEQ: Final = 39
S_QMODEL: Final = 40  # 0 conservative, 1 probabilistic
S_PBASE: Final = 41
S_RANGE: Final = 42
S_STOP_T: Final = 43
S_STOP_ROW: Final = 44
S_END: Final = 45
S_TAIL: Final = 46
S_SLOTS_HI: Final = 47  # highest order slot ever used + 1
S_V_FIRSTAPP: Final = 48
S_MESSAGES: Final = 49
S_SIZE: Final = 64

# --- stop codes -----------------------------------------------------------------------------------
STOP_DONE: Final = 0
STOP_REQUEST: Final = 1  # a request is due at the venue (S_NEXT_REQ)
STOP_UPDATES: Final = 2  # the engine produced order updates (U) at S_STOP_T
STOP_MARK: Final = 3  # a mark price reached the engine (row S_STOP_ROW, time S_STOP_T)
STOP_FUNDING: Final = 4  # exchange time passed the funding time
STOP_DECIDE: Final = 5  # a strategy burst at S_STOP_T changed a feature
STOP_PYTHON: Final = 6  # the strategy's next answer/timer time S_PY_AT was reached
STOP_FULL: Final = 7  # an output buffer is nearly full: drain and call again

# --- our orders O[slot, ...] ----------------------------------------------------------------------
O_ACTIVE: Final = 0  # open (NEW or PARTIALLY_FILLED)
O_SIDE: Final = 1
O_PRICE: Final = 2
O_QTY: Final = 3
O_CUM: Final = 4
O_AHEAD: Final = 5
O_TIF: Final = 6  # TIF_*
O_RO: Final = 7
O_REST: Final = 8  # time priority (rest sequence) while resting
O_GRP: Final = 9  # the price queue's creation sequence (insertion order of price levels)
O_OID: Final = 10
O_STATUS: Final = 11
O_RESTING: Final = 12
O_CAUSE: Final = 13
O_FIELDS: Final = 16
ORDER_CAP: Final = 1024

TIF_GTC: Final = 0
TIF_IOC: Final = 1
TIF_POST: Final = 2

X_NEW: Final = 0
X_CANCELED: Final = 1
X_EXPIRED: Final = 2
X_TRADE: Final = 3
X_AMENDMENT: Final = 4

ST_NEW: Final = 0
ST_PARTIAL: Final = 1
ST_FILLED: Final = 2
ST_CANCELED: Final = 3
ST_EXPIRED: Final = 4

CAUSE_NONE: Final = 0
CAUSE_SELF_TRADE: Final = 1
CAUSE_IOC: Final = 2
CAUSE_POST_ONLY_AMEND: Final = 3

REJ_OK: Final = 0
REJ_REDUCE_ONLY: Final = 1
REJ_WOULD_TAKE: Final = 2

# --- order updates U[k, ...] ----------------------------------------------------------------------
U_SLOT: Final = 0
U_EXEC: Final = 1
U_STATUS: Final = 2
U_PRICE: Final = 3
U_QTY: Final = 4
U_CUM: Final = 5
U_TS: Final = 6
U_FPX: Final = 7
U_FQTY: Final = 8
U_MAKER: Final = 9
U_OID: Final = 10
U_CAUSE: Final = 11
U_FIELDS: Final = 12
U_CAP: Final = 8192

# --- strategy view output V[k, ...] ---------------------------------------------------------------
V_CODE: Final = 0
V_NOW: Final = 1
V_TS: Final = 2
V_BP: Final = 3
V_BQ: Final = 4
V_AP: Final = 5
V_AQ: Final = 6
V_ROW: Final = 7
V_FIELDS: Final = 8
# A VC_TRADE row carries the trade in the touch's fields, so that Python builds the ``Trade``
# from the row it already holds instead of reading the store's row again.
V_TRADE_ID: Final = V_BP
V_TRADE_PX: Final = V_BQ
V_TRADE_QTY: Final = V_AP
V_TRADE_BUYER_MAKER: Final = V_AQ  # 1 when the buyer was the maker (the aggressor sold)
V_CAP: Final = 65536

VC_TOP: Final = 1  # the strategy book's new touch (a depth-1 snapshot)
VC_TRADE: Final = 2
VC_MARK: Final = 3
VC_INVALID: Final = 4
VC_UNSYNCED: Final = 5  # a delta while the strategy's book awaits a snapshot (no levels)
VC_TICKER: Final = 6
VC_BURST_END: Final = 7  # the burst at V_NOW is complete (apply-only)

# --- engine mid samples M[k, ...] -----------------------------------------------------------------
M_CAP: Final = 65536
