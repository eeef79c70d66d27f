"""Quote lookup: where does a passage occur in the archive, and who and what rests on it?

- `run`: the lookup itself, its checks and limits (`lookup`, `MAX_QUERY`, ...);
- `index`: the passage index it reads (chunks of every current text, shingle postings),
  kept in step with every text write;
- `candidates`: from a quotation's shingles to the stretches of text worth aligning, and
  the bounded fallback by words for quotations the index cannot place;
- `regions`: where a quotation's words or shingles cluster in a stretch of text;
- `occurrences`: aligning those stretches, and the spans and claims each occurrence
  carries.

The alignment itself, the normalization it compares and the index's words live in
`archive.text`.
"""
