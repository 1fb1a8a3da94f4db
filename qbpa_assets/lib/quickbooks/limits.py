"""QuickBooks Online's published limits, in one place (DESIGN.md, "Facts about QuickBooks").

The client, the order import and the emulator all read these; none repeats a number.
"""

QUERY_MAX_RESULTS = 1000  # rows per query page (default 100)
REQUESTS_PER_MINUTE = 500  # per company (realm)
MAX_CONCURRENT_REQUESTS = 10  # per company
BATCH_MAX_OPERATIONS = 30  # operations in one batch request
BATCH_REQUESTS_PER_MINUTE = 40
REQUEST_ID_MAX = 50  # characters of a requestid on a single write
BATCH_REQUEST_ID_MAX = 36  # characters of a requestid on a batch request
CDC_MAX_DAYS = 30  # how far back CDC reaches
CDC_MAX_OBJECTS = 1000
DOC_NUMBER_MAX = 21  # characters of a transaction's DocNumber
PRIVATE_NOTE_MAX = 4000
LINE_DESCRIPTION_MAX = 4000
CUSTOMER_MEMO_MAX = 1000  # characters of CustomerMemo (printed on the document)
AMOUNT_DIGITS_BEFORE_POINT = 10  # amounts, prices, quantities: at most 15 digits, 10.5 format
# A 429 window lasts up to a minute: keep backing off at least this long in total.
THROTTLE_MIN_BACKOFF_SECONDS = 90
