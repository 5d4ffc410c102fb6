"""String operators. Their work is character-level and depends on the strings' lengths,
which shapes do not carry: each is known and reported uncosted with that reason.
TfIdfVectorizer is costed per n-gram lookup."""

from __future__ import annotations

from .. import kinds
from . import Ctx, lowering, uncosted

uncosted("string data: its work depends on the strings' lengths, which shapes do not give",
         "StringConcat", "StringSplit", "StringNormalizer", "RegexFullMatch")


@lowering("TfIdfVectorizer")
def tfidf_vectorizer(c: Ctx):
    """TfIdfVectorizer(X (N, L) or (L,) of tokens): at every position each n-gram length in
    [min_gram_length, max_gram_length] is looked up in the pool, with max_skip_count + 1
    skip distances for n >= 2: one FLOP per lookup (NB: a hash probe counted as one compare);
    modes IDF and TFIDF weight each output count (1 multiply)."""
    lo, hi = int(c.attr("min_gram_length", 1)), int(c.attr("max_gram_length", 1))
    skips = int(c.attr("max_skip_count", 0)) + 1
    per = sum(1 if n == 1 else skips for n in range(lo, hi + 1))
    rows = [(kinds.REDUCE, [c.numel_in(0), c.numel_out(0), per])]
    mode = c.attr("mode", "TF")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    if mode != "TF":
        rows.append((kinds.ELEMENTWISE, [c.numel_out(0), 1, 0, 1]))
    return rows
