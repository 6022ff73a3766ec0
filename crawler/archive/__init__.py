"""The archive: every response the crawl receives, kept as the server sent it, in WARC 1.1
files (docs/archive.md).

- ``capture``: one fetch (request + response) and its WARC records, one gzip member each;
- ``writer``: appends captures off the reactor thread, rotates files, writes the index;
- ``middleware``: the downloader middleware that hands every response to the writer;
- ``store``: reads the archive back (index, one capture by one seek, tolerant file scans);
- ``replay``: answers a crawl's downloads from the archive (``ecnews reextract``).
"""
