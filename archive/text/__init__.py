"""Text as quote matching sees it.

- `normalize`: a text reduced to its words, with a map back to original offsets;
- `alignment`: every exact, normalized or fuzzy occurrence of a quotation in a text;
- `tokens`: the passage index's words and shingles, computed in bulk.
"""
