"""How much a server may send: the byte bound of each kind of document and the deadline of a request.

Plain data, imported by the readers of local files and mirrors as well as by the HTTP client, so reading
an index from disk never imports requests.
"""

MAX_INDEX_BYTES = 64 << 20  # go.dev's include=all index is ~4 MB; a file or server past this is refused

# The most a real server sends for each kind of document, with room to spare; past it the answer is refused.
DOCUMENT_LIMITS = {
    "index": MAX_INDEX_BYTES,
    "list": 4 << 20,  # a proxy's @v/list
    "info": 64 << 10,  # a proxy's .info (a few hundred bytes)
    "mod": 1 << 20,  # a proxy's .mod
    "lookup": 64 << 10,  # a checksum database lookup: a record and a signed note
    "latest": 16 << 10,  # a signed tree note
    "tile": 1 << 20,  # a hash tile is 8 KiB; a data tile holds 256 records
    "patch": 64 << 20,  # a flavor's patch (TamaGo's is ~1 MB)
}
DOCUMENT_DEADLINE_SECONDS = 120.0  # a whole request, however the server paces its bytes
